"""Build a worker's upload bundle: exactly what `wrangler deploy` would send to Cloudflare.

    bundle = build(repo_root, worker_dir, outdir)       # dotdo build <worker> --outdir DIR

1. `python_modules/` is laid out in the worker folder (git-ignored) by `dotdo_dev.vendor`, as
   `pywrangler sync` lays it out: Pyodide wheels from PyPI, the `workers` SDK, and the worker's
   path dependencies (`shared/` is one: `[tool.uv.sources]` in its pyproject.toml).
2. `wrangler deploy --dry-run --outdir DIR` validates `wrangler.jsonc` and writes the modules it
   would upload: the `.py` files under the main module's folder at the top, and `python_modules/…`
   less what the config's `python_modules.exclude` globs leave out (tests, stubs, `.pyc`, …).
   The bundle *is* that folder: nothing is added to or taken from what wrangler chose.
3. The bundle is measured (raw and gzipped, the sizes wrangler reports) and held to the worker's
   budget (`[tool.dotdo.bundle] max-gzip-mb` in its pyproject.toml) and to Cloudflare's Free plan
   limit of 3 MB; `metadata.json` beside the modules records what the upload's metadata part says.

The conformance suite runs the bundle alone under Pyodide, and the deploy API uploads it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotdo_dev import build_cache, wrangler
from dotdo_dev.config import ConfigError, WorkerConfig, find_config, load_worker
from dotdo_dev.vendor import TARGET, VendorError, vendor, worker_requirements

MIB = 1024 * 1024
#: Cloudflare's Worker size limit on the Free plan, after compression (docs: Workers platform limits).
FREE_PLAN_LIMIT_BYTES = 3 * MIB
#: Files wrangler writes into the outdir that are not uploaded modules.
NOT_MODULES = frozenset({"README.md", "metadata.json"})
_UPLOAD = re.compile(r"Total Upload: ([\d.]+) KiB / gzip: ([\d.]+) KiB")


class BuildError(RuntimeError):
    """The bundle could not be built, or breaks a budget; the message says which and why."""


@dataclass
class Bundle:
    """A built upload bundle: the folder, its modules and their sizes."""

    worker: str
    outdir: Path
    main_module: str
    modules: list[str] = field(default_factory=list)
    raw_bytes: int = 0
    gzip_bytes: int = 0
    budget_bytes: int = FREE_PLAN_LIMIT_BYTES
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_mb(self) -> float:
        return round(self.raw_bytes / MIB, 2)

    @property
    def gzip_mb(self) -> float:
        return round(self.gzip_bytes / MIB, 2)

    def summary(self) -> str:
        return (
            f"{self.worker}: {len(self.modules)} modules, {self.raw_mb:.2f} MB raw, {self.gzip_mb:.2f} MB gzipped "
            f"(budget {self.budget_bytes / MIB:.2f} MB) in {self.outdir}"
        )


def budget_bytes(worker_dir: Path) -> int:
    """The worker's gzipped-size budget from its pyproject.toml, capped by the Free plan limit."""
    pyproject = worker_dir / "pyproject.toml"
    if not pyproject.is_file():
        return FREE_PLAN_LIMIT_BYTES
    with pyproject.open("rb") as fh:
        declared = tomllib.load(fh).get("tool", {}).get("dotdo", {}).get("bundle", {}).get("max-gzip-mb")
    if declared is None:
        return FREE_PLAN_LIMIT_BYTES
    if not isinstance(declared, int | float) or declared <= 0:
        raise BuildError(f"{pyproject}: [tool.dotdo.bundle] max-gzip-mb must be a positive number, not {declared!r}")
    return min(int(declared * MIB), FREE_PLAN_LIMIT_BYTES)


def build(
    repo_root: Path,
    worker_dir: Path,
    outdir: Path,
    *,
    environment: str | None = None,
    cache: Path | None = None,
) -> Bundle:
    """Vendor, run `wrangler deploy --dry-run --outdir`, measure and check. Raises BuildError."""
    worker_dir = worker_dir.resolve()
    config_path = find_config(worker_dir)
    if config_path is None:
        raise BuildError(f"{worker_dir} has no wrangler.jsonc (nor wrangler.json, wrangler.toml): not a worker folder")
    try:
        config = load_worker(config_path, environment=environment)
    except ConfigError as exc:
        raise BuildError(str(exc)) from None
    outdir = _fresh_outdir(outdir.resolve())
    output = _bundle_or_reuse(repo_root, worker_dir, config, outdir, environment, cache)
    bundle = _measure(config, outdir, output)
    bundle.budget_bytes = budget_bytes(worker_dir)
    bundle.metadata = upload_metadata(config, bundle.modules)
    (outdir / "metadata.json").write_text(json.dumps(bundle.metadata, indent=2) + "\n")
    if bundle.gzip_bytes > bundle.budget_bytes:
        limit = "Cloudflare's Free plan limit" if bundle.budget_bytes == FREE_PLAN_LIMIT_BYTES else "its budget"
        raise BuildError(
            f"{config.name}: the bundle is {bundle.gzip_bytes / MIB:.2f} MB gzipped, over {limit} of "
            f"{bundle.budget_bytes / MIB:.2f} MB ({outdir})"
        )
    return bundle


