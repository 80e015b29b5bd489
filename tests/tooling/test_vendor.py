"""Vendoring a worker's dependencies for Pyodide (python_modules/), offline from PyPI."""

import shutil
import zipfile
from pathlib import Path

import pytest

from dotdo_dev import vendor as vendor_module
from dotdo_dev.vendor import (
    SDK_REQUIREMENT,
    VendorError,
    install,
    requirements_for,
    runtime_of,
    vendor,
    worker_requirements,
)

ROOT = Path(__file__).resolve().parents[2]


def worker(tmp_path, dependencies=None):
    folder = tmp_path / "svc"
    folder.mkdir(parents=True)
    if dependencies is not None:
        listed = ", ".join(f'"{d}"' for d in dependencies)
        (folder / "pyproject.toml").write_text(f'[project]\nname = "svc"\nversion = "0"\ndependencies = [{listed}]\n')
    return folder


def test_a_worker_without_a_pyproject_gets_the_sdk_alone(tmp_path):
    # pywrangler vendors nothing without a pyproject.toml; Cloudflare still requires the SDK.
    assert requirements_for(worker(tmp_path), ROOT) == [SDK_REQUIREMENT]


@pytest.mark.slow
def test_a_path_source_is_built_and_vendored_as_uv_would(tmp_path, wheel_cache):
    folder = worker(tmp_path, ["dotdo-shared"])
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + f'[tool.uv.sources]\ndotdo-shared = {{ path = "{ROOT / "shared"}" }}\n'
    )
    wanted = worker_requirements(folder, ROOT)
    assert wanted.index == [SDK_REQUIREMENT]  # not asked of PyPI
    assert wanted.local == {"dotdo-shared": (ROOT / "shared").resolve()}
    target = vendor(folder, ROOT, cache=wheel_cache)
    assert (target / "shared" / "envelope.py").read_bytes() == (ROOT / "shared" / "envelope.py").read_bytes()
    assert (target / "dotdo_shared-0.1.0.dist-info" / "METADATA").is_file()
    assert not (target / "shared" / "pyproject.toml").exists()
    # the build happened in a copy: nothing left behind in the repo's shared/
    assert not list((ROOT / "shared").glob("*.egg-info"))
    assert not (ROOT / "shared" / "build").exists()


def test_a_path_source_without_a_pyproject_is_named(tmp_path):
    folder = worker(tmp_path, ["dotdo-shared"])
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '[tool.uv.sources]\ndotdo-shared = { path = "nowhere" }\n')
    with pytest.raises(VendorError, match=r"path source of dotdo-shared .* has no pyproject.toml"):
        worker_requirements(folder, ROOT)


def test_a_workers_own_pyproject_wins(tmp_path):
    assert requirements_for(worker(tmp_path, ["pydantic==2.14.4"]), ROOT) == ["pydantic==2.14.4", SDK_REQUIREMENT]


@pytest.mark.slow
def test_vendoring_lays_out_pyodide_wheels_and_the_sdk(tmp_path, wheel_cache):
    target = vendor(worker(tmp_path, ["pydantic==2.14.4"]), ROOT, cache=wheel_cache)
    assert target == tmp_path / "svc" / "python_modules"
    assert (target / "workers" / "__init__.py").is_file()  # the real SDK, as Cloudflare requires
    compiled = list((target / "pydantic_core").glob("*.so"))
    assert [p.name for p in compiled] == ["_pydantic_core.cpython-314-wasm32-emscripten.so"]
    assert (target / "pydantic" / "__init__.py").is_file()
    assert not (target / "httpx").exists()  # only what this worker asked for


@pytest.mark.slow
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


@pytest.mark.parametrize(
    ("date", "python", "platform"),
    [("2026-11-01", "3.14", "pyemscripten_2026_0_wasm32"), ("2025-10-01", "3.13", "pyodide_2025_0_wasm32")],
)
def test_the_wheel_platform_follows_the_workers_compatibility_date(tmp_path, date, python, platform):
    folder = worker(tmp_path)
    (folder / "wrangler.jsonc").write_text(
        f'{{"name": "svc", "main": "src/entry.py", "compatibility_date": "{date}",'
        ' "compatibility_flags": ["python_workers"]}'
    )
    runtime = runtime_of(folder)
    assert (runtime.python, runtime.wheel_platform) == (python, platform)


@pytest.mark.slow
def test_a_warm_cache_vendors_offline_and_a_missing_pin_asks_the_index(tmp_path, wheel_cache, monkeypatch):
    first = vendor(worker(tmp_path / "a", ["pydantic==2.14.4"]), ROOT, cache=wheel_cache)
    asked = []
    real_download = vendor_module.download

    def counting_download(requirements, *args, **kwargs):
        asked.append(list(requirements))
        return real_download(requirements, *args, **kwargs)

    monkeypatch.setattr(vendor_module, "download", counting_download)
    second = vendor(worker(tmp_path / "b", ["pydantic==2.14.4"]), ROOT, cache=wheel_cache)
    assert asked == []  # every pin was in the cache: the index was not asked
    assert sorted(p.name for p in second.iterdir()) == sorted(p.name for p in first.iterdir())

    partial = tmp_path / "partial-cache"  # the same cache without idna: that pin must come from the index
    shutil.copytree(wheel_cache, partial, ignore=shutil.ignore_patterns("idna-*"))
    third = vendor(worker(tmp_path / "c", ["pydantic==2.14.4", "idna==3.20"]), ROOT, cache=partial)
    assert len(asked) == 1
    assert "idna==3.20" in asked[0]
    assert (third / "idna" / "__init__.py").is_file()
