"""Builds shared between the test suites of one run, keyed by everything a build reads.

`dotdo test` gives every suite it runs one folder in `$DOTDO_BUILD_CACHE` (removed when the run ends);
`dotdo build` for a deploy never has it, and always builds. With it, `dotdo_dev.build.build` looks up
the worker's inputs here before vendoring and running wrangler, and keeps what a successful build made:

- the worker's `python_modules/` as vendoring laid it out (a build leaves it in the worker folder, and
  a later `wrangler` run on that folder reads it),
- wrangler's outdir (the modules it would upload), and wrangler's output (the sizes it reported).

Everything after that (measuring, the upload metadata, the budget) runs on a hit as on a build, and a
failed build is never kept. The key is a hash of the files of the worker folder (less its
`python_modules/` and local state), of its local path sources, of `constraints.txt`, of the build
tooling's own modules, of wrangler's version and of the environment: a change to any of them is a new
key. Entries are written to a temporary name and renamed into place, so suites building the same worker
at once each get a whole entry; a lock per key lets the second wait for the first instead of building
it again. A build given no wheel cache of its own vendors from the run's (`wheels/` here, one vendoring
at a time), so the suites' repo copies do not each download every wheel.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "DOTDO_BUILD_CACHE"
HERE = Path(__file__).resolve().parent
#: The tooling a build runs: a change to any of these makes every key new.
TOOLING = ("build.py", "build_cache.py", "vendor.py", "wrangler.py", "config.py", "compat.py", "jsonc.py")
#: What in a worker folder is not an input of its build.
_NOT_INPUTS = frozenset({"python_modules", ".state", "__pycache__", ".pytest_cache", "node_modules", "dist"})


@dataclass(frozen=True)
class Entry:
    """A kept build: `python_modules/` as vendored, wrangler's `outdir/`, and wrangler's output."""

    folder: Path

    @property
    def python_modules(self) -> Path:
        return self.folder / "python_modules"

    @property
    def outdir(self) -> Path:
        return self.folder / "outdir"

    @property
    def output(self) -> str:
        return json.loads((self.folder / "entry.json").read_text())["output"]


def cache_root() -> Path | None:
    """The run's build cache folder (`$DOTDO_BUILD_CACHE`), or None: build without one."""
    value = os.environ.get(CACHE_ENV)
    return Path(value) if value else None


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not _NOT_INPUTS.intersection(relative.parts) and path.suffix != ".pyc":
            yield path


def key_of(repo_root: Path, worker_dir: Path, local_sources: list[Path], environment: str | None) -> str:
    """The hash of everything a build of `worker_dir` reads (module doc)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(label.encode() + b"\0" + len(data).to_bytes(8, "big") + data)

    for folder in (worker_dir, *local_sources):
        add("folder", str(folder.relative_to(repo_root) if folder.is_relative_to(repo_root) else folder).encode())
        for path in _files(folder):
            add(str(path.relative_to(folder)), path.read_bytes())
    constraints = repo_root / "constraints.txt"
    add("constraints", constraints.read_bytes() if constraints.is_file() else b"")
    for name in TOOLING:
        add(name, (HERE / name).read_bytes())
    wrangler = repo_root / "node_modules" / "wrangler" / "package.json"
    add("wrangler", json.loads(wrangler.read_text()).get("version", "").encode() if wrangler.is_file() else b"")
    add("environment", (environment or "").encode())
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def locked(root: Path, key: str) -> Iterator[None]:
    """Hold the key's lock: one process builds an entry while the others wait for it."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{key}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lookup(root: Path, key: str) -> Entry | None:
    """The kept entry for `key`, if a build made one."""
    folder = root / key
    return Entry(folder) if (folder / "entry.json").is_file() else None


def keep(root: Path, key: str, python_modules: Path, outdir: Path, output: str) -> None:
    """Keep a successful build under `key` (whole or not at all)."""
    partial = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".partial", dir=root))
    try:
        if python_modules.is_dir():
            shutil.copytree(python_modules, partial / "python_modules", symlinks=True)
        shutil.copytree(outdir, partial / "outdir", symlinks=True)
        (partial / "entry.json").write_text(json.dumps({"output": output}))
        partial.rename(root / key)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)  # another process kept it first, or the disk is full


def restore(entry: Entry, python_modules: Path, outdir: Path) -> str:
    """Lay the entry out as a build would have: `python_modules` replaced, `outdir` filled. Returns
    wrangler's output."""
    if python_modules.exists():
        shutil.rmtree(python_modules)
    if entry.python_modules.is_dir():
        shutil.copytree(entry.python_modules, python_modules, symlinks=True)
    shutil.copytree(entry.outdir, outdir, symlinks=True, dirs_exist_ok=True)
    return entry.output