def _bundle_or_reuse(
    repo_root: Path, worker_dir: Path, config: WorkerConfig, outdir: Path, environment: str | None, cache: Path | None
) -> str:
    """Lay out `python_modules/` and have wrangler fill `outdir`, or reuse what a build of the same inputs
    made in this test run (`dotdo_dev.build_cache`). Returns wrangler's output."""
    root = build_cache.cache_root()
    if root is None:
        return _bundle(repo_root, worker_dir, config, outdir, environment, cache)
    try:
        local = list(worker_requirements(worker_dir, repo_root).local.values())
    except VendorError as exc:
        raise BuildError(f"{config.name}: {exc}") from None
    key = build_cache.key_of(repo_root, worker_dir, local, environment)
    with build_cache.locked(root, key):
        entry = build_cache.lookup(root, key)
        if entry is not None:
            return build_cache.restore(entry, worker_dir / TARGET, outdir)
        # The run's wheels, kept beside its builds, serve the builds in every suite's repo copy, one
        # vendoring at a time (pip writes into that folder).
        wheels = None if cache is not None else build_cache.locked(root, "wheels")
        output = _bundle(repo_root, worker_dir, config, outdir, environment, cache or root / "wheels", wheels)
        build_cache.keep(root, key, worker_dir / TARGET, outdir, output)
        return output


def _bundle(
    repo_root: Path,
    worker_dir: Path,
    config: WorkerConfig,
    outdir: Path,
    environment: str | None,
    cache: Path | None,
    wheels_lock: contextlib.AbstractContextManager[None] | None = None,
) -> str:
    """Vendor (holding `wheels_lock`, if given, meanwhile), then `wrangler deploy --dry-run --outdir`.
    Returns wrangler's output."""
    try:
        with wheels_lock or contextlib.nullcontext():
            vendor(worker_dir, repo_root, cache=cache)
    except VendorError as exc:
        raise BuildError(f"{config.name}: {exc}") from None
    result = wrangler.dry_run(repo_root, config.path, outdir, environment=environment)
    if not result.ok:
        raise BuildError(f"wrangler refused {config.path}:\n{result.output[-3000:]}")
    return result.output


def _fresh_outdir(outdir: Path) -> Path:
    """An empty outdir: a previous bundle there is replaced; a folder holding anything else is refused."""
    if outdir.exists():
        if not outdir.is_dir():
            raise BuildError(f"--outdir {outdir} is a file")
        if any(outdir.iterdir()) and not (outdir / "metadata.json").is_file():
            raise BuildError(f"--outdir {outdir} is not empty and holds no previous bundle: choose a new folder")
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)
    return outdir


def modules_in(outdir: Path) -> list[str]:
    """The module names of a built bundle (paths relative to it, as the upload names its parts)."""
    return sorted(
        str(p.relative_to(outdir)) for p in outdir.rglob("*") if p.is_file() and not _not_module(p.relative_to(outdir))
    )


def _not_module(relative: Path) -> bool:
    return len(relative.parts) == 1 and relative.name in NOT_MODULES


def _measure(config: WorkerConfig, outdir: Path, output: str) -> Bundle:
    modules = modules_in(outdir)
    raw = sum((outdir / m).stat().st_size for m in modules)
    match = _UPLOAD.search(output)
    if match:
        gzipped = int(float(match.group(2)) * 1024)
    else:  # wrangler's wording changed: measure the modules ourselves
        gzipped = sum(len(gzip.compress((outdir / m).read_bytes())) for m in modules)
    main = config.main_path.relative_to(config.module_root).as_posix()
    return Bundle(config.name, outdir, main, modules, raw, gzipped)


def upload_metadata(config: WorkerConfig, modules: list[str]) -> dict[str, Any]:
    """The `metadata` part of the multipart upload for this worker (Workers' upload API shapes)."""
    bindings: list[dict[str, Any]] = []
    for name, value in config.vars.items():
        kind = "plain_text" if isinstance(value, str) else "json"
        bindings.append({"type": kind, "name": name, ("text" if kind == "plain_text" else "json"): value})
    bindings += [{"type": "service", "name": s.binding, "service": s.service} for s in config.services]
    bindings += [{"type": "d1", "name": d.binding, "id": d.database_id} for d in config.d1_databases]
    bindings += [{"type": "kv_namespace", "name": k.binding, "namespace_id": k.id} for k in config.kv_namespaces]
    bindings += [{"type": "queue", "name": q.binding, "queue_name": q.queue} for q in config.queue_producers]
    bindings += [
        {"type": "durable_object_namespace", "name": d.name, "class_name": d.class_name}
        | ({"script_name": d.script_name} if d.script_name else {})
        for d in config.durable_objects
    ]
    bindings += [
        {"type": "dispatch_namespace", "name": n.binding, "namespace": n.namespace} for n in config.dispatch_namespaces
    ]
    bindings += [
        {
            "type": "ratelimit",
            "name": r.name,
            "namespace_id": r.namespace_id,
            "simple": {"limit": r.limit, "period": r.period},
        }
        for r in config.ratelimits
    ]
    return {
        "main_module": config.main_path.relative_to(config.module_root).as_posix(),
        "compatibility_date": config.compatibility_date,
        "compatibility_flags": list(config.compatibility_flags),
        "bindings": bindings,
        "modules": [{"name": m, "type": _module_type(m)} for m in modules],
    }


def _module_type(name: str) -> str:
    """The content type wrangler gives a module part (Python modules; vendored files are data)."""
    if name.startswith("python_modules/workers/") and name.endswith((".js", ".mjs")):
        return "application/javascript+module"
    if name.startswith("python_modules/"):
        return "application/octet-stream"
    return "text/x-python" if name.endswith(".py") else "application/octet-stream"
