"""Vendor a worker's Python dependencies for Pyodide, the way `pywrangler sync` lays them out.

    python_modules = vendor(worker_dir)      # <worker>/python_modules/, git-ignored

Cloudflare's runtime imports a worker's dependencies from `python_modules/` beside `src/`, and at
this compatibility date it expects the `workers` SDK itself to be vendored there. `pywrangler sync`
downloads a Pyodide interpreter to resolve them, which cannot be done offline; pip can, by asking
PyPI for wheels of Pyodide's platform (`pyemscripten_2026_0_wasm32`, CPython 3.14) or pure ones.
Versions are pinned by the repo's `constraints.txt`, so the bundle carries what the tests ran.

What a worker needs: its own `pyproject.toml` `[project.dependencies]` if it has one, else the
repo's runtime dependencies (what `shared/` imports), plus the SDK.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

PYODIDE_PLATFORM = "pyemscripten_2026_0_wasm32"
PYODIDE_PYTHON = "3.14"
SDK_REQUIREMENT = "workers-runtime-sdk==1.9.5"
TARGET = "python_modules"


class VendorError(RuntimeError):
    """A dependency that cannot be vendored for Pyodide; the message names it."""


def requirements_for(worker_dir: Path, repo_root: Path) -> list[str]:
    """The worker's own dependencies (its pyproject.toml), else the repo's runtime ones, plus the SDK."""
    own = worker_dir / "pyproject.toml"
    source = own if own.is_file() else repo_root / "pyproject.toml"
    with source.open("rb") as fh:
        project = tomllib.load(fh).get("project", {})
    requirements = [r for r in project.get("dependencies", []) if not r.lower().startswith("workers-runtime-sdk")]
    return [*requirements, SDK_REQUIREMENT]


def download(requirements: list[str], cache: Path, *, constraints: Path | None = None) -> list[Path]:
    """Wheels for Pyodide (its platform, or pure Python) of `requirements` and their dependencies."""
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
        f"--platform={PYODIDE_PLATFORM}",
        "--platform=any",
        f"--python-version={PYODIDE_PYTHON}",
        "--implementation=cp",
        "--dest",
        str(cache),
        "--progress-bar=off",
    ]
    if constraints is not None:
        args += ["-c", str(constraints)]
    result = subprocess.run(  # noqa: S603 - pip of this interpreter, arguments built here
        [*args, *requirements], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        missing = [line for line in result.stderr.splitlines() if "No matching distribution" in line]
        detail = missing[0] if missing else result.stderr.strip().splitlines()[-1:]
        raise VendorError(
            f"cannot vendor {requirements} for Pyodide ({PYODIDE_PLATFORM}, Python {PYODIDE_PYTHON}): {detail}. "
            "Only pure-Python packages and packages with a Pyodide wheel on PyPI can run in a Python Worker."
        )
    report.write_text(result.stdout)
    return _resolved(cache, requirements)


def _resolved(cache: Path, requirements: list[str]) -> list[Path]:
    """The wheels in the cache that pip picked for these requirements (the newest file per project)."""
    newest: dict[str, Path] = {}
    for wheel in sorted(cache.glob("*.whl")):
        project = wheel.name.split("-")[0].lower().replace("_", "-")
        if not (wheel.name.endswith("-none-any.whl") or PYODIDE_PLATFORM in wheel.name):
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
    wheels = download(requirements_for(worker_dir, repo_root), cache, constraints=constraints)
    # Only the wheels this worker needs: resolve again into a fresh folder listing.
    target = target or worker_dir / TARGET
    install(_needed(wheels, requirements_for(worker_dir, repo_root), cache, constraints), target)
    return target


def _needed(wheels: list[Path], requirements: list[str], cache: Path, constraints: Path) -> list[Path]:
    """The subset of cached wheels pip resolves for `requirements` (the cache may hold other workers' wheels)."""
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
        f"--platform={PYODIDE_PLATFORM}",
        "--platform=any",
        f"--python-version={PYODIDE_PYTHON}",
        "--implementation=cp",
        "--target",
        str(cache / ".dry-run"),
        "--report",
        "-",
        "-c",
        str(constraints),
    ]
    result = subprocess.run(  # noqa: S603 - pip of this interpreter, arguments built here
        [*args, *requirements], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise VendorError(f"cannot resolve {requirements} from the wheel cache: {result.stderr.strip()[-500:]}")
    import json

    report = json.loads(result.stdout)
    chosen = {Path(item["download_info"]["url"].removeprefix("file://")).name for item in report["install"]}
    return [w for w in wheels if w.name in chosen] or wheels
