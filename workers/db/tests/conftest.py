"""The db worker in this process, on a SQLite file per test.

HTTP routes authenticate through `AUTH_SERVICE`. Here a stand-in (dotdo_dev.pytest_plugin's `auth`)
answers `validate_token` for the tokens below (as the auth service answers: a principal, or an RPC
error carrying 401), so these tests exercise db alone; tests/e2e runs db behind the real auth service.
"""

import pytest

from dotdo_dev.testing import bearer, worker_root
from shared.principals import service_principal
from shared.records import declared_table

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


#: A service keeping records in db, as `shared/registry.py` holds its manifest after `make registry`
#: (`[tables.crm_contacts]` in workers/crm/service.toml: test_served_tables.py writes that manifest and
#: gets exactly this). No service keeps records in db today, so the tests declare this one.
CRM = {
    "name": "crm",
    "tables": {
        "crm_contacts": {
            "prefix": "ctc",
            "columns": {
                "email": "text",
                "name": "text",
                "score": "integer",
                "tags": "json",
                "active": "boolean",
                "seen_at": "timestamp",
                "created_by": "text",
            },
            "required": ["email"],
        }
    },
}
CONTACTS = declared_table("crm_contacts", CRM["tables"]["crm_contacts"])
#: The principal crm acts as when it stores its records (the owner of crm_contacts), and other services'.
P_CRM, P_SHOP = service_principal("crm"), service_principal("shop")


def serve(monkeypatch, services: dict) -> None:
    """db serving the tables of `services` (registry data, as `SERVICES`) besides any it serves, for one test."""
    served, owners = tables.served(services)
    for name, spec in served.items():
        monkeypatch.setitem(tables.TABLES, name, spec)
        monkeypatch.setitem(tables.OWNERS, name, owners[name])


@pytest.fixture
async def contacts(worker, monkeypatch):
    """db serving crm's `crm_contacts` (declared by a registry entry of the test's), made on first use."""
    serve(monkeypatch, {"crm": CRM})
    await worker.rpc("migrate")  # this isolate's check ran before the table was declared: as after a restart
    return worker


def record_calls(table: str, principal: dict = P_CRM) -> list[tuple[str, tuple]]:
    """A call of every records RPC method on `table` acting for `principal` (each valid but for the table and
    the principal): (method, args)."""
    return [
        ("insert_record", (principal, table, {"email": "x@y.z"})),
        ("get_record", (principal, table, "usr_1")),
        ("find_records", (principal, table)),
        ("count_records", (principal, table)),
        ("update_record", (principal, table, "usr_1", {"name": "x"})),
        ("increment_record", (principal, table, "usr_1", "score")),
        ("delete_record", (principal, table, "usr_1")),
        ("delete_records", (principal, table, {"id": "usr_1"})),
    ]
