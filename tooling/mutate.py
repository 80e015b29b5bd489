"""Mutation testing with cosmic-ray: each target module against its own fast test subset.

    .venv/bin/python tooling/mutate.py                              # every target, in TARGETS order
    .venv/bin/python tooling/mutate.py workers/gateway/src/gateway.py   # one (or several)
    make mutate [TARGET=<path>]

Each worker's tests need a pytest process of their own (the worker's `src/` is the module root,
`dotdo_dev.testing.worker_root`), so every target names the test command that covers it. The
mutants are made in a scratch copy of the work tree, never in it: cosmic-ray rewrites the module
on disk for each mutant, and other people's test runs must not import a mutant. The copy's
`shared/` and `dotdo_dev/` come first on the path (`python -m pytest` runs from the copy).

Prints, per target, killed / total and the surviving mutants as diffs; exits 1 if a target's tests
fail before any mutation (a red baseline scores nothing), else 0. Scores: docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# target module -> the tests that cover it (a few seconds each; run from the copy's root)
TARGETS: dict[str, list[str]] = {
    "workers/gateway/src/routing.py": ["workers/gateway/tests"],
    "workers/gateway/src/gateway.py": ["workers/gateway/tests"],
    "workers/gateway/src/rate_limiter.py": ["workers/gateway/tests"],
    "shared/validation.py": ["tests/shared/test_validation.py", "tests/shared/test_validation_boundaries.py"],
    "shared/errors.py": ["tests/shared"],
    "shared/records.py": ["tests/shared/test_records.py", "tests/shared/test_records_edges.py"],
    "shared/storage.py": ["tests/shared/test_storage.py", "tests/shared/test_storage_edges.py"],
    "shared/middleware/access_log.py": ["tests/shared/middleware"],
    "shared/middleware/authentication.py": ["tests/shared/middleware"],
    "shared/middleware/cors.py": ["tests/shared/middleware"],
    "shared/middleware/errors.py": ["tests/shared/middleware"],
    "shared/middleware/request_id.py": ["tests/shared/middleware"],
    "workers/auth/src/api_keys.py": [
        "workers/auth/tests/test_api_keys.py",
        "workers/auth/tests/test_api_key_times.py",
        "workers/auth/tests/test_api_key_edges.py",
        "workers/auth/tests/test_bootstrap.py",
        "workers/auth/tests/test_users.py",
    ],
    "workers/auth/src/tokens.py": ["workers/auth/tests/test_tokens.py", "workers/auth/tests/test_tokens_edges.py"],
    "workers/db/src/admin_sql.py": [
        "workers/db/tests/test_admin_sql.py",
        "workers/db/tests/test_admin_sql_protection.py",
        "workers/db/tests/test_admin_sql_edges.py",
    ],
    "dotdo_dev/runtime/bindings/queues.py": ["tests/runtime/test_queues.py", "-m", "not slow"],
}

# Mutations left out as noise: a binary operator turned into a bit, shift, power or modulo operator
# (Add -> Sub/Mul/Div stay); `|` turned into anything (in these modules it is the `X | None` of type
# annotations, never evaluated under `from __future__ import annotations`); `==` turned into `is`;
# and the operators that insert or swap variable names at random.
EXCLUDED_OPERATORS = [
    r"core/ReplaceBinaryOperator_BitOr_",
    r"core/ReplaceBinaryOperator_\w+_(Pow|RShift|LShift|BitOr|BitAnd|BitXor|Mod|FloorDiv)$",
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE|In|NotIn)_(Is|IsNot)$",
    r"core/VariableInserter",
    r"core/VariableReplacer",
]
TIMEOUT_SECONDS = 60.0
COPY_SKIP = {".git", ".venv", "node_modules", ".state", "python_modules", "__pycache__", ".ruff_cache", "dist"}


def scratch_copy(dest: Path) -> None:
    """The work tree as it is now (tracked and untracked files, not ignored ones), under `dest`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        rel = Path(raw.decode())
        if COPY_SKIP.intersection(rel.parts) or not (ROOT / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)


