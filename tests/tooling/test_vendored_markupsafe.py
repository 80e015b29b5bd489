"""The email worker's MarkupSafe: the pure-Python part of the 3.0.4 sdist, unchanged, and what jinja2's
dependency resolves to when the worker is vendored for Pyodide (PyPI has no wheel of MarkupSafe Pyodide loads)."""

import hashlib
import tomllib
from pathlib import Path

import pytest

from dotdo_dev.vendor import vendor, worker_requirements

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "workers" / "email" / "vendor" / "markupsafe"
#: sha256 of the files as markupsafe-3.0.4.tar.gz has them (its README lists the same).
SDIST = {
    "__init__.py": "1f512743b0ba6e96c1d7a9450e425889e9978eb3d2d15e72dd57c8c47f518686",
    "_native.py": "8522ecf099b3e5aa9acae7a780927791d4f93f0369056a4aae6412762a67742f",
}


def test_the_vendored_files_are_the_sdists_unchanged_and_without_speedups():
    package = VENDORED / "src" / "markupsafe"
    assert {p.name for p in package.iterdir() if p.suffix == ".py"} == set(SDIST)
    for name, digest in SDIST.items():
        assert hashlib.sha256((package / name).read_bytes()).hexdigest() == digest, name
        assert digest in (VENDORED / "README.md").read_text()
    assert not list(package.glob("_speedups*"))
    assert (VENDORED / "LICENSE.txt").is_file()


def test_its_version_is_the_pinned_one():
    with (VENDORED / "pyproject.toml").open("rb") as fh:
        version = tomllib.load(fh)["project"]["version"]
    assert f"MarkupSafe=={version}" in (ROOT / "constraints.txt").read_text().splitlines()


@pytest.mark.slow
def test_jinja2s_markupsafe_is_the_path_source_when_vendored(wheel_cache, tmp_path):
    # email's own pyproject: jinja2 from PyPI, markupsafe from vendor/markupsafe (as uv resolves it)
    wanted = worker_requirements(ROOT / "workers" / "email", ROOT)
    assert "jinja2==3.1.6" in wanted.index
    assert wanted.local["markupsafe"] == VENDORED.resolve()
    target = vendor(ROOT / "workers" / "email", ROOT, cache=wheel_cache, target=tmp_path / "python_modules")
    assert (target / "jinja2" / "__init__.py").is_file()
    for name in SDIST:
        assert (target / "markupsafe" / name).read_bytes() == (VENDORED / "src" / "markupsafe" / name).read_bytes()
    assert not list((target / "markupsafe").glob("_speedups*"))
    assert [p.name for p in target.glob("markupsafe-*.dist-info")] == ["markupsafe-3.0.4.dist-info"]
