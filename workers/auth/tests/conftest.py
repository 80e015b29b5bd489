"""The auth worker in this process, storing through the real db worker.

db runs in a process of its own (as on Cloudflare, where it is another worker), started by the
local platform with its D1 database on a temporary SQLite file; auth reaches it over the same
service-binding RPC as in `make dev`. Each test module shares one db (tests use fresh users and
keys); `fresh_auth` gives a test an empty database of its own (bootstrap needs one).
"""

from pathlib import Path

import pytest
import pytest_asyncio

from dotdo_dev.platform import LocalPlatform
from dotdo_dev.runtime.bindings.services import Fetcher
from dotdo_dev.testing import WorkerHarness, worker_root

ROOT = worker_root(__file__)  # puts workers/auth/src on sys.path, as Cloudflare's module root
REPO = ROOT.parents[1]
DB_CONFIG = REPO / "workers" / "db" / "wrangler.jsonc"

SECRETS = {
    "API_KEY_SECRET": "test-api-key-secret-0123456789abcdef0123456789",
    "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789abcdef",
}
BOOTSTRAP_KEY = "sk_test_bootstrap_0123456789abcdefghijklmnopqrstuv"


async def start_db(state: Path) -> LocalPlatform:
    platform = LocalPlatform(REPO, configs=[DB_CONFIG], state_dir=state, port=0)
    await platform.start()
    return platform


def auth_harness(platform: LocalPlatform, state: Path, **secrets: str) -> WorkerHarness:
    """auth in this process, its DB_SERVICE bound to the db worker of `platform`."""
    return WorkerHarness(
        ROOT,
        state_dir=state,
        bindings={"DB_SERVICE": Fetcher(platform.peers, "db")},
        environ=SECRETS | secrets,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db_platform(tmp_path_factory):
    platform = await start_db(tmp_path_factory.mktemp("db"))
    yield platform
    await platform.stop()


@pytest.fixture
def auth(db_platform, tmp_path):
    """auth with the bootstrap key configured, on this module's db."""
    return auth_harness(db_platform, tmp_path, BOOTSTRAP_ADMIN_KEY=BOOTSTRAP_KEY)


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_auth(tmp_path):
    """auth on a db of its own (empty), with the bootstrap key configured."""
    platform = await start_db(tmp_path / "db")
    yield auth_harness(platform, tmp_path, BOOTSTRAP_ADMIN_KEY=BOOTSTRAP_KEY)
    await platform.stop()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
