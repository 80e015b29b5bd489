"""Vendor a worker's Python dependencies for Pyodide, the way `pywrangler sync` lays them out.

    python_modules = vendor(worker_dir)      # <worker>/python_modules/, git-ignored

Cloudflare's runtime imports a worker's dependencies from `python_modules/` beside `src/`, and at
this compatibility date it expects the `workers` SDK itself to be vendored there. `pywrangler sync`
downloads a Pyodide interpreter to resolve them, which cannot be done offline; pip can, by asking
PyPI for wheels of Pyodide's platform or pure ones. The platform and Python come from the worker's
compatibility date and flags (`dotdo_dev.compat`, pywrangler's rule: `pyemscripten_2026_0_wasm32`
and CPython 3.14 from 2026-09-08).
Versions are pinned by the repo's `constraints.txt`, so the bundle carries what the tests ran. The
wheel cache (`.cache/pyodide-wheels`) is resolved offline first; PyPI is asked only when it lacks a pin.

What a worker needs: its `pyproject.toml` `[project.dependencies]`, plus the SDK. A dependency with a local path source
(`[tool.uv.sources] dotdo-shared = { path = "../../shared" }`, the way workers bundle `shared/`) is
built into a wheel from that folder, as uv builds it for `pywrangler sync`, and installed like any other.
A path source also satisfies the PyPI dependencies' requirements of its project, as uv resolves it: the email
worker's `markupsafe = { path = "vendor/markupsafe" }` (MarkupSafe's pure-Python part; PyPI has no wheel of
it for Pyodide) is what jinja2's `MarkupSafe>=2.0` gets, never a build from the index.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dotdo_dev.compat import PYTHON_314, PythonRuntime, python_runtime

SDK_REQUIREMENT = "workers-runtime-sdk==1.9.5"
TARGET = "python_modules"


class VendorError(RuntimeError):
    """A dependency that cannot be vendored for Pyodide; the message names it."""


@dataclass(frozen=True)
class Requirements:
    """What a worker vendors: requirements from PyPI (the SDK included) and local path sources."""

    index: list[str]
    local: dict[str, Path]


def _name(requirement: str) -> str:
    """The project name of a requirement string (`dotdo-shared[x]>=1` -> `dotdo-shared`), normalised."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement.strip().lower()


def worker_requirements(worker_dir: Path, repo_root: Path) -> Requirements:
    """The worker's dependencies from its pyproject.toml (`[project.dependencies]`), plus the SDK.

    A dependency named in `[tool.uv.sources]` with a `path` is a local source (resolved against the
    worker folder). A worker without a pyproject.toml gets the SDK alone: pywrangler would vendor
    nothing for it, and Cloudflare refuses a Python Worker without the SDK in `python_modules/`.
    """
    own = worker_dir / "pyproject.toml"
    declared: list[str] = []
    paths: dict[str, Path] = {}
    if own.is_file():
        with own.open("rb") as fh:
            data = tomllib.load(fh)
        declared = data.get("project", {}).get("dependencies", [])
        sources = data.get("tool", {}).get("uv", {}).get("sources", {})
        paths = {_name(k): (worker_dir / v["path"]).resolve() for k, v in sources.items() if "path" in v}
    index = [r for r in declared if _name(r) not in paths and _name(r) != "workers-runtime-sdk"]
    local = {_name(r): paths[_name(r)] for r in declared if _name(r) in paths}
    for name, folder in local.items():
        if not (folder / "pyproject.toml").is_file():
            raise VendorError(f"{worker_dir.name}: the path source of {name} ({folder}) has no pyproject.toml")
    return Requirements(index=[*index, SDK_REQUIREMENT], local=local)


def requirements_for(worker_dir: Path, repo_root: Path) -> list[str]:
    """The requirements a worker takes from PyPI (its local path sources left out), plus the SDK."""
    return worker_requirements(worker_dir, repo_root).index


def build_local(source: Path, cache: Path) -> Path:
    """A wheel of the local project at `source`, as uv builds a path source (cached by content).

    The folder is copied first, so that the build leaves nothing behind in the repo.
    """
    files = sorted(p for p in source.rglob("*") if p.is_file() and not _build_litter(p.relative_to(source)))
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    out = cache / "local" / digest.hexdigest()[:16]
    built = sorted(out.glob("*.whl"))
    if built:
        return built[0]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / source.name
        for path in files:
            (copy / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy / path.relative_to(source))
        result = subprocess.run(  # noqa: S603 - pip of this interpreter, arguments built here
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(copy)],
            capture_output=True,
            text=True,
            check=False,
        )
    built = sorted(out.glob("*.whl"))
    if result.returncode != 0 or not built:
        raise VendorError(f"cannot build the local package at {source}: {result.stderr.strip()[-500:]}")
    return built[0]


def _build_litter(relative: Path) -> bool:
    parts = relative.parts
    return any(p in ("__pycache__", "build", "dist") or p.endswith(".egg-info") for p in parts) or relative.suffix in (
        ".pyc",
        ".pyo",
    )


def runtime_of(worker_dir: Path) -> PythonRuntime:
    """The Python a worker runs, from its wrangler config (date and flags), as pywrangler decides it.

    A folder without a wrangler.jsonc is vendored for the platform's runtime (wrangler/platform.jsonc).
    """
    config = worker_dir / "wrangler.jsonc"
    if config.is_file():
        from dotdo_dev.config import load_worker

        worker = load_worker(config)
        return python_runtime(worker.compatibility_date, worker.compatibility_flags)
    return PYTHON_314


