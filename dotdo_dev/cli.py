"""`dotdo` / `python -m dotdo_dev`: the developer commands.

dotdo dev [--host H] [--port P]             serve the whole platform locally
dotdo test [pytest args]                    run every test suite (repo, dispatcher, each worker)
dotdo create-service --name N --type T      generate a service from a template
dotdo build WORKER --outdir DIR [--env E]   a worker's upload bundle (what `wrangler deploy` sends)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from dotdo_dev.config import ConfigError
from dotdo_dev.dev_vars import ensure_dev_vars
from dotdo_dev.platform import LocalPlatform, discover_workers, find_repo_root
from dotdo_dev.preflight import StartError


def _dev(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = find_repo_root()
    port = int(args.port if args.port is not None else os.environ.get("PORT", 8787))
    for config in discover_workers(root):
        created = ensure_dev_vars(config.parent)
        if created is not None:
            logging.info(
                "created %s with fresh local secrets (see the README: bootstrap admin key)", created.relative_to(root)
            )
    platform = LocalPlatform(root, host=args.host, port=port, watch=not args.no_reload)
    try:
        asyncio.run(platform.run())
    except (StartError, ConfigError) as exc:
        print(f"dotdo dev: {exc}", file=sys.stderr)  # one line, no traceback: nothing was left running
        return 1
    return 0


def test_suites(root: Path) -> list[Path]:
    """Test folders run as separate pytest sessions: the repo's own, then one per worker.

    Each worker runs alone because, as on Cloudflare, every worker's modules are top-level
    (`entry`, `routes`, ...): two workers' tests cannot share one Python process.
    """
    suites = [root / "tests"]
    for parent in (root / "dispatcher", root / "deploy"):
        if (parent / "tests").is_dir():
            suites.append(parent / "tests")
    suites += sorted(p for p in (root / "workers").glob("*/tests") if p.is_dir())
    return suites


_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")


def _test(args: argparse.Namespace) -> int:
    root = find_repo_root()
    totals = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    failed_suites: list[str] = []
    for suite in test_suites(root):
        name = suite.relative_to(root)
        print(f"\n=== {name} ===", flush=True)
        proc = subprocess.run(  # noqa: S603 - our own interpreter running pytest
            [sys.executable, "-m", "pytest", str(suite), *args.pytest_args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        sys.stdout.write(proc.stdout)
        summary = [line for line in proc.stdout.splitlines() if line.startswith("=") or " passed" in line][-1:]
        for count, kind in _COUNT.findall(summary[0] if summary else ""):
            key = "error" if kind.startswith("error") else ("passed" if kind == "xpassed" else kind)
            if key in totals:
                totals[key] += int(count)
        if proc.returncode not in (0, 5):  # 5: no tests collected
            failed_suites.append(str(name))
    print()
    if failed_suites:
        print("failing suites: " + ", ".join(failed_suites))
    failed = totals["failed"] + totals["error"]
    if failed_suites and failed == 0:
        failed = len(failed_suites)  # a suite that crashed before reporting counts as a failure
    print(f"total: {totals['passed']} passed, {failed} failed, {totals['skipped']} skipped")
    return 1 if failed_suites else 0


def _create_service(args: argparse.Namespace) -> int:
    from dotdo_dev.generator.create_service import CreateServiceError, create_service

    root = find_repo_root()
    try:
        created = create_service(root, name=args.name, kind=args.type, description=args.description)
    except CreateServiceError as exc:
        print(f"create-service: {exc}", file=sys.stderr)
        return 2
    print(f"created {created.relative_to(root)}")
    return 0


def worker_folder(root: Path, name: str) -> Path:
    """A worker's folder from its name (`db`, `dispatcher`) or a path to it."""
    candidates = [Path(name), root / "workers" / name, root / name]
    for folder in candidates:
        if (folder / "wrangler.jsonc").is_file():
            return folder.resolve()
    raise FileNotFoundError(f"no worker named {name!r} (looked for wrangler.jsonc in workers/{name}, {name})")


def _build(args: argparse.Namespace) -> int:
    from dotdo_dev.build import BuildError, build

    root = find_repo_root()
    try:
        folder = worker_folder(root, args.worker)
        bundle = build(root, folder, Path(args.outdir), environment=args.env or None)
    except (BuildError, FileNotFoundError) as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 2
    print(bundle.summary())
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dotdo", description="dotdo workers developer commands")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="serve the whole platform locally")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: $PORT or 8787")
    dev.add_argument("--no-reload", action="store_true", help="do not restart workers when their files change")
    dev.set_defaults(run=_dev)

    test = sub.add_parser("test", help="run every test suite")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(run=_test)

    create = sub.add_parser("create-service", help="generate a service from a template")
    create.add_argument("--name", required=True)
    create.add_argument("--type", default="domain")
    create.add_argument("--description", default=None)
    create.set_defaults(run=_create_service)

    build = sub.add_parser("build", help="build a worker's upload bundle (wrangler deploy --dry-run --outdir)")
    build.add_argument("worker", help="a worker's name (db, gateway, dispatcher, ...) or folder")
    build.add_argument("--outdir", required=True, help="where to write the bundle")
    build.add_argument("--env", default=None, help="a wrangler environment (staging, development)")
    build.set_defaults(run=_build)

    args = parser.parse_args(argv)
    sys.exit(args.run(args))
