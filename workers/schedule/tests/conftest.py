"""The schedule worker in this process, on a D1 database of its own, with stand-ins for the services its
tasks act on.

HTTP routes authenticate through `AUTH_SERVICE`: the stand-in (`FakeAuth`) answers `validate_token` for
the tokens below as auth would, and records the housekeeping calls the tasks make (`remove_expired`).
`FakeService` stands in for db, deploy, queue and webhooks: an RPC method per name, a `/health` answer, and every call
recorded, so a test sees exactly which tasks ran.
"""

from typing import Any

import pytest

from dotdo_dev.testing import StandInAuth, bearer, worker_root
from shared.envelope import success

ROOT = worker_root(__file__)  # puts src/ on sys.path, as Cloudflare's module root

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "operator-token": {"id": "usr_ops", "type": "user", "role": "user", "permissions": ["schedule:admin"]},
    "reader-token": {"id": "usr_reader", "type": "user", "role": "user", "permissions": ["schedule:read"]},
    "stranger-token": {"id": "usr_stranger", "type": "user", "role": "user", "permissions": ["db:read"]},
}
ADMIN, OPERATOR, READER, STRANGER = (
    bearer(t) for t in ("admin-token", "operator-token", "reader-token", "stranger-token")
)
P_ADMIN, P_READER, P_STRANGER = (PRINCIPALS[t] for t in ("admin-token", "reader-token", "stranger-token"))


class FakeService:
    """A bound service: `answers` maps an RPC method to its result; `calls` lists (method, principal, args)."""

    def __init__(self, name: str, answers: dict[str, Any] | None = None, healthy: bool = True) -> None:
        self.name = name
        self.answers = answers or {}
        self.healthy = healthy
        self.calls: list[tuple[str, Any, Any]] = []

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_") or method not in self.answers:
            raise AttributeError(method)

        async def rpc(principal: Any, args: Any = None) -> Any:
            self.calls.append((method, principal, args))
            answer = self.answers[method]
            if isinstance(answer, Exception):
                raise answer
            return answer(args) if callable(answer) else answer

        return rpc

    async def fetch(self, url: str, **_: Any) -> Any:
        from workers import Response

        self.calls.append(("fetch", None, url))
        if self.healthy:
            return Response.json(success({"service": self.name, "status": "ok"}))
        return Response.json({"success": False, "error": {"code": "DOWN", "message": "down"}}, status=503)


class FakeAuth(StandInAuth, FakeService):
    def __init__(self, principals: dict[str, dict[str, Any]]) -> None:
        StandInAuth.__init__(self, principals)
        FakeService.__init__(self, "auth", {"remove_expired": lambda args: {"scope": args["scope"], "removed": 1}})


@pytest.fixture
def principals():
    return PRINCIPALS


@pytest.fixture
def auth(principals):
    return FakeAuth(principals)


@pytest.fixture
def db():
    return FakeService(
        "db",
        {
            "purge_audit_log": {"audit_log": 4, "before": "2026-09-01T00:00:00.000Z"},
            "usage_stats": {"things": 7, "relationships": 2, "namespaces": [], "types": []},
        },
    )


@pytest.fixture
def deploy():
    return FakeService("deploy", {"prune_bundles": {"bundles": 1, "chunks": 3}})


@pytest.fixture
def queue():
    return FakeService(
        "queue", {"purge_dead_letters": {"dead_letters": 2, "jobs_discarded": 1, "before": "2026-11-01"}}
    )


@pytest.fixture
def webhooks():
    return FakeService(
        "webhooks",
        {
            "purge_events": {"events": 3, "before": "2026-11-01"},
            "retry_failed": {"retried": ["whe_1"], "count": 1, "has_more": False},
        },
    )


@pytest.fixture
def bindings(auth, db, deploy, queue, webhooks):
    return {
        "AUTH_SERVICE": auth,
        "DB_SERVICE": db,
        "DEPLOY_SERVICE": deploy,
        "QUEUE_SERVICE": queue,
        "WEBHOOKS_SERVICE": webhooks,
    }


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    """Retries wait milliseconds here, not seconds (the schedule of waits is tested on its own)."""
    import runner

    monkeypatch.setattr(runner, "BACKOFF_BASE", 0.01)


async def history(worker, **query) -> tuple[list[dict], dict]:
    from dotdo_dev.testing import envelope

    qs = "&".join(f"{k}={v}" for k, v in query.items())
    reply = await worker.fetch(f"/history?{qs}", headers=ADMIN)
    body = await envelope(reply)
    assert reply.status == 200, body
    return body["data"], body["meta"]
