"""Fixtures of the tooling tests: repo copies to build in, sharing one wheel cache."""

from collections.abc import Callable
from pathlib import Path

import pytest

from dotdo_dev import testing

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Pyodide wheel cache for every build of this session: wheels are downloaded, and shared/ built into
    a wheel, once rather than once per repo copy. Not the repo's own `.cache/pyodide-wheels`: tests/conformance
    builds into that one at the same time. The tests in this folder run one after another, so builds never
    write into it at once."""
    return tmp_path_factory.mktemp("pyodide-wheels")


@pytest.fixture(scope="session")
def build_copy(wheel_cache: Path) -> Callable[[Path], Path]:
    """`build_copy(target)`: a copy of the repo in `target` (dotdo_dev.testing.copy_repo) whose
    `.cache/pyodide-wheels`, where `dotdo build` keeps wheels, is the session's `wheel_cache`."""

    def copy(target: Path) -> Path:
        repo = testing.copy_repo(ROOT, target)
        (repo / ".cache").mkdir(exist_ok=True)
        (repo / ".cache" / "pyodide-wheels").symlink_to(wheel_cache, target_is_directory=True)
        return repo

    return copy
