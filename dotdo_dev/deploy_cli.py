"""`dotdo deploy <svc> --env E [--dry-run]` and `dotdo deploy-all --env E [--dry-run]`.

Each service is built with `dotdo_dev.build.build` into a temporary folder, packed as a tar.gz and
posted to the deploy API (never to Cloudflare: its token lives only in the deploy worker):

    POST {DEPLOY_URL}/deploy                       Authorization: Bearer $DEPLOY_API_KEY
    multipart/form-data:
      metadata  application/json   {"service", "environment", "version", "commit", "branch", "author"}
      bundle    application/gzip   <service>.tar.gz: the bundle folder's files (modules, metadata.json)

`DEPLOY_URL` defaults to https://deploy.do. commit/branch/author come from GitHub Actions'
GITHUB_SHA / GITHUB_REF_NAME / GITHUB_ACTOR when set, else from git; version is `DEPLOY_VERSION` or
the worker's pyproject version with the commit (`0.1.0+8f43363a1b2c`). `--dry-run` builds and prints
what would be uploaded, and sends nothing (no key needed). The key is never printed.

Exit codes: 0 deployed; 1 the API refused (`deploy: <code>: <message>`), could not be reached, or
the build failed; 2 usage (no DEPLOY_API_KEY, unknown service, no deployment order).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from dotdo_dev.build import BuildError, build
from dotdo_dev.cloudflare_api import PLATFORM_WORKERS
from dotdo_dev.config import ConfigError, load_worker
from dotdo_dev.deploy_order import DeployOrderError, deploy_order
from dotdo_dev.platform import discover_workers

DEFAULT_DEPLOY_URL = "https://deploy.do"
TIMEOUT_SECONDS = 120.0
#: What wrangler writes into the bundle folder besides the modules and is not sent (metadata.json is).
NOT_UPLOADED = frozenset({"README.md"})

Print = Callable[[str], None]


class DeployError(RuntimeError):
    """A deployment that did not happen; `exit_code` is what the command exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _stdout(line: str) -> None:
    print(line, flush=True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _git(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as every developer runs it
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def git_facts(root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """commit, branch and author: GitHub Actions' variables first, then the local git checkout."""
    commit = environ.get("GITHUB_SHA") or _git(root, "rev-parse", "HEAD") or "unknown"
    branch = environ.get("GITHUB_REF_NAME") or _git(root, "rev-parse", "--abbrev-ref", "HEAD") or "unknown"
    author = environ.get("GITHUB_ACTOR") or _git(root, "log", "-1", "--format=%an <%ae>") or "unknown"
    return {"commit": commit, "branch": branch, "author": author}


def worker_version(folder: Path) -> str:
    """The `[project] version` of the worker's pyproject.toml (0.0.0 without one)."""
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as fh:
            version = tomllib.load(fh).get("project", {}).get("version")
        if isinstance(version, str) and version:
            return version
    return "0.0.0"


def deploy_metadata(
    service: str, environment: str, folder: Path, facts: dict[str, str], environ: Mapping[str, str]
) -> dict[str, str]:
    """The `metadata` part: what the deploy API records about this deployment."""
    version = environ.get("DEPLOY_VERSION")
    if not version:
        version = worker_version(folder)
        if facts["commit"] != "unknown":
            version = f"{version}+{facts['commit'][:12]}"
    return {"service": service, "environment": environment, "version": version, **facts}


#: What an API key may hold: printable ASCII without spaces (auth's keys are `sk_<env>_<id>_<secret>`).
_KEY = re.compile(r"[!-~]{1,512}")


def _environments(folder: Path) -> list[str] | None:
    """The `env` blocks a worker's wrangler.jsonc declares (None if it cannot be read: the build says why)."""
    try:
        envs = load_worker(folder / "wrangler.jsonc").raw.get("env")
    except ConfigError:
        return None
    return list(envs) if isinstance(envs, dict) else []


def config_environment(environment: str) -> str | None:
    """The `env` block of wrangler.jsonc an environment builds with: production is the top level."""
    return None if environment == "production" else environment


def pack(outdir: Path) -> tuple[bytes, list[tuple[str, int]]]:
    """The bundle folder as a reproducible tar.gz (sorted names, no times or owners) and its files with sizes.

    It holds the modules at their upload names and `metadata.json` (main module, flags, bindings).
    """
    files = sorted(
        (p.relative_to(outdir).as_posix(), p)
        for p in outdir.rglob("*")
        if p.is_file() and p.relative_to(outdir).as_posix() not in NOT_UPLOADED
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        for name, path in files:
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), [(name, path.stat().st_size) for name, path in files]


def _error_line(response: httpx.Response) -> str:
    """`deploy: <code>: <message>` from the API's error envelope (or the status when it sent none)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return f"deploy: {error.get('code') or response.status_code}: {error['message']}"
    text = " ".join(response.text.split())[:200]
    return f"deploy: HTTP_{response.status_code}: {text or response.reason_phrase}"


def post_bundle(client: httpx.Client, url: str, key: str, metadata: dict[str, str], archive: bytes) -> dict[str, Any]:
    """POST the multipart upload; the deployment record on 201, else DeployError with the API's error."""
    files = {
        "metadata": (None, json.dumps(metadata), "application/json"),
        "bundle": (f"{metadata['service']}.tar.gz", archive, "application/gzip"),
    }
    try:
        response = client.post(
            f"{url.rstrip('/')}/deploy",
            files=files,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise DeployError(f"deploy: UNREACHABLE: {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code not in (200, 201):
        raise DeployError(_error_line(response))
    try:
        body = response.json()
    except ValueError:
        body = {}
    record = body.get("data", body) if isinstance(body, dict) else {}
    return record if isinstance(record, dict) else {}


class Deployer:
    """Builds and posts services for one environment; output goes through `out` / `err`, key scrubbed."""

    def __init__(
        self,
        root: Path,
        environment: str,
        *,
        dry_run: bool = False,
        environ: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        out: Print = _stdout,
        err: Print = _stderr,
    ) -> None:
        self.root = root
        self.environment = environment
        self.dry_run = dry_run
        self.environ = dict(os.environ if environ is None else environ)
        self.url = self.environ.get("DEPLOY_URL") or DEFAULT_DEPLOY_URL
        self.key = self.environ.get("DEPLOY_API_KEY", "")
        self._client = client
        self._out, self._err = out, err

    def _scrub(self, line: str) -> str:
        return line.replace(self.key, "***") if self.key else line

    def out(self, line: str) -> None:
        self._out(self._scrub(line))

    def err(self, line: str) -> None:
        self._err(self._scrub(line))

    def check_key(self) -> None:
        if self.dry_run:
            return
        if not self.key:
            raise DeployError(
                "deploy: DEPLOY_API_KEY is not set (a deploy API key holding `deploy`; --dry-run needs none)", 2
            )
        if not _KEY.fullmatch(self.key):  # a header could not carry it, and an error would echo it
            raise DeployError(
                "deploy: DEPLOY_API_KEY is not one API key (it holds spaces, line breaks or other characters "
                "no key has; the value is not shown)",
                2,
            )

    def deploy(self, service: str, folder: Path) -> dict[str, Any]:
        """Build `folder` and post it as `service`; the deployment record (or the dry run's metadata)."""
        block, declared = config_environment(self.environment), _environments(folder)
        if block is not None and declared is not None and block not in declared:
            raise DeployError(
                f"deploy: NO_ENVIRONMENT: {service}'s wrangler.jsonc has no env.{block} block to build "
                f"{self.environment} from (production builds from the top level)",
                2,
            )
        facts = git_facts(self.root, self.environ)
        metadata = deploy_metadata(service, self.environment, folder, facts, self.environ)
        with tempfile.TemporaryDirectory(prefix=f"dotdo-deploy-{service}-") as tmp:
            try:
                bundle = build(
                    self.root, folder, Path(tmp) / "bundle", environment=config_environment(self.environment)
                )
            except BuildError as exc:
                raise DeployError(f"deploy: BUILD_FAILED: {service}: {exc}") from None
            archive, files = pack(bundle.outdir)
        if self.dry_run:
            self.out(f"dry run: would POST {self.url.rstrip('/')}/deploy (nothing sent)")
            self.out(f"metadata: {json.dumps(metadata, sort_keys=True)}")
            raw = sum(size for _, size in files)
            self.out(f"bundle: {service}.tar.gz, {len(files)} files, {raw} bytes raw, {len(archive)} bytes gzipped:")
            for name, size in files:
                self.out(f"  {size:>10}  {name}")
            return metadata
        self.out(f"deploying {service} to {self.environment}: {metadata['version']} ({len(archive)} bytes) ...")
        client = self._client or httpx.Client(timeout=TIMEOUT_SECONDS)
        try:
            record = post_bundle(client, self.url, self.key, metadata, archive)
        finally:
            if self._client is None:
                client.close()
        deployment = record.get("id") or record.get("deployment_id") or "?"
        self.out(f"deployed {service} to {self.environment}: deployment {deployment}, version {metadata['version']}")
        return record


def _folder(root: Path, service: str) -> Path:
    """The folder of the worker named `service` (its wrangler.jsonc `name`, or its folder's name)."""
    for path in discover_workers(root):
        try:
            name = load_worker(path).name
        except ConfigError:
            name = path.parent.name
        if service in (name, path.parent.name):
            return path.parent
    for folder in (root / "workers" / service, root / service):
        if (folder / "wrangler.jsonc").is_file():
            return folder
    raise DeployError(f"deploy: no service named {service!r} (no workers/{service}/wrangler.jsonc)", 2)


def deploy_one(root: Path, service: str, environment: str, *, dry_run: bool = False, **kwargs: Any) -> int:
    """`dotdo deploy <service>`: the exit code."""
    deployer = Deployer(root, environment, dry_run=dry_run, **kwargs)
    try:
        deployer.check_key()
        deployer.deploy(service, _folder(root, service))
    except DeployError as exc:
        deployer.err(str(exc))
        return exc.exit_code
    return 0


def deploy_all(root: Path, environment: str, *, dry_run: bool = False, **kwargs: Any) -> int:
    """`dotdo deploy-all`: every service of the dispatch namespace in deployment order, stopping at the first
    failure. The platform's own workers are account-level (docs/architecture.md): named, not posted."""
    deployer = Deployer(root, environment, dry_run=dry_run, **kwargs)
    try:
        deployer.check_key()
        workers = deploy_order(discover_workers(root), environment=config_environment(environment))
    except DeployOrderError as exc:
        deployer.err(f"deploy: ORDER: {exc}")
        return 2
    except DeployError as exc:
        deployer.err(str(exc))
        return exc.exit_code
    account_level = [w.name for w in workers if w.name in PLATFORM_WORKERS]
    workers = [w for w in workers if w.name not in PLATFORM_WORKERS]
    if account_level:
        deployer.out(
            f"skipped (account-level platform workers, deployed with wrangler, not the deploy API): "
            f"{', '.join(account_level)}"
        )
    if not workers:
        deployer.out(f"nothing to deploy to {environment}: no service of the dispatch namespace in this repository")
        return 0
    deployer.out(f"deploy order ({environment}): {' -> '.join(w.name for w in workers)}")
    for worker in workers:
        try:
            deployer.deploy(worker.name, worker.folder)
        except DeployError as exc:
            deployer.err(str(exc))
            deployer.err(f"deploy-all: stopped at {worker.name}; not deployed: {_after(workers, worker.name)}")
            return exc.exit_code
    return 0


def _after(workers: list[Any], name: str) -> str:
    names = [w.name for w in workers]
    rest = names[names.index(name) + 1 :]
    return ", ".join(rest) or "none"
