"""A worker's own Python dependencies for the local runtime (CPython), as `pywrangler dev` gives a worker its own.

On Cloudflare a worker runs with what its `pyproject.toml` declares (`[project] dependencies`, vendored
into the bundle for Pyodide). Locally every worker runs on the platform's `.venv`; a dependency that is
not satisfied there (`fastapi` for Cloudflare's FastAPI example, say) is installed for CPython into a
folder of its own, one per set of requirements:

    <cache>/worker-deps/<hash of the requirements and the Python version>/

and put first on that worker's `PYTHONPATH`. A folder is made once (pip into a temporary folder, renamed
into place whole) and reused by every worker and run with the same set, so a second `dotdo dev` needs no
network. What the platform's environment already satisfies is not installed again. The SDK
(`workers-runtime-sdk`, `workers-py`) and local path sources are not installed: the local runtime provides
the SDK, and a path source is the worker's own code. `requires-python` is checked against the Python the
worker runs on Cloudflare (from its compatibility date), as pywrangler checks it.

The local runtime is CPython 3.11 while Cloudflare runs 3.13 or 3.14, so a dependency may exist only in
versions that declare `Requires-Python >=3.12` (django-cf 0.2, for Cloudflare's Django + D1 example). When
pip finds no version of a requirement for that reason alone, the requirement is installed anyway, as a
wheel, without resolving its dependencies (`--ignore-requires-python --no-deps`); its own dependencies are
then installed normally, and a line on stderr names it. Whether its code runs on 3.11 is then up to it.
Whatever a dependency drags in of the SDK (`workers-runtime-sdk` is a dependency of django-cf) is removed
from the folder, so the local runtime's own `workers` module is the one imported.
"""

from __future__ import annotations

import email.parser
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

#: Provided by the local runtime itself, never installed for a worker.
PROVIDED = frozenset({"workers-runtime-sdk", "workers-py", "webtypy"})


class DependencyError(RuntimeError):
    """A worker's dependencies cannot be read or installed; the message names the worker and why."""


def declared(worker_dir: Path) -> tuple[list[Requirement], str | None]:
    """The worker's `[project] dependencies` (less the SDK and path sources) and its `requires-python`."""
    pyproject = worker_dir / "pyproject.toml"
    if not pyproject.is_file():
        return [], None
    try:
        with pyproject.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DependencyError(f"{pyproject}: cannot be read: {exc}") from None
    project = data.get("project") or {}
    sources = (data.get("tool") or {}).get("uv", {}).get("sources", {}) or {}
    local = {
        canonicalize_name(name) for name, source in sources.items() if isinstance(source, dict) and "path" in source
    }
    requirements = []
    for text in project.get("dependencies") or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise DependencyError(f"{pyproject}: dependency {text!r} is not a valid requirement: {exc}") from None
        name = canonicalize_name(requirement.name)
        if name not in PROVIDED and name not in local and (requirement.marker is None or requirement.marker.evaluate()):
            requirements.append(requirement)
    requires_python = project.get("requires-python")
    return requirements, requires_python if isinstance(requires_python, str) else None


def check_requires_python(worker_dir: Path, requires_python: str | None, python: str) -> None:
    """DependencyError when the worker's `requires-python` excludes the Python it runs on Cloudflare."""
    if not requires_python:
        return
    try:
        allowed = SpecifierSet(requires_python)
    except InvalidSpecifier:
        raise DependencyError(
            f"{worker_dir.name}: requires-python {requires_python!r} is not a valid specifier"
        ) from None
    if not allowed.contains(python, prereleases=True):
        raise DependencyError(
            f"{worker_dir.name}: requires-python {requires_python!r} excludes Python {python}, which the worker "
            "runs on Cloudflare (its compatibility date decides it)"
        )


def unsatisfied(requirements: list[Requirement]) -> list[Requirement]:
    """Those the running environment does not satisfy (absent, or a version outside the specifier)."""
    missing = []
    for requirement in requirements:
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            missing.append(requirement)
    return missing


def install_folder(requirements: list[Requirement], cache: Path) -> Path:
    """The folder holding `requirements` installed for this Python: made once per set, then reused."""
    texts = sorted(str(r) for r in requirements)
    key = hashlib.sha256("\n".join([sys.version.split()[0], *texts]).encode()).hexdigest()[:20]
    target = cache / "worker-deps" / key
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".partial", dir=target.parent))
    try:
        forced = _install(texts, partial)
        _remove_provided(partial)
        (partial / ".complete").write_text("\n".join(texts) + "\n")
        if forced:
            (partial / ".ignored-requires-python").write_text("\n".join(forced) + "\n")
        try:
            partial.rename(target)
        except OSError:
            if not (target / ".complete").is_file():  # not another run's whole folder: a real failure
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


#: pip's two ways of saying a requirement has versions only for other Pythons: an index that publishes
#: Requires-Python (PyPI) leaves them out, one that does not (a folder of wheels) refuses the one it found.
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_OTHER_PYTHON = re.compile(r"Package '([^']+)' requires a different Python")


