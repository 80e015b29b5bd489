"""Fixtures of the conformance suite: each worker's bundle, built once for the whole session."""

from collections.abc import Callable
from pathlib import Path

import pytest

from dotdo_dev.build import build
from dotdo_dev.testing import copy_repo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """`bundles(worker_folder)`: that worker's upload bundle, built once for the session: {folder: outdir}.

    Built in a copy of the repo: a build lays out `python_modules/` in the worker's folder and fills
    the wheel cache, which tests/tooling, running at the same time, builds and reads in the repo. A bundle
    is only read by the jobs that mount it (Pyodide gets it read-only), so tests can share it.
    """
    repo = copy_repo(ROOT, tmp_path_factory.mktemp("repo"))
    built: dict[Path, Path] = {}

    def get(folder: Path) -> Path:
        if folder not in built:
            outdir = tmp_path_factory.mktemp(folder.name) / "bundle"
            built[folder] = build(repo, repo / folder.relative_to(ROOT), outdir).outdir
        return built[folder]

    return get