def download(
    requirements: list[str],
    cache: Path,
    *,
    constraints: Path | None = None,
    runtime: PythonRuntime = PYTHON_314,
    local: Sequence[Path] = (),
) -> list[Path]:
    """Wheels for Pyodide (its platform, or pure Python) of `requirements` and their dependencies; `local`:
    wheels built from path sources, which satisfy dependencies on their projects."""
    cache.mkdir(parents=True, exist_ok=True)
    report = cache / "report.txt"
    args = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        f"--platform={runtime.wheel_platform}",
        "--platform=any",
        f"--python-version={runtime.python}",
        "--implementation=cp",
        "--dest",
        str(cache),
        "--progress-bar=off",
    ]
    if constraints is not None:
        args += ["-c", str(constraints)]
    args += _find_links(local)
    result = subprocess.run(  # noqa: S603 - pip of this interpreter, arguments built here
        [*args, *requirements], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        missing = [line for line in result.stderr.splitlines() if "No matching distribution" in line]
        detail = missing[0] if missing else result.stderr.strip().splitlines()[-1:]
        raise VendorError(
            f"cannot vendor {requirements} for Pyodide ({runtime.wheel_platform}, Python {runtime.python}): "
            f"{detail}. Offline, only pure-Python packages and packages with a Pyodide wheel on PyPI can be "
            f"vendored; Pyodide's own package index (index.pyodide.org/{runtime.pyodide}, which `pywrangler sync` "
            "uses where the network exists) builds more (lxml, markupsafe, ...), so such a package may still deploy."
        )
    report.write_text(result.stdout)
    return _without_local(_resolved(cache, requirements, runtime), local)


def _resolved(cache: Path, requirements: list[str], runtime: PythonRuntime) -> list[Path]:
    """The wheels in the cache that pip picked for these requirements (the newest file per project)."""
    newest: dict[str, Path] = {}
    for wheel in sorted(cache.glob("*.whl")):
        project = wheel.name.split("-")[0].lower().replace("_", "-")
        if not (wheel.name.endswith("-none-any.whl") or runtime.wheel_platform in wheel.name):
            continue
        newest[project] = wheel
    return sorted(newest.values())


def install(wheels: list[Path], target: Path) -> list[str]:
    """Unpack wheels into `target` (replacing what was there). Returns the top-level names installed."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    names: set[str] = set()
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise VendorError(f"{wheel.name}: unsafe path {member!r} in wheel")
            zf.extractall(target)
            names.update(m.split("/")[0] for m in zf.namelist() if not m.split("/")[0].endswith(".dist-info"))
    return sorted(names)


def vendor(worker_dir: Path, repo_root: Path, *, cache: Path | None = None, target: Path | None = None) -> Path:
    """Lay out `<worker>/python_modules/` (or `target`) for Pyodide. Returns its path."""
    cache = cache or repo_root / ".cache" / "pyodide-wheels"
    constraints = repo_root / "constraints.txt"
    wanted = worker_requirements(worker_dir, repo_root)
    runtime = runtime_of(worker_dir)
    local = [build_local(folder, cache) for folder in wanted.local.values()]
    try:
        # The wheel cache first, offline: the pins of constraints.txt decide, so PyPI is asked only
        # when the cache lacks one of them (a new pin, a fresh clone).
        needed = _needed(wanted.index, cache, constraints, runtime, local) if cache.is_dir() else None
    except VendorError:
        needed = None
    if needed is None:
        download(wanted.index, cache, constraints=constraints, runtime=runtime, local=local)
        needed = _needed(wanted.index, cache, constraints, runtime, local)
    target = target or worker_dir / TARGET
    install([*needed, *local], target)
    return target


def _find_links(local: Sequence[Path]) -> list[str]:
    """pip arguments that offer the wheels built from path sources (each in a folder of its own)."""
    return [f"--find-links={wheel.parent}" for wheel in local]


def _project(wheel: Path) -> str:
    return _name(wheel.name.split("-")[0])


def _without_local(wheels: list[Path], local: Sequence[Path]) -> list[Path]:
    """`wheels` less those of projects a path source provides (pip may have copied a local build into the
    cache: the path source's current build is installed instead)."""
    mine = {_project(wheel) for wheel in local}
    return [wheel for wheel in wheels if _project(wheel) not in mine]


def _needed(
    requirements: list[str],
    cache: Path,
    constraints: Path,
    runtime: PythonRuntime,
    local: Sequence[Path] = (),
) -> list[Path]:
    """The cached wheels pip resolves for `requirements` under the constraints, offline (the cache may hold
    other workers' wheels and other versions); VendorError if the cache cannot satisfy them. `local`: wheels
    of path sources, offered to satisfy dependencies on their projects and left out of the answer."""
    args = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--disable-pip-version-check",
        "--ignore-installed",
        "--no-index",
        f"--find-links={cache}",
        "--only-binary=:all:",
        f"--platform={runtime.wheel_platform}",
        "--platform=any",
        f"--python-version={runtime.python}",
        "--implementation=cp",
        "--target",
        str(cache / ".dry-run"),
        "--report",
        "-",
        "-c",
        str(constraints),
        *_find_links(local),
    ]
    result = subprocess.run(  # noqa: S603 - pip of this interpreter, arguments built here
        [*args, *requirements], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise VendorError(f"cannot resolve {requirements} from the wheel cache: {result.stderr.strip()[-500:]}")
    report = json.loads(result.stdout)
    chosen = sorted(Path(item["download_info"]["url"].removeprefix("file://")).name for item in report["install"])
    return _without_local([cache / name for name in chosen], local)
