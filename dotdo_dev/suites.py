"""`dotdo test`: every test suite, several at once, with one summary.

A suite is one pytest session. Each worker is one (`workers/db`, `dispatcher`): as on Cloudflare a
worker's `src/` is its module root (`entry`, `routes`, ... are top-level), so two workers' tests
cannot share a Python process. The repo's own `tests/` is one suite per folder (`tests/e2e`,
`tests/conformance`, ...), so that its slow parts run beside the rest instead of after it.

Up to `jobs` suites run at once (default: one more than the CPU count), longest first: the durations of the last
full run are kept in `.cache/test-durations.json` (git-ignored); before there is one, a static
guess. The suites of a run share one build cache (`dotdo_dev.build_cache`): a worker's bundle is built
once per run, whichever suite asks first. Each suite's output is captured and printed as one block
when the suite ends (in full if it failed), then a table of the suites and one line of totals. The
exit status is 1 if any suite failed.

`--fast` leaves out the slow suites (`SLOW_SUITES`) and the tests marked `slow`; `--suite` picks
suites (a name, a folder like `tests` or `workers`, or a test file or node id inside one); `-k`
goes to every suite's pytest, and a suite where nothing matches counts as no tests, not a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from dotdo_dev.build_cache import CACHE_ENV
from dotdo_dev.suite_report import REPORT_ENV

#: Suites `--fast` leaves out: real Pyodide and wrangler builds, whole platforms, miniflare.
SLOW_SUITES = frozenset({"tests/conformance", "tests/e2e", "tests/reference"})

#: Seconds a suite is expected to take before a run has measured it (`make test` on a busy 2-core
#: machine, 2026-12-02), in full and with --fast. Only the order matters.
WEIGHTS = {
    "tests/conformance": 560.0,
    "tests/tooling": 280.0,
    "tests/e2e": 140.0,
    "tests/runtime": 60.0,
    "workers/db": 60.0,
    "workers/auth": 40.0,
    "tests/reference": 35.0,
    "tests/shared": 13.0,
}
FAST_WEIGHTS = WEIGHTS | {"tests/runtime": 45.0, "tests/tooling": 14.0}
DEFAULT_WEIGHT = 5.0

DURATIONS_FILE = Path(".cache") / "test-durations.json"
#: pytest's exit status when it collected nothing (here: `-k` or `-m` matched nothing in a suite).
NO_TESTS = 5
COUNT_KEYS = ("passed", "failed", "skipped", "errors")
_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _relative(root: Path | None, target: str) -> str:
    if root is None:
        return target
    path, sep, node = target.partition("::")
    try:
        return str(Path(path).relative_to(root)) + sep + node
    except ValueError:
        return target


class SelectionError(ValueError):
    """A `--suite` that names no suite."""


@dataclass(frozen=True)
class Suite:
    name: str  # `tests/e2e`, `workers/db`, `dispatcher`
    folder: Path  # the folder holding its tests
    slow: bool = False
    #: What pytest is given; empty: the whole folder.
    targets: tuple[str, ...] = ()

    def weight(self, fast: bool = False) -> float:
        """The static guess of its duration, for the order of a first run."""
        return (FAST_WEIGHTS if fast else WEIGHTS).get(self.name, DEFAULT_WEIGHT)

    def args(self, root: Path | None = None) -> list[str]:
        """What pytest is given, relative to `root` where inside it."""
        return [_relative(root, t) for t in self.targets] if self.targets else [_relative(root, str(self.folder))]

    @property
    def whole(self) -> bool:
        return not self.targets


@dataclass
class Outcome:
    suite: Suite
    returncode: int
    output: str
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.returncode not in (0, NO_TESTS)

    @property
    def result(self) -> str:
        if self.failed:
            return "FAILED"
        return "no tests" if self.returncode == NO_TESTS else "passed"


# -- which suites ---------------------------------------------------------------------------------


def discover(root: Path) -> list[Suite]:
    """The repo's suites: each folder of `tests/` with tests in it, the dispatcher, each worker.

    A worker is a folder with a `wrangler.jsonc` (at the top, like `dispatcher/`, or in `workers/`)
    and a `tests/` folder.
    """
    root = root.resolve()
    suites = []
    tests = root / "tests"
    if tests.is_dir():
        if any(tests.glob("test_*.py")):
            suites.append(_suite("tests", tests, targets=tuple(str(p) for p in sorted(tests.glob("test_*.py")))))
        for folder in sorted(p for p in tests.iterdir() if p.is_dir()):
            if folder.name != "fixtures" and not folder.name.startswith((".", "_")) and _has_tests(folder):
                suites.append(_suite(f"tests/{folder.name}", folder))
    for config in sorted(root.glob("*/wrangler.jsonc")):  # a worker at the top: the dispatcher
        if _has_tests(config.parent / "tests"):
            suites.append(_suite(config.parent.name, config.parent / "tests"))
    for folder in sorted((root / "workers").glob("*/tests")):
        if (folder.parent / "wrangler.jsonc").is_file() and _has_tests(folder):
            suites.append(_suite(f"workers/{folder.parent.name}", folder))
    return suites


def _suite(name: str, folder: Path, targets: tuple[str, ...] = ()) -> Suite:
    return Suite(name, folder, slow=name in SLOW_SUITES, targets=targets)


def _has_tests(folder: Path) -> bool:
    return folder.is_dir() and any(
        "python_modules" not in p.parts and "fixtures" not in p.parts for p in folder.rglob("test_*.py")
    )


def select(root: Path, suites: Sequence[Suite], patterns: Iterable[str], *, cwd: Path | None = None) -> list[Suite]:
    """The suites `patterns` name, in `suites`' order.

    A pattern is a suite's name (`workers/db`, `tests/e2e`), its last part (`db`, `e2e`), a folder
    holding suites (`tests`, `workers`), a suite's tests folder, or a file or node id inside one
    (`workers/db/tests/test_things.py::test_x`: that suite, only that).
    """
    root = root.resolve()
    chosen: dict[str, Suite] = {}
    for pattern in patterns:
        matched = _match(root, suites, pattern.strip(), cwd or Path.cwd())
        if not matched:
            names = ", ".join(s.name for s in suites)
            raise SelectionError(f"no test suite matches {pattern!r} (the suites: {names})")
        for suite in matched:
            before = chosen.get(suite.name)
            if before is None:
                chosen[suite.name] = suite
            elif before.whole or suite.whole:
                chosen[suite.name] = replace(suite, targets=())
            else:
                chosen[suite.name] = _merge(before, suite)
    return [chosen[s.name] for s in suites if s.name in chosen]


def _merge(a: Suite, b: Suite) -> Suite:
    return replace(a, targets=tuple(dict.fromkeys(a.targets + b.targets)))


def _match(root: Path, suites: Sequence[Suite], pattern: str, cwd: Path) -> list[Suite]:
    name = pattern.rstrip("/")
    if not name:
        return []
    by_name = [s for s in suites if s.name == name or s.name.startswith(name + "/") or s.name.split("/")[-1] == name]
    if by_name:
        return by_name
    path_part, sep, node = name.partition("::")
    for base in (cwd, root):
        path = (base / path_part).resolve()
        if not path.exists():
            continue
        for suite in suites:
            folder = suite.folder.resolve()
            if path == folder and not sep:
                return [replace(suite, targets=())]
            if folder in path.parents or path == folder:
                return [replace(suite, targets=(str(path) + sep + node,))]
        owner = [s for s in suites if path in s.folder.resolve().parents]
        if owner:  # a folder holding suites: `workers/db` given as a path, or `workers/`
            return [replace(s, targets=()) for s in owner]
    return []


# -- remembered durations -------------------------------------------------------------------------


def load_durations(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def save_durations(path: Path, measured: dict[str, float]) -> None:
    """Merge `measured` into the file, written whole (a reader never sees half of it)."""
    if not measured:
        return
    durations = load_durations(path) | {k: round(v, 1) for k, v in measured.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(dict(sorted(durations.items())), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except OSError:
        pass  # only an ordering hint


def duration_key(suite: Suite, fast: bool) -> str:
    return f"{suite.name} (fast)" if fast else suite.name


def longest_first(suites: Sequence[Suite], durations: dict[str, float], *, fast: bool = False) -> list[Suite]:
    """Longest expected duration first (the last measured one, else the static weight)."""

    def expected(suite: Suite) -> float:
        return durations.get(duration_key(suite, fast), suite.weight(fast))

    return sorted(suites, key=lambda s: (-expected(s), s.name))


# -- running --------------------------------------------------------------------------------------


def pytest_command(
    suite: Suite, pytest_args: Sequence[str], *, root: Path | None = None, fast: bool = False, color: bool = False
) -> list[str]:
    """The pytest command line of one suite (run in `root`)."""
    args = [sys.executable, "-m", "pytest", *suite.args(root), "-p", "dotdo_dev.suite_report"]
    if "no:cacheprovider" not in pytest_args:
        # One cache folder per suite: sessions running at once would overwrite each other's
        # `lastfailed` (pytest writes it in place), and `--lf` would forget failures.
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", suite.name)
        args += ["-o", f"cache_dir=.pytest_cache/suites/{slug}"]
    if fast:
        args += ["-m", "not slow"]  # before the caller's arguments: a -m of theirs wins
    if color and not any(a.startswith("--color") for a in pytest_args):
        args.append("--color=yes")
    return [*args, *pytest_args]


def parse_counts(output: str) -> dict[str, int]:
    """Counts from pytest's last summary line (when the report plugin wrote nothing)."""
    for line in reversed(_ANSI.sub("", output).splitlines()):
        found = _SUMMARY.findall(line)
        if found and (" in " in line or line.startswith("=")):
            counts: dict[str, int] = {}
            for number, kind in found:
                counts[kind] = counts.get(kind, 0) + int(number)
            return counts
    return {}


