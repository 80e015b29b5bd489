"""The schema: tables.py matches what migrations create, migrations apply once, concurrent first use is safe."""

import asyncio

import pytest
from conftest import ADMIN, P_WRITER, PRINCIPALS, ROOT

from dotdo_dev.testing import StandInAuth, WorkerHarness
from dotdo_dev.testing import envelope as body
from migrations import MIGRATIONS
from shared.migrations import apply_migrations

SQL_TYPES = {"text": "TEXT", "timestamp": "TEXT", "json": "TEXT", "integer": "INTEGER", "boolean": "INTEGER"}
MANAGED = {"id", "created_at", "updated_at"}


async def rows(db, sql, *params):
    return [dict(r) for r in (await db.prepare(sql).bind(*params).all())["results"]]


async def test_declared_tables_match_sqlite(worker):
    declared = await worker.rpc("describe_tables")
    assert declared  # the RPC answers data, not nothing
    await worker.rpc("migrate")
    db = worker.env.DB
    record_tables = {
        r["name"]
        for r in await rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")
        if r["name"] not in {"things", "relationships", "_migrations"}
        and not r["name"].startswith(("things_fts", "sqlite_"))
    }
    assert record_tables == set(declared), "a table is created but not declared, or declared but not created"
    for table, spec in declared.items():
        info = await rows(db, 'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)', table)
        actual = {c["name"]: c for c in info}
        assert set(actual) == set(spec["columns"]), table
        for column, kind in spec["columns"].items():
            assert actual[column]["type"] == SQL_TYPES[kind], f"{table}.{column}"
        assert [c["name"] for c in info if c["pk"]] == ["id"], table
        for column in spec["required"]:
            assert actual[column]["notnull"], f"{table}.{column} is required but nullable"
        # a NOT NULL column without a default that an insert need not give would fail at insert time
        must_give = {c["name"] for c in info if c["notnull"] and c["dflt_value"] is None} - MANAGED
        assert must_give == set(spec["required"]), table


async def test_schema_visible_to_admin_sql(worker):
    declared = await worker.rpc("describe_tables")
    response = await worker.fetch(
        "/sql", method="POST", headers=ADMIN, json={"sql": "SELECT name FROM pragma_table_info(?)", "params": ["users"]}
    )
    names = [r["name"] for r in (await body(response))["data"]["rows"]]
    assert set(names) == set(declared["users"]["columns"])


async def test_every_declared_table_accepts_its_required_columns(worker):
    declared = await worker.rpc("describe_tables")
    samples = {"text": "x", "timestamp": "2026-01-01T00:00:00.000Z", "json": {}, "integer": 1, "boolean": True}
    for table, spec in declared.items():
        values = {c: samples[spec["columns"][c]] for c in spec["required"]} or {"name": "only optional columns"}
        stored = await worker.rpc("insert_record", table, values)
        assert stored["id"]
        assert await worker.rpc("count_records", table) == 1


async def test_migrations_apply_once(worker, tmp_path):
    assert await worker.rpc("migrate") == {"schema_version": 2}
    assert await worker.rpc("migrate") == {"schema_version": 2}
    # a new isolate on the same database (nothing remembered on the binding) finds it done
    again = WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": object()})
    assert await again.rpc("migrate") == {"schema_version": 2}
    db = worker.env.DB
    assert await apply_migrations(db, MIGRATIONS) == 2
    fresh_binding = again.env.DB
    if hasattr(fresh_binding, "_dotdo_schema_version"):
        del fresh_binding._dotdo_schema_version
    assert await apply_migrations(fresh_binding, MIGRATIONS) == 2
    assert await rows(db, "SELECT version, name FROM _migrations") == [
        {"version": 1, "name": "graph_records_audit"},
        {"version": 2, "name": "owners"},
    ]


async def test_concurrent_first_requests_on_a_fresh_database(tmp_path, auth):
    fresh = WorkerHarness(ROOT, state_dir=tmp_path / "fresh", bindings={"AUTH_SERVICE": auth})
    first, second = await asyncio.gather(fresh.fetch("/health"), fresh.fetch("/health"))
    for response in (first, second):
        assert response.status == 200
        assert (await response.json())["data"]["schema_version"] == 2
    assert await rows(fresh.env.DB, "SELECT version FROM _migrations") == [{"version": 1}, {"version": 2}]


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
    assert versions == [2, 2]
    assert await rows(one.env.DB, "SELECT version FROM _migrations") == [{"version": 1}, {"version": 2}]
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
