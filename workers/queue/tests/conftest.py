"""The queue worker in this process, on a D1 database and a queue store of its own.

HTTP routes authenticate through `AUTH_SERVICE`: a stand-in (dotdo_dev.pytest_plugin's `auth`) answers
`validate_token` for the tokens below. The signing secret is given as the secret would be; the retry base is
1 s unless a test sets another. `drain` delivers both queues until nothing is due (retries included, by
moving the queue store's clock past each backoff), as the platform's consumers would over time.
"""

import time

import pytest

from dotdo_dev.testing import WorkerHarness, bearer, worker_root

ROOT = worker_root(__file__)  # puts workers/queue/src on sys.path, as Cloudflare's module root

SECRET = "queue-test-signing-secret-0123456789abcdef"
QUEUE, DLQ = "queue-jobs", "queue-jobs-dlq"

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "writer-token": {"id": "usr_writer", "type": "user", "role": "user", "permissions": ["queue:read", "queue:write"]},
    "other-token": {"id": "usr_other", "type": "user", "role": "user", "permissions": ["queue:read", "queue:write"]},
    "reader-token": {"id": "usr_reader", "type": "user", "role": "user", "permissions": ["queue:read"]},
    "db-token": {"id": "usr_db", "type": "user", "role": "user", "permissions": ["db:read"]},
}
ADMIN, WRITER, OTHER, READER, NOBODY = (
    bearer(t) for t in ("admin-token", "writer-token", "other-token", "reader-token", "db-token")
)
WRITER_P, ADMIN_P = PRINCIPALS["writer-token"], PRINCIPALS["admin-token"]


class Clock:
    """A settable clock for the queue store (delays and backoff), starting now."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def principals():
    return PRINCIPALS


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def environ():
    return {"WEBHOOK_SIGNING_SECRET": SECRET}


@pytest.fixture
def worker(tmp_path, bindings, clock, environ):
    return WorkerHarness(
        ROOT, state_dir=tmp_path, bindings=bindings | {"RETRY_BASE_SECONDS": "1"}, environ=environ, clock=clock
    )


async def drain(worker, clock, *, rounds: int = 50) -> None:
    """Deliver every due message of both queues, moving the clock on past each retry's delay, until none is left."""
    store = worker.isolate.queue_store
    for _ in range(rounds):
        delivered = await worker.deliver_queue(QUEUE) + await worker.deliver_queue(DLQ)
        if not store.pending(QUEUE) and not store.pending(DLQ):
            return
        if not delivered:
            clock.advance(3600)
    raise AssertionError("the queues did not drain")


async def enqueue(worker, headers, job_type, payload, **extra):
    return await worker.fetch(
        "/jobs", method="POST", headers=headers, json={"type": job_type, "payload": payload, **extra}
    )
