"""The db worker in this process, on a SQLite file per test.

HTTP routes authenticate through `AUTH_SERVICE`. Here a stand-in answers `validate_token` for a
few fixed tokens (as the auth service answers: a principal, or an RPC error carrying 401), so
these tests exercise db alone; tests/e2e runs db behind the real auth service.
"""

import pytest

from dotdo_dev.testing import WorkerHarness, worker_root
from shared.errors import Unauthorized, rpc_error

ROOT = worker_root(__file__)  # puts workers/db/src on sys.path, as Cloudflare's module root

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "writer-token": {"id": "usr_writer", "type": "user", "role": "user", "permissions": ["db:read", "db:write"]},
    "reader-token": {"id": "usr_reader", "type": "user", "role": "viewer", "permissions": ["db:read"]},
    "nothing-token": {"id": "usr_nobody", "type": "api_key", "role": "user", "permissions": ["deploy"]},
    # two users and organisation members, for ownership and visibility (test_access.py)
    "alice-token": {"id": "usr_alice", "type": "user", "role": "user", "permissions": ["db:read", "db:write"]},
    "bob-token": {"id": "usr_bob", "type": "user", "role": "user", "permissions": ["db:read", "db:write"]},
    "member-token": {
        "id": "usr_carol",
        "type": "user",
        "role": "user",
        "org_id": "org_1",
        "permissions": ["db:read", "db:write"],
    },
    "org-viewer-token": {
        "id": "usr_dan",
        "type": "user",
        "role": "viewer",
        "org_id": "org_1",
        "permissions": ["db:read"],
    },
}


class StandInAuth:
    """Answers like the auth service's `validate_token` RPC method, for the tokens above."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def validate_token(self, token: str, request_id: str | None = None) -> dict:
        self.calls.append(token)
        if token not in PRINCIPALS:
            raise rpc_error(Unauthorized("Invalid API key or token", code="INVALID_TOKEN"))
        return dict(PRINCIPALS[token])


@pytest.fixture
def auth():
    return StandInAuth()


@pytest.fixture
def worker(tmp_path, auth):
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": auth})


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


ADMIN, WRITER, READER, NOTHING = (bearer(t) for t in ("admin-token", "writer-token", "reader-token", "nothing-token"))

#: The principals of the tokens above, as RPC callers pass them (the principal a call acts for).
P_ADMIN, P_WRITER, P_READER = (PRINCIPALS[t] for t in ("admin-token", "writer-token", "reader-token"))


def user(id: str, *, org_id: str | None = None, role: str = "user", permissions=("db:read", "db:write")) -> dict:
    """A principal as auth's `validate_token` answers it (an API key's or a session's user)."""
    return {"id": id, "type": "user", "role": role, "org_id": org_id, "permissions": list(permissions)}


async def rpc_outcome(worker, method: str, *args, **kwargs):
    """Call an RPC method: `(value, None)` if it answered, `(None, AppError)` if it raised (rebuilt, with
    `.code`/`.status`; anything that is not an AppError comes back as UPSTREAM_ERROR 502)."""
    from shared.errors import from_rpc_exception

    try:
        return await worker.rpc(method, *args, **kwargs), None
    except Exception as exc:  # the RPC boundary raises plain exceptions
        return None, from_rpc_exception(exc, service="db")


async def rpc_fails(worker, method: str, *args, **kwargs):
    """Call an RPC method that must fail with an AppError; the rebuilt error (`.code`, `.status`, ...)."""
    value, err = await rpc_outcome(worker, method, *args, **kwargs)
    assert err is not None, f"{method} succeeded with {value!r}"
    assert err.code != "UPSTREAM_ERROR", f"{method} raised something that is not an AppError"
    return err


async def body(response) -> dict:
    """A response's JSON envelope, checked to have the envelope's shape."""
    data = await response.json()
    assert set(data) >= {"success", "meta"}, data
    assert ("data" in data) if data["success"] else ("error" in data), data
    return data


async def make_thing(worker, ns: str, id: str, *, principal: dict = P_WRITER, **fields) -> dict:
    """Upsert a thing over RPC acting for `principal` (the writer's by default); the stored thing (with `created`)."""
    return await worker.rpc("upsert_thing", principal, {"ns": ns, "id": id, **fields})
