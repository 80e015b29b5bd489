"""Every worker's pyproject.toml follows pywrangler's conventions (Cloudflare's python-workers-examples).

`requires-python` is the Python its wrangler config selects (dotdo_dev.compat), and the `dev` dependency
group holds pywrangler (workers-py) and Cloudflare's SDK, so `uv run pywrangler dev|deploy` works from
the worker's folder.
"""

import tomllib
from pathlib import Path

import pytest

from dotdo_dev import compat, testing, wrangler
from dotdo_dev.config import load_worker
from dotdo_dev.generator.create_service import create_service

ROOT = Path(__file__).resolve().parents[2]
DEV_GROUP = ["workers-py==1.17.9", "workers-runtime-sdk==1.9.5"]

# The workers that bundle packages of their own: every wrangler.jsonc with a pyproject.toml beside it.
WORKERS = [cfg.parent for cfg in wrangler.repo_configs(ROOT) if (cfg.parent / "pyproject.toml").is_file()]


def _id(worker: Path) -> str:
    return str(worker.relative_to(ROOT))


def expected_requires_python(worker: Path) -> str:
    """`requires-python` for the worker, the same in every environment of its wrangler config."""
    cfg = worker / "wrangler.jsonc"
    specs = set()
    for env in wrangler.environments(cfg):
        config = load_worker(cfg, environment=env)
        specs.add(compat.requires_python(compat.python_runtime(config.compatibility_date, config.compatibility_flags)))
    assert len(specs) == 1, f"{cfg}: environments run different Pythons ({sorted(specs)}); one pyproject cannot"
    return specs.pop()


def check_pyproject(worker: Path) -> None:
    with (worker / "pyproject.toml").open("rb") as fh:
        data = tomllib.load(fh)
    project = data["project"]
    assert project["requires-python"] == expected_requires_python(worker)
    assert isinstance(project["dependencies"], list)
    assert data["dependency-groups"]["dev"] == DEV_GROUP


def test_every_worker_has_a_pyproject():
    found = {_id(w) for w in WORKERS}
    expected = {_id(p.parent) for p in ROOT.glob("workers/*/pyproject.toml")}
    assert expected, "no workers/*/pyproject.toml"
    assert expected | {"dispatcher", "tests/fixtures/workers/hello"} <= found
    for service in ROOT.glob("workers/*/wrangler.jsonc"):
        assert (service.parent / "pyproject.toml").is_file(), f"{service.parent} has no pyproject.toml"


@pytest.mark.parametrize("worker", WORKERS, ids=_id)
def test_worker_pyproject_follows_pywrangler_conventions(worker):
    check_pyproject(worker)


def test_generated_service_pyproject_follows_pywrangler_conventions(tmp_path):
    repo = testing.copy_repo(ROOT, tmp_path / "repo")
    service = create_service(repo, name="ledger", kind="domain", description="Entries.")
    check_pyproject(service)
    with (service / "pyproject.toml").open("rb") as fh:
        assert tomllib.load(fh)["project"]["requires-python"] == "==3.14.*"
