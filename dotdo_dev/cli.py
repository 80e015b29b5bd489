"""`dotdo` / `python -m dotdo_dev`: the developer commands.

dotdo dev [--host H] [--port P] [--api-port A]   serve the whole platform locally (and Cloudflare API stand-in)
dotdo test [--fast] [--suite S] [-k EXPR] [-j N] [pytest args]   run the test suites, several at once
dotdo create-service --name N --type T      generate a service from a template
dotdo build WORKER --outdir DIR [--env E]   a worker's upload bundle (what `wrangler deploy` sends)
dotdo deploy SVC --env E [--dry-run]        build SVC and post it to the deploy API ($DEPLOY_URL, $DEPLOY_API_KEY)
dotdo deploy-all --env E [--dry-run]        every worker, in service-binding order, stopping at the first failure
dotdo cloudflare-api [--port 8788]          serve the local stand-in for Cloudflare's Workers script API (loopback)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from dotdo_dev.config import ConfigError, find_config
from dotdo_dev.dev_vars import ensure_dev_vars
from dotdo_dev.platform import CLOUDFLARE_API_PORT as API_PORT
from dotdo_dev.platform import LocalPlatform, discover_workers, find_repo_root
from dotdo_dev.preflight import StartError
from dotdo_dev.runtime import loop


def _dev(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    port = int(args.port if args.port is not None else os.environ.get("PORT", 8787))
    alone = find_config(Path(args.worker)) if args.worker else find_config(Path.cwd())
    if args.worker and alone is None:
        print(f"dotdo dev: no wrangler.jsonc, wrangler.json or wrangler.toml in {args.worker}", file=sys.stderr)
        return 2
    if alone is not None:
        return _dev_one(alone, args, port)
    root = find_repo_root()
    for config in discover_workers(root):
        created = ensure_dev_vars(config.parent)
        if created is not None:
            logging.info(
                "created %s with fresh local secrets (see the README: bootstrap admin key)", created.relative_to(root)
            )
    api_port = int(args.api_port if args.api_port is not None else os.environ.get("CLOUDFLARE_API_PORT", API_PORT))
    platform = LocalPlatform(
        root, host=args.host, port=port, watch=not args.no_reload, cloudflare_api_port=api_port or None
    )
    try:
        loop.run(platform.run())
    except (StartError, ConfigError) as exc:
        print(f"dotdo dev: {exc}", file=sys.stderr)  # one line, no traceback: nothing was left running
        return 1
    return 0


#: pytest options whose value is the next argument, which is then no test path of ours to select.
_VALUE_OPTIONS = {"-c", "-m", "-o", "-p", "-W", "--basetemp", "--confcutdir", "--deselect", "--ignore"}
_VALUE_OPTIONS |= {"--ignore-glob", "--junitxml", "--junit-xml", "--rootdir", "--log-file"}


def _dev_one(config_path: Path, args: argparse.Namespace, port: int) -> int:
    """`dotdo dev` in a worker's folder (or `--worker DIR`): that worker alone on the port, as `pywrangler dev`
    serves it: every request goes to it, its own dependencies installed for it, `Ready on <url>` printed once
    it answers. Its state is the repository's `.state` when it is inside the repository, else `<folder>/.state`."""
    from dotdo_dev.config import load_local
    from dotdo_dev.platform import state_dir_for

    try:
        name = load_local(config_path).name
    except ConfigError as exc:
        print(f"dotdo dev: {exc}", file=sys.stderr)
        return 1
    tooling = Path(__file__).resolve().parent.parent  # the dispatcher's routing rules live beside dotdo_dev
    platform = LocalPlatform(
        tooling,
        configs=[config_path],
        state_dir=state_dir_for(config_path.parent),
        host=args.host,
        port=port,
        watch=not args.no_reload,
        cloudflare_api_port=None,
        front_worker=name,
    )
    try:
        loop.run(platform.run())
    except (StartError, ConfigError) as exc:
        print(f"dotdo dev: {exc}", file=sys.stderr)
        return 1
    return 0


