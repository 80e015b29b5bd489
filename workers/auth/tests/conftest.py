"""The auth worker in this process, on a D1 database of its own.

auth keeps its records in its own D1 (`AUTH_DB`, a SQLite file under the test's `tmp_path`) and
binds no other worker, as on Cloudflare: nothing else is started. Each test gets an empty
database; a second harness on the same `tmp_path` is another isolate on that database.
"""

from pathlib import Path

import pytest

from dotdo_dev.testing import WorkerHarness, worker_root

ROOT = worker_root(__file__)  # puts workers/auth/src on sys.path, as Cloudflare's module root

SECRETS = {
    "API_KEY_SECRET": "test-api-key-secret-0123456789abcdef0123456789",
    "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789abcdef",
}
BOOTSTRAP_KEY = "sk_test_bootstrap_0123456789abcdefghijklmnopqrstuv"


def auth_harness(state: Path, **secrets: str) -> WorkerHarness:
    """auth in this process with its D1 under `state`, and the secrets given (over the test ones)."""
    return WorkerHarness(ROOT, state_dir=state, environ=SECRETS | secrets)


@pytest.fixture
def auth(tmp_path):
    """auth on an empty database, with the bootstrap key configured."""
    return auth_harness(tmp_path, BOOTSTRAP_ADMIN_KEY=BOOTSTRAP_KEY)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
