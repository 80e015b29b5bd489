"""Fixtures every service's tests share, loaded for every pytest run of the repo (`-p dotdo_dev.pytest_plugin`).

A service's `tests/conftest.py` names the tokens its tests use and what auth would answer for them;
the plugin gives it the rest::

    ROOT = worker_root(__file__)     # puts the worker's src/ on sys.path (Cloudflare's module root)

    @pytest.fixture
    def principals():
        return {"writer-token": {"id": "usr_writer", "permissions": ["orders:read", "orders:write"]}}

    async def test_something(worker): ...   # the worker of this test's folder, AUTH_SERVICE a stand-in

Fixtures: `principals` (none by default), `auth` (a `StandInAuth` for them), `bindings` (what the
worker gets besides its own: `{"AUTH_SERVICE": auth}`; override to add stand-ins) and `worker` (a
`WorkerHarness` of the worker folder above the test file, its state under `tmp_path`).
"""

from __future__ import annotations

from typing import Any

import pytest

from dotdo_dev.testing import StandInAuth, WorkerHarness, worker_root


@pytest.fixture
def principals() -> dict[str, dict[str, Any]]:
    """Token -> the principal auth answers for it. Override in a conftest."""
    return {}


@pytest.fixture
def auth(principals: dict[str, dict[str, Any]]) -> StandInAuth:
    return StandInAuth(principals)


@pytest.fixture
def bindings(auth: StandInAuth) -> dict[str, Any]:
    """Bindings given to the worker besides those of its wrangler.jsonc: auth's stand-in."""
    return {"AUTH_SERVICE": auth}


@pytest.fixture
def worker(request: pytest.FixtureRequest, tmp_path: Any, bindings: dict[str, Any]) -> WorkerHarness:
    """The worker whose folder holds this test file, with local bindings on files under `tmp_path`."""
    return WorkerHarness(worker_root(request.path), state_dir=tmp_path, bindings=bindings)