def normalize(raw: dict[str, int]) -> dict[str, int]:
    """pytest's counts as the summary's four: xpassed counts as passed, xfailed as skipped."""
    return {
        "passed": raw.get("passed", 0) + raw.get("xpassed", 0),
        "failed": raw.get("failed", 0),
        "skipped": raw.get("skipped", 0) + raw.get("xfailed", 0),
        "errors": raw.get("error", 0) + raw.get("errors", 0),
    }


async def run_suite(
    root: Path, suite: Suite, pytest_args: Sequence[str], *, fast: bool, color: bool, report_dir: Path
) -> Outcome:
    report = report_dir / (re.sub(r"[^A-Za-z0-9_.-]+", "-", suite.name) + ".json")
    # The suites of one run share their builds (dotdo_dev.build_cache), unless the caller names a folder.
    env = {**os.environ, REPORT_ENV: str(report), CACHE_ENV: os.environ.get(CACHE_ENV) or str(report_dir / "builds")}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *pytest_command(suite, pytest_args, root=root, fast=fast, color=color),
        cwd=root,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        raw, _ = await proc.communicate()
    except asyncio.CancelledError:
        await _stop(proc)
        raise
    seconds = time.monotonic() - started
    output = raw.decode(errors="replace")
    try:
        counts = json.loads(report.read_text())["counts"]
    except (OSError, ValueError, KeyError, TypeError):
        counts = parse_counts(output)
    outcome = Outcome(suite, proc.returncode if proc.returncode is not None else -1, output, seconds)
    outcome.counts = normalize(counts)
    if outcome.failed and not (outcome.counts["failed"] or outcome.counts["errors"]):
        outcome.counts["errors"] = 1  # it ended before reporting (a crash, an interrupt): one error
    return outcome


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """End an interrupted suite as Ctrl-C would: pytest then tears its fixtures (worker processes) down."""
    for signal_, grace in ((None, 2), (signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 0)):
        if proc.returncode is not None:
            return
        if signal_ is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal_)
        if grace:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), grace)