def test_command(tests: list[str]) -> str:
    args = [str(BIN / "python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    return shlex.join(args)


def write_config(path: Path, module: str, tests: list[str]) -> None:
    lines = [
        "[cosmic-ray]",
        f"module-path = {json.dumps(module)}",
        f"timeout = {TIMEOUT_SECONDS}",
        "excluded-modules = []",
        f"test-command = {json.dumps(test_command(tests))}",
        "",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "",
        "[cosmic-ray.filters.operators-filter]",
        f"exclude-operators = {json.dumps(EXCLUDED_OPERATORS)}",
        "",
    ]
    path.write_text("\n".join(lines))


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, check=False, capture_output=True, text=True)  # noqa: S603


def results(session: Path, cwd: Path) -> list[tuple[dict, dict]]:
    dumped = run([str(BIN / "cosmic-ray"), "dump", str(session)], cwd)
    pairs = [json.loads(line) for line in dumped.stdout.splitlines() if line.strip()]
    return [(item, result or {}) for item, result in pairs]


def mutate(module: str, copy: Path, out: Path) -> dict[str, object]:
    tests = TARGETS[module]
    name = module.replace("/", "_").removesuffix(".py")
    config, session = out / f"{name}.toml", out / f"{name}.sqlite"
    write_config(config, module, tests)
    started = time.monotonic()
    baseline = run(shlex.split(test_command(tests)), copy)
    if baseline.returncode != 0:
        print(f"{module}: its tests fail before any mutation:\n{baseline.stdout[-2000:]}", flush=True)
        return {"module": module, "error": "baseline failed"}
    for step in (
        [str(BIN / "cosmic-ray"), "init", str(config), str(session), "--force"],
        [str(BIN / "cr-filter-operators"), str(session), str(config)],
        [str(BIN / "cosmic-ray"), "exec", str(config), str(session)],
    ):
        done = run(step, copy)
        if done.returncode != 0:
            print(f"{module}: {shlex.join(step)} failed:\n{done.stderr[-2000:]}", flush=True)
            return {"module": module, "error": "cosmic-ray failed"}
    outcomes = {"killed": 0, "survived": 0, "skipped": 0, "incompetent": 0}
    survivors = []
    for item, result in results(session, copy):
        worker, test = result.get("worker_outcome"), result.get("test_outcome")
        if worker == "skipped":
            outcomes["skipped"] += 1
        elif worker in ("exception", "abnormal") or test == "incompetent":
            outcomes["incompetent"] += 1  # the mutant could not even be made or imported: not counted
        elif test == "survived":
            outcomes["survived"] += 1
            survivors.append((item, result))
        else:
            outcomes["killed"] += 1
    total = outcomes["killed"] + outcomes["survived"]
    seconds = time.monotonic() - started
    print(f"\n=== {module}: {outcomes['killed']} / {total} killed ({seconds:.0f} s) ===", flush=True)
    for item, result in survivors:
        mutation = item["mutations"][0]
        changed = [line for line in result.get("diff", "").splitlines() if line[:1] in "-+" and line[1:2] not in "-+"]
        print(f"survived: line {mutation['start_pos'][0]} {mutation['operator_name'].removeprefix('core/')}")
        print("\n".join(f"    {line}" for line in changed))
    return {"module": module, **outcomes, "total": total, "seconds": round(seconds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="modules to mutate (default: every one in TARGETS)")
    parser.add_argument("--keep", type=Path, help="keep the sessions and configs in this folder")
    args = parser.parse_args(argv)
    targets = [str(Path(t)) for t in args.targets] or list(TARGETS)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"no test subset is known for {unknown}; targets: {list(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="dotdo-mutate-") as scratch:
        copy = Path(scratch) / "tree"
        scratch_copy(copy)
        out = args.keep.resolve() if args.keep else Path(scratch) / "sessions"
        out.mkdir(parents=True, exist_ok=True)
        summary = [mutate(module, copy, out) for module in targets]
    print("\nmodule                                        killed / total")
    failed = False
    for row in summary:
        if "error" in row:
            failed = True
            print(f"{row['module']:<45} {row['error']}")
        else:
            print(f"{row['module']:<45} {row['killed']:>6} / {row['total']}")
    scored = [r for r in summary if "error" not in r]
    killed, total = sum(r["killed"] for r in scored), sum(r["total"] for r in scored)
    if total:
        print(f"{'overall':<45} {killed:>6} / {total} ({100 * killed / total:.0f} %)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
