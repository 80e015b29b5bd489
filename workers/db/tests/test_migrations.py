"""The schema: tables.py matches what migrations create, migrations apply once, concurrent first use is safe."""

import asyncio

import pytest
from conftest import ADMIN, CONTACTS, P_WRITER, PRINCIPALS, ROOT

import storage
import tables
from dotdo_dev.schema_check import schema_mismatches
from dotdo_dev.testing import StandInAuth, WorkerHarness
from dotdo_dev.testing import envelope as body
from migrations import MIGRATIONS, MOVED_OUT
from shared.migrations import apply_migrations

AUTHS_OLD_TABLES = ("users", "organizations", "memberships", "permission_grants", "api_keys", "sessions")


async def rows(db, sql, *params):
    return [dict(r) for r in (await db.prepare(sql).bind(*params).all())["results"]]


async def test_declared_tables_match_sqlite(worker):
    await worker.rpc("migrate")
    declared = tables.OWN | tables.TABLES
    assert set(declared) == {"audit_log"}  # db's own; no service's manifest declares [tables] today
    assert await schema_mismatches(worker.env.DB, declared, not_records=("things", "relationships")) == []


async def test_the_records_rpc_describes_what_it_serves(worker, contacts):
    described = {"columns": CONTACTS.all_columns, "required": ["email"], "service": "crm"}
    assert await worker.rpc("describe_tables") == {"crm_contacts": described}


async def test_schema_visible_to_admin_sql(worker):
    response = await worker.fetch(
        "/sql",
        method="POST",
        headers=ADMIN,
        json={"sql": "SELECT name FROM pragma_table_info(?)", "params": ["audit_log"]},
    )
    names = [r["name"] for r in (await body(response))["data"]["rows"]]
    assert set(names) == set(tables.AUDIT_LOG.all_columns)


async def test_migration_3_drops_the_tables_other_services_kept_in_db(worker):
    # A database from before auth had its own: its records lived here, and /sql could read them.
    db = worker.env.DB
    assert await apply_migrations(db, MIGRATIONS[:2]) == 2
    stamp = "2026-01-01T00:00:00.000Z"
    for sql in (
        "INSERT INTO api_keys (id, name, owner_id, key_hash, environment, last4, created_at, updated_at)"
        " VALUES ('key_old', 'ci', 'usr_1', 'hash', 'live', 'abcd', ?, ?)",
        "INSERT INTO queue_jobs (id, type, status, created_at, updated_at) VALUES ('job_1', 't', 's', ?, ?)",
        "INSERT INTO audit_log (id, actor, action, created_at, updated_at) VALUES ('aud_1', 'a', 'b', ?, ?)",
    ):
        await db.prepare(sql).bind(stamp, stamp).run()
    if hasattr(db, "_dotdo_schema_version"):
        del db._dotdo_schema_version

    assert await worker.rpc("migrate") == {"schema_version": 3}
    names = {r["name"] for r in await rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not names & {*MOVED_OUT, *AUTHS_OLD_TABLES}
    assert {"things", "relationships", "audit_log", "_migrations"} <= names
    assert await rows(db, "SELECT id FROM audit_log") == [{"id": "aud_1"}]  # db's own table stays, rows and all
    indexes = {r["name"] for r in await rows(db, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not {i for i in indexes if i.startswith(("users_", "api_keys_", "sessions_", "queue_jobs_"))}
    # and admin SQL finds nothing of auth's: the table is not there at all
    response = await worker.fetch("/sql", method="POST", headers=ADMIN, json={"sql": "SELECT key_hash FROM api_keys"})
    assert (response.status, (await response.json())["error"]["code"]) == (400, "SQL_ERROR")


async def test_migrations_apply_once(worker, tmp_path):
    assert await worker.rpc("migrate") == {"schema_version": 3}
    assert await worker.rpc("migrate") == {"schema_version": 3}
    # a new isolate on the same database (nothing remembered on the binding) finds it done
    again = WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": object()})
    assert await again.rpc("migrate") == {"schema_version": 3}
    db = worker.env.DB
    assert await apply_migrations(db, MIGRATIONS) == 3
    fresh_binding = again.env.DB
    if hasattr(fresh_binding, "_dotdo_schema_version"):
        del fresh_binding._dotdo_schema_version
    assert await apply_migrations(fresh_binding, MIGRATIONS) == 3
    assert await rows(db, "SELECT version, name FROM _migrations") == [
        {"version": 1, "name": "graph_records_audit"},
        {"version": 2, "name": "owners"},
        {"version": 3, "name": "other_services_records_out"},
    ]


async def test_concurrent_first_requests_on_a_fresh_database(tmp_path, auth, monkeypatch):
    monkeypatch.setattr(storage.DATABASE, "version", None)  # a new isolate, as a new process has it
    fresh = WorkerHarness(ROOT, state_dir=tmp_path / "fresh", bindings={"AUTH_SERVICE": auth})
    first, second = await asyncio.gather(fresh.fetch("/health"), fresh.fetch("/health"))
    for response in (first, second):
        assert response.status == 200
        assert (await response.json())["data"]["schema_version"] == 3
    assert await rows(fresh.env.DB, "SELECT version FROM _migrations") == [
        {"version": 1},
        {"version": 2},
        {"version": 3},
    ]


class Yielding:
    """A D1 binding that lets other tasks run before each batch, so two migrators really interleave."""

    def __init__(self, db):
        self.db = db

    def prepare(self, sql):
        return self.db.prepare(sql)

    async def batch(self, statements):
        await asyncio.sleep(0)
        return await self.db.batch(statements)


async def test_two_isolates_racing_to_migrate(tmp_path, auth):
    one = WorkerHarness(ROOT, state_dir=tmp_path / "race", bindings={"AUTH_SERVICE": auth})
    two = WorkerHarness(ROOT, state_dir=tmp_path / "race", bindings={"AUTH_SERVICE": auth})
    assert one.env.DB is not two.env.DB
    versions = await asyncio.gather(
        apply_migrations(Yielding(one.env.DB), MIGRATIONS), apply_migrations(Yielding(two.env.DB), MIGRATIONS)
    )
    assert versions == [3, 3]
    assert await rows(one.env.DB, "SELECT version FROM _migrations") == [{"version": 1}, {"version": 2}, {"version": 3}]
    # both isolates then serve requests on the one schema
    await one.rpc("upsert_thing", P_WRITER, {"ns": "acme", "id": "x"})
    assert (await two.rpc("get_thing", P_WRITER, "acme", "x"))["id"] == "x"


async def test_a_second_database_in_the_same_process_is_brought_up_to_date(tmp_path, worker):
    # The schema check is remembered once per isolate (env is wrapped anew per request on Cloudflare);
    # a database that turns out to lack the schema is migrated on the spot and the statement retried.
    await worker.rpc("upsert_thing", P_WRITER, {"ns": "a", "id": "1"})  # the first database, checked
    other = WorkerHarness(ROOT, state_dir=tmp_path / "other", bindings={"AUTH_SERVICE": StandInAuth(PRINCIPALS)})
    assert await other.rpc("count_things", P_WRITER) == 0  # a fresh file: healed, not "no such table"
    assert (await other.rpc("upsert_thing", P_WRITER, {"ns": "b", "id": "2"}))["created"] is True
    with pytest.raises(Exception, match="NOT_FOUND"):
        await other.rpc("get_thing", P_WRITER, "a", "1")