async def run_all(
    root: Path,
    suites: Sequence[Suite],
    pytest_args: Sequence[str],
    *,
    jobs: int,
    fast: bool = False,
    color: bool = False,
    full_output: bool = False,
    out: TextIO,
    outcomes: list[Outcome] | None = None,
) -> list[Outcome]:
    """Run `suites` (in the order given), at most `jobs` at once; print each one's block as it ends.

    Each outcome is appended to `outcomes` as its suite ends (the caller keeps them if interrupted).
    """
    waiting = list(suites)
    outcomes = [] if outcomes is None else outcomes
    with tempfile.TemporaryDirectory(prefix="dotdo-test-") as tmp:

        async def worker() -> None:
            while waiting:
                suite = waiting.pop(0)
                outcome = await run_suite(root, suite, pytest_args, fast=fast, color=color, report_dir=Path(tmp))
                outcomes.append(outcome)
                print_block(outcome, out, full=full_output)

        await asyncio.gather(*(worker() for _ in range(max(1, min(jobs, len(waiting))))))
    return outcomes


# -- printing -------------------------------------------------------------------------------------


def describe(counts: dict[str, int]) -> str:
    parts = [f"{counts[k]} {k}" for k in COUNT_KEYS if counts.get(k)]
    return ", ".join(parts) or "no tests"