def _install(texts: list[str], folder: Path) -> list[str]:
    """pip-install `texts` into `folder`; returns the requirements installed despite their Requires-Python."""
    pending, forced = list(texts), []
    while pending:
        result = _pip(["--target", str(folder), *pending])
        if result.returncode == 0:
            break
        failing = _python_mismatch(result.stderr, pending)
        if failing is None or failing in forced:
            raise DependencyError(f"cannot install {', '.join(texts)}: {_pip_error(result.stderr)}")
        # Only versions for a newer Python exist (Cloudflare runs 3.13+): install the wheel as it is.
        alone = _pip(["--target", str(folder), "--no-deps", "--ignore-requires-python", "--only-binary=:all:", failing])
        if alone.returncode != 0:
            raise DependencyError(f"cannot install {failing}: {_pip_error(alone.stderr)}")
        forced.append(failing)
        print(
            f"worker dependencies: {failing} has no version for Python {sys.version.split()[0]} (only for newer "
            "ones, as Cloudflare runs); installed anyway, its own dependencies resolved for this Python",
            file=sys.stderr,
        )
        pending = [t for t in pending if t != failing]
        pending += [str(r) for r in unsatisfied(_dependencies_of(folder, Requirement(failing).name))]
        pending = sorted(set(pending))
    return forced


def _pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - pip of this interpreter, arguments built here
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _pip_error(stderr: str, limit: int = 800) -> str:
    """What pip said went wrong, in whole lines: from its first `ERROR:`, `error:` or `fatal:` line on, else
    the last lines that fit in `limit` characters."""
    lines = [line.rstrip() for line in stderr.strip().splitlines() if line.strip()]
    marked = [i for i, line in enumerate(lines) if line.lstrip().lower().startswith(("error", "fatal"))]
    chosen = lines[marked[0] :] if marked else lines
    text = ""
    for line in reversed(chosen):
        if text and len(line) + len(text) + 1 > limit:
            break
        text = line + ("\n" + text if text else "")
    return text[-limit:] if len(text) > limit else text


def _python_mismatch(stderr: str, pending: list[str]) -> str | None:
    """The requirement of `pending` pip found no version of only because of Requires-Python, else None."""
    found = _OTHER_PYTHON.search(stderr)
    if found is None and "require a different python version" in stderr:
        found = _NO_MATCH.search(stderr)
    if found is None:
        return None
    name = canonicalize_name(Requirement(found.group(1)).name)
    return next((t for t in pending if canonicalize_name(Requirement(t).name) == name), None)


def _dependencies_of(folder: Path, name: str) -> list[Requirement]:
    """The `Requires-Dist` of distribution `name` installed in `folder` (less the SDK, markers evaluated)."""
    wanted = canonicalize_name(name)
    for metadata in folder.glob("*.dist-info/METADATA"):
        message = email.parser.Parser().parsestr(metadata.read_text(encoding="utf-8", errors="replace"))
        if canonicalize_name(message.get("Name", "")) != wanted:
            continue
        requirements = [Requirement(text) for text in message.get_all("Requires-Dist") or []]
        return [
            r
            for r in requirements
            if canonicalize_name(r.name) not in PROVIDED and (r.marker is None or r.marker.evaluate({"extra": ""}))
        ]
    return []


def _remove_provided(folder: Path) -> None:
    """Delete what pip put in `folder` of a distribution the local runtime provides (the SDK's `workers`)."""
    for info in list(folder.glob("*.dist-info")):
        metadata = info / "METADATA"
        name = ""
        if metadata.is_file():
            name = (
                email.parser.Parser().parsestr(metadata.read_text(encoding="utf-8", errors="replace")).get("Name", "")
            )
        if canonicalize_name(name) not in PROVIDED:
            continue
        record = info / "RECORD"
        lines = record.read_text(encoding="utf-8", errors="replace").splitlines() if record.is_file() else []
        root = folder.resolve()
        emptied: set[Path] = set()
        for line in lines:
            path = (folder / line.rsplit(",", 2)[0]).resolve()
            if path.is_file() and root in path.parents:
                path.unlink()
                emptied.update(p for p in path.parents if root in p.parents)
        for directory in sorted(emptied, key=lambda d: -len(d.parts)):  # deepest first
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
        shutil.rmtree(info, ignore_errors=True)


def python_path_for(worker_dir: Path, python: str, cache: Path) -> str | None:
    """What to put first on the worker's `PYTHONPATH` for its own dependencies (None: nothing is missing).
    DependencyError when `requires-python` excludes `python` or an install fails."""
    requirements, requires_python = declared(worker_dir)
    check_requires_python(worker_dir, requires_python, python)
    missing = unsatisfied(requirements)
    if not missing:
        return None
    return str(install_folder(missing, cache))


def default_cache() -> Path:
    """`$DOTDO_CACHE_DIR`, else `~/.cache/dotdo`."""
    return Path(os.environ.get("DOTDO_CACHE_DIR") or Path.home() / ".cache" / "dotdo")
