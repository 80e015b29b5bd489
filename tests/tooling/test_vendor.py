"""Vendoring a worker's dependencies for Pyodide (python_modules/), offline from PyPI."""

import zipfile
from pathlib import Path

import pytest

from dotdo_dev.vendor import SDK_REQUIREMENT, VendorError, install, requirements_for, vendor

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "pyodide-wheels"


def worker(tmp_path, dependencies=None):
    folder = tmp_path / "svc"
    folder.mkdir()
    if dependencies is not None:
        listed = ", ".join(f'"{d}"' for d in dependencies)
        (folder / "pyproject.toml").write_text(f'[project]\nname = "svc"\nversion = "0"\ndependencies = [{listed}]\n')
    return folder


def test_requirements_default_to_the_repos_runtime_dependencies_plus_the_sdk(tmp_path):
    assert requirements_for(worker(tmp_path), ROOT) == [
        "pydantic==2.14.4",
        "httpx==0.28.1",
        "python-jose==3.5.0",
        SDK_REQUIREMENT,
    ]


def test_a_workers_own_pyproject_wins(tmp_path):
    assert requirements_for(worker(tmp_path, ["pydantic==2.14.4"]), ROOT) == ["pydantic==2.14.4", SDK_REQUIREMENT]


def test_vendoring_lays_out_pyodide_wheels_and_the_sdk(tmp_path):
    target = vendor(worker(tmp_path, ["pydantic==2.14.4"]), ROOT, cache=CACHE)
    assert target == tmp_path / "svc" / "python_modules"
    assert (target / "workers" / "__init__.py").is_file()  # the real SDK, as Cloudflare requires
    compiled = list((target / "pydantic_core").glob("*.so"))
    assert [p.name for p in compiled] == ["_pydantic_core.cpython-314-wasm32-emscripten.so"]
    assert (target / "pydantic" / "__init__.py").is_file()
    assert not (target / "httpx").exists()  # only what this worker asked for


def test_a_package_without_a_pyodide_wheel_is_named(tmp_path):
    with pytest.raises(VendorError, match=r"(?i)markupsafe"):
        vendor(worker(tmp_path, ["markupsafe==3.0.4"]), ROOT, cache=tmp_path / "cache")


def test_wheels_with_unsafe_paths_are_refused(tmp_path):
    evil = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.py", "x = 1")
    with pytest.raises(VendorError, match="unsafe path"):
        install([evil], tmp_path / "python_modules")
    assert not (tmp_path / "outside.py").exists()