def print_block(outcome: Outcome, out: TextIO, *, full: bool = False) -> None:
    """A suite's block: its header; then its whole output if it failed, else pytest's short summary."""
    suite = outcome.suite
    status = "" if outcome.returncode in (0, NO_TESTS) else f", exit status {outcome.returncode}"
    head = f"=== {suite.name}: {outcome.result} ({describe(outcome.counts)}{status}) in {outcome.seconds:.1f} s"
    print(head + " " + "=" * max(3, 100 - len(head)), file=out)
    output = outcome.output.rstrip("\n")
    if outcome.failed or full:
        print(output, file=out)
        print(f"=== end of {suite.name} " + "=" * max(3, 87 - len(suite.name)), file=out)
    else:
        # skip and xfail reasons (`-ra`): pytest's "short test summary info" up to its last line
        lines = output.splitlines()
        starts = [i for i, line in enumerate(lines) if "short test summary info" in line]
        if starts:
            print("\n".join(lines[starts[-1] + 1 : -1]), file=out)
    out.flush()


def totals(outcomes: Iterable[Outcome]) -> dict[str, int]:
    summed = dict.fromkeys(COUNT_KEYS, 0)
    for outcome in outcomes:
        for key in COUNT_KEYS:
            summed[key] += outcome.counts.get(key, 0)
    return summed


def print_summary(outcomes: Sequence[Outcome], order: Sequence[Suite], wall: float, jobs: int, out: TextIO) -> None:
    """The table of suites (in `order`), then the one line of totals."""
    by_name = {o.suite.name: o for o in outcomes}
    rows = [by_name[s.name] for s in order if s.name in by_name]
    width = max([len("suite"), *(len(o.suite.name) for o in rows)])

    def row(*cells: object) -> str:
        name, result, *numbers = cells
        counts = "".join(f"{n:>9}" for n in numbers)
        return f"{name:<{width}}  {result:<8}{counts}"

    print(file=out)
    print(row("suite", "result", *COUNT_KEYS, "seconds"), file=out)
    for o in rows:
        print(row(o.suite.name, o.result, *(o.counts[k] for k in COUNT_KEYS), f"{o.seconds:.1f}"), file=out)
    t = totals(rows)
    failing = [o.suite.name for o in rows if o.failed]
    line = (
        f"total: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped, {t['errors']} errors "
        f"in {format_seconds(wall)} ({plural(len(rows), 'suite')}, {jobs} at a time)"
    )
    if failing:
        line += "; failing: " + ", ".join(failing)
    print(line, file=out)
    out.flush()


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