def _test(args: argparse.Namespace) -> int:
    from dotdo_dev.suites import run

    root = find_repo_root()
    patterns = [p for chosen in args.suite for p in chosen.split(",") if p.strip()]
    pytest_args: list[str] = []
    extra = list(args.pytest_args)
    if "--" in extra:
        extra.remove("--")  # what follows goes to pytest as it is
    for i, arg in enumerate(extra):
        # A test path (`dotdo test workers/db/tests/test_things.py`) picks its suite, and only that.
        taken_by_option = i > 0 and extra[i - 1] in _VALUE_OPTIONS
        if not arg.startswith("-") and not taken_by_option and _is_test_path(root, arg):
            patterns.append(arg)
        else:
            pytest_args.append(arg)
    if args.k is not None:
        pytest_args += ["-k", args.k]
    return run(
        root,
        jobs=args.jobs,
        fast=args.fast,
        patterns=patterns,
        pytest_args=pytest_args,
        full_output=args.full_output,
        list_only=args.list,
    )


def _is_test_path(root: Path, arg: str) -> bool:
    path = Path(arg.partition("::")[0])
    return path.exists() or (root / path).exists()


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
        if find_config(folder) is not None:
            return folder.resolve()
    raise FileNotFoundError(
        f"no worker named {name!r} (looked for wrangler.jsonc, .json or .toml in workers/{name}, {name})"
    )


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


def _deploy(args: argparse.Namespace) -> int:
    from dotdo_dev.deploy_cli import deploy_all, deploy_one

    root = find_repo_root()
    if args.command == "deploy-all":
        return deploy_all(root, args.env, dry_run=args.dry_run)
    return deploy_one(root, args.service, args.env, dry_run=args.dry_run)


def _cloudflare_api(args: argparse.Namespace) -> int:
    from dotdo_dev.cloudflare_api.serve import run_from_args

    return run_from_args(find_repo_root(), args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dotdo", description="dotdo workers developer commands")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="serve the whole platform locally, or (in a worker's folder) that worker alone")
    dev.add_argument(
        "--worker", help="serve the worker in this folder alone (default: the current folder, if it is one)"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: $PORT or 8787")
    dev.add_argument("--no-reload", action="store_true", help="do not restart workers when their files change")
    dev.add_argument(
        "--api-port",
        type=int,
        default=None,
        help=f"the local Cloudflare API's port (default: $CLOUDFLARE_API_PORT or {API_PORT}; 0: not served)",
    )
    dev.set_defaults(run=_dev)

    test = sub.add_parser(
        "test",
        help="run every test suite, several at once",
        description="Run the test suites (one pytest session each), several at once. Arguments not "
        "listed here go to every suite's pytest (e.g. -x, --lf, -m 'not slow'; all after -- as they are); "
        "a test file or folder picks its suite and runs only that.",
    )
    test.add_argument("-j", "--jobs", type=int, default=None, help="suites at once (default: $DOTDO_TEST_JOBS or CPUs)")
    test.add_argument("--fast", action="store_true", help="leave out the slow suites and the tests marked slow")
    test.add_argument(
        "--suite",
        action="append",
        default=[],
        metavar="S",
        help="only these suites (repeatable or comma-separated): workers/db, db, tests, tests/e2e/test_users.py",
    )
    test.add_argument("-k", default=None, metavar="EXPR", help="only tests matching EXPR (pytest -k, in every suite)")
    test.add_argument("--list", action="store_true", help="list the suites and exit")
    test.add_argument("--full-output", action="store_true", help="print every suite's whole output, not only failures")
    test.set_defaults(run=_test, pytest_args=[])

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

    deploy = sub.add_parser("deploy", help="build a service and post it to the deploy API")
    deploy.add_argument("service", help="a worker's name (db, gateway, dispatcher, a generated service)")
    deploy_all = sub.add_parser("deploy-all", help="deploy every worker in service-binding order")
    for command in (deploy, deploy_all):
        command.add_argument("--env", required=True, help="the environment (production, staging, development)")
        command.add_argument("--dry-run", action="store_true", help="print what would be uploaded, send nothing")
        command.set_defaults(run=_deploy)

    from dotdo_dev.cloudflare_api.serve import add_arguments

    cloudflare = sub.add_parser("cloudflare-api", help="serve the local stand-in for Cloudflare's script API")
    add_arguments(cloudflare)
    cloudflare.set_defaults(run=_cloudflare_api)

    from dotdo_dev import d1_cli

    d1_cli.add_parser(sub)

    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if args.command != "test":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.pytest_args = unknown  # pytest's own options (and test paths), for every suite
    from dotdo_dev.d1_cli import D1CommandError

    try:
        sys.exit(args.run(args))
    except D1CommandError as exc:
        print(f"dotdo {args.command}: {exc}", file=sys.stderr)
        sys.exit(1)
