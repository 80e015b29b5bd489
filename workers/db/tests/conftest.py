"""The db worker in this process, on a SQLite file per test.

HTTP routes authenticate through `AUTH_SERVICE`. Here a stand-in (dotdo_dev.pytest_plugin's `auth`)
answers `validate_token` for the tokens below (as the auth service answers: a principal, or an RPC
error carrying 401), so these tests exercise db alone; tests/e2e runs db behind the real auth service.
"""

import pytest

from dotdo_dev.testing import bearer, worker_root
from shared.records import table

ROOT = worker_root(__file__)  # puts workers/db/src on sys.path, as Cloudflare's module root

import tables  # noqa: E402 - db's own module: importable once ROOT is on sys.path

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


@pytest.fixture
def principals():
    return PRINCIPALS


ADMIN, WRITER, READER, NOTHING = (bearer(t) for t in ("admin-token", "writer-token", "reader-token", "nothing-token"))

#: The principals of the tokens above, as RPC callers pass them (the principal a call acts for).
P_ADMIN, P_WRITER, P_READER = (PRINCIPALS[t] for t in ("admin-token", "writer-token", "reader-token"))


def user(id: str, *, org_id: str | None = None, role: str = "user", permissions=("db:read", "db:write")) -> dict:
    """A principal as auth's `validate_token` answers it (an API key's or a session's user)."""
    return {"id": id, "type": "user", "role": role, "org_id": org_id, "permissions": list(permissions)}


async def make_thing(worker, ns: str, id: str, *, principal: dict = P_WRITER, **fields) -> dict:
    """Upsert a thing over RPC acting for `principal` (the writer's by default); the stored thing (with `created`)."""
    return await worker.rpc("upsert_thing", principal, {"ns": ns, "id": id, **fields})


#: A record table the tests declare for db's records RPC (db serves none today): what a service keeping
#: its records in db would declare in tables.py, and the statements its migration would run.
CONTACTS = table(
    "contacts",
    "ctc",
    "email",
    email="text",
    name="text",
    score="integer",
    tags="json",
    active="boolean",
    seen_at="timestamp",
    created_by="text",
)
CONTACTS_SCHEMA = (
    """CREATE TABLE contacts (id TEXT PRIMARY KEY, email TEXT NOT NULL, name TEXT, score INTEGER NOT NULL DEFAULT 0,
        tags TEXT NOT NULL DEFAULT '[]', active INTEGER, seen_at TEXT, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, created_by TEXT)""",
    "CREATE UNIQUE INDEX contacts_email ON contacts (email)",
)


@pytest.fixture
async def contacts(worker, monkeypatch):
    """db serving one record table the test declares (`contacts`), made in its database."""
    monkeypatch.setitem(tables.TABLES, CONTACTS.name, CONTACTS)
    await worker.rpc("migrate")
    for sql in CONTACTS_SCHEMA:
        await worker.env.DB.prepare(sql).run()
    return worker


def record_calls(table: str) -> list[tuple[str, tuple]]:
    """A call of every records RPC method on `table` (each valid but for the table): (method, args)."""
    return [
        ("insert_record", (table, {"email": "x@y.z"})),
        ("get_record", (table, "usr_1")),
        ("find_records", (table,)),
        ("count_records", (table,)),
        ("update_record", (table, "usr_1", {"name": "x"})),
        ("increment_record", (table, "usr_1", "score")),
        ("delete_record", (table, "usr_1")),
        ("delete_records", (table, {"id": "usr_1"})),
    ]