# -- the command ----------------------------------------------------------------------------------


def default_jobs() -> int:
    """`$DOTDO_TEST_JOBS`, else one more than the CPU count: the suites wait on processes, servers and sleeps
    for about a quarter of their time, which one more suite fills (on 2 cores, 2026-12-02, the same fresh-clone
    run: 3 at a time 6 min 15 s, 2 at a time 6 min 51 s)."""
    value = os.environ.get("DOTDO_TEST_JOBS", "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    return (os.cpu_count() or 1) + 1


def run(
    root: Path,
    *,
    jobs: int | None = None,
    fast: bool = False,
    patterns: Sequence[str] = (),
    pytest_args: Sequence[str] = (),
    full_output: bool = False,
    list_only: bool = False,
    durations_file: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """`dotdo test`. Returns the exit status: 0, 1 (a suite failed), 2 (bad selection), 5 (no tests ran)."""
    out = out or sys.stdout
    root = root.resolve()
    durations_path = durations_file or root / DURATIONS_FILE
    suites = discover(root)
    try:
        chosen = select(root, suites, patterns) if patterns else suites
    except SelectionError as exc:
        print(f"dotdo test: {exc}", file=sys.stderr)
        return 2
    left_out = []
    if fast:
        # a slow suite stays only if a pattern names it alone (`--fast --suite tests/e2e`)
        named = {m[0].name for p in patterns if len(m := select(root, suites, [p])) == 1}
        left_out = [s.name for s in chosen if s.slow and s.name not in named]
        chosen = [s for s in chosen if s.name not in left_out]
    durations = load_durations(durations_path)
    order = longest_first(chosen, durations, fast=fast)
    if list_only:
        for suite in chosen:
            expected = durations.get(duration_key(suite, fast), suite.weight(fast))
            flag = "  (slow: not in --fast)" if suite.slow else ""
            print(f"{suite.name:<20} {' '.join(suite.args(root)):<36} ~{expected:.0f} s{flag}", file=out)
        return 0
    if not chosen:
        print("dotdo test: no suite to run", file=sys.stderr)
        return 5
    jobs = max(1, jobs or default_jobs())
    running = min(jobs, len(order))
    extra = f" with {shlex.join(pytest_args)}" if pytest_args else ""
    skipped = f"; left out (slow): {', '.join(left_out)}" if left_out else ""
    print(f"dotdo test: {plural(len(order), 'suite')}, {running} at a time{extra}{skipped}", file=out)
    print("  " + ", ".join(s.name for s in order), file=out)
    out.flush()
    color = out.isatty() if hasattr(out, "isatty") else False
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        asyncio.run(
            run_all(
                root,
                order,
                pytest_args,
                jobs=jobs,
                fast=fast,
                color=color,
                full_output=full_output,
                out=out,
                outcomes=outcomes,
            )
        )
    except KeyboardInterrupt:
        print_summary(outcomes, chosen, time.monotonic() - started, running, out)
        print("dotdo test: interrupted; the suites above had ended", file=out)
        return 130
    wall = time.monotonic() - started
    print_summary(outcomes, chosen, wall, running, out)
    if not pytest_args:  # a -k or -x run says nothing about how long a whole suite takes
        save_durations(
            durations_path,
            {duration_key(o.suite, fast): o.seconds for o in outcomes if o.suite.whole and not o.failed},
        )
    if any(o.failed for o in outcomes):
        return 1
    return 0 if sum(totals(outcomes).values()) else NO_TESTS
