"""The typed-record engine (`shared.records`) on a real local D1: declarations, checked values, where
operators, ordering and paging, conflicts, compare-and-set, atomic increments, concurrency.

The tables here are the test's own, declared and migrated as a worker declares and migrates its
tables (auth: `workers/auth/src/tables.py`; db's records RPC: `workers/db/src/tables.py`).
"""

import asyncio
from types import SimpleNamespace

import pytest

from dotdo_dev.runtime.bindings.d1 import D1Database
from dotdo_dev.schema_check import schema_mismatches
from shared import records
from shared.errors import AppError
from shared.migrations import Migration
from shared.records import Table, table, tables
from shared.storage import Database

_STAMPS = "created_at TEXT NOT NULL, updated_at TEXT NOT NULL"
SCHEMA = [
    Migration(
        1,
        "records_under_test",
        (
            f"""CREATE TABLE tasks (id TEXT PRIMARY KEY, name TEXT NOT NULL, cron TEXT NOT NULL, handler TEXT NOT NULL,
                payload TEXT NOT NULL DEFAULT '{{}}', enabled INTEGER NOT NULL DEFAULT 1, last_run_at TEXT, {_STAMPS},
                created_by TEXT)""",
            "CREATE UNIQUE INDEX tasks_name ON tasks (name)",
            f"""CREATE TABLE runs (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, status TEXT NOT NULL,
                attempt INTEGER NOT NULL DEFAULT 1, {_STAMPS})""",
            f"CREATE TABLE people (id TEXT PRIMARY KEY, email TEXT, name TEXT, disabled_at TEXT, {_STAMPS})",
            "CREATE UNIQUE INDEX people_email ON people (email)",
            f"CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT NOT NULL, {_STAMPS})",
            f"""CREATE TABLE keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_id TEXT NOT NULL,
                key_hash TEXT NOT NULL, permissions TEXT NOT NULL DEFAULT '[]', {_STAMPS})""",
            f"""CREATE TABLE events (id TEXT PRIMARY KEY, provider TEXT NOT NULL, event_id TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, {_STAMPS})""",
            "CREATE UNIQUE INDEX events_unique ON events (provider, event_id)",
            f"""CREATE TABLE jobs (id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL,
                payload TEXT NOT NULL DEFAULT '{{}}', attempts INTEGER NOT NULL DEFAULT 0, run_at TEXT, {_STAMPS})""",
            f"CREATE TABLE claims (id TEXT PRIMARY KEY, expires_at TEXT NOT NULL, used_at TEXT, {_STAMPS})",
            f"""CREATE TABLE log (id TEXT PRIMARY KEY, action TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{{}}',
                {_STAMPS})""",
        ),
    )
]
TABLES = tables(
    table(
        "tasks",
        "tsk",
        "name cron handler",
        name="text",
        cron="text",
        handler="text",
        payload="json",
        enabled="boolean",
        last_run_at="timestamp",
        created_by="text",
    ),
    table("runs", "run", "task_id status", task_id="text", status="text", attempt="integer"),
    table("people", "usr", "", email="text", name="text", disabled_at="timestamp"),
    table("groups", "grp", "name", name="text"),
    table("keys", "key", "name owner_id key_hash", name="text", owner_id="text", key_hash="text", permissions="json"),
    table("events", "evt", "provider event_id", provider="text", event_id="text", attempts="integer"),
    table(
        "jobs", "job", "type status", type="text", status="text", payload="json", attempts="integer", run_at="timestamp"
    ),
    table("claims", "clm", "expires_at", expires_at="timestamp", used_at="timestamp"),
    table("log", "log", "action", action="text", details="json"),
)
TASK = {"name": "nightly", "cron": "0 3 * * *", "handler": "cleanup"}
KEY = {"name": "ci", "owner_id": "usr_1", "key_hash": "h" * 64}


@pytest.fixture
async def d1(tmp_path):
    return D1Database(tmp_path / "d1.sqlite")


@pytest.fixture
async def op(d1):
    """`await op("insert_record", table, values, ...)`: the engine's function on this database and `TABLES`."""
    db = await Database("DB", SCHEMA).open(SimpleNamespace(DB=d1))

    async def call(name, *args, **kwargs):
        return await getattr(records, name)(db, TABLES, *args, **kwargs)

    return call


async def fails(op, name, *args, **kwargs) -> AppError:
    with pytest.raises(AppError) as info:
        await op(name, *args, **kwargs)
    return info.value


# -- declarations --------------------------------------------------------------------------------------


def test_a_table_refuses_unknown_types_and_undeclared_required_columns():
    with pytest.raises(ValueError, match=r"t\.a: unknown type 'varchar'"):
        Table("t", "t", {"a": "varchar"})
    with pytest.raises(ValueError, match=r"required columns \['b'\] are not declared"):
        table("t", "t", "a b", a="text")
    declared = table("t", "t", "a", a="text", n="integer")
    assert declared == Table("t", "t", {"a": "text", "n": "integer"}, frozenset({"a"}))
    assert list(declared.all_columns) == ["id", "a", "n", "created_at", "updated_at"]
    assert tables(declared, table("u", "u", "")) == {"t": declared, "u": Table("u", "u", {})}


async def test_the_test_schema_is_what_the_registry_declares(op, d1):
    await op("count_records", "tasks")  # opened: migrated
    assert await schema_mismatches(d1, TABLES) == []


async def test_describe_tables():
    described = records.describe_tables(TABLES)
    assert list(described) == sorted(TABLES)
    assert described["keys"] == {
        "columns": {
            "id": "text",
            "name": "text",
            "owner_id": "text",
            "key_hash": "text",
            "permissions": "json",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
        "required": ["key_hash", "name", "owner_id"],
    }
    assert records.describe_tables({}) == {}


# -- values --------------------------------------------------------------------------------------------


async def test_round_trip_decodes_types(op):
    task = await op(
        "insert_record",
        "tasks",
        TASK | {"payload": {"days": [1, 2], "deep": {"x": None}}, "enabled": False},
        actor="usr_7",
    )
    assert task["id"].startswith("tsk_")
    assert task["payload"] == {"days": [1, 2], "deep": {"x": None}}
    assert task["enabled"] is False
    assert task["created_by"] == "usr_7"
    assert task["created_at"] == task["updated_at"]
    assert task["last_run_at"] is None
    assert await op("get_record", "tasks", task["id"]) == task

    run = await op("insert_record", "runs", {"task_id": task["id"], "status": "ok", "attempt": 3}, actor="usr_7")
    assert run["attempt"] == 3
    assert isinstance(run["attempt"], int)
    assert run["id"].startswith("run_")
    assert "created_by" not in run  # a table without the column records no actor

    key = await op("insert_record", "keys", KEY | {"permissions": ["db:read"]})
    assert key["permissions"] == ["db:read"]
    assert key["id"].startswith("key_")
    # a JSON column holding a scalar, a list, a string
    for value in (7, "text", [1, "a"], True):
        stored = await op("insert_record", "log", {"action": "b", "details": value})
        assert stored["details"] == value
    # boolean true round-trips too
    on = await op("insert_record", "tasks", TASK | {"name": "other", "enabled": True})
    assert (await op("get_record", "tasks", on["id"]))["enabled"] is True


async def test_an_actor_never_replaces_a_given_created_by(op):
    task = await op("insert_record", "tasks", TASK | {"created_by": "usr_given"}, actor="usr_actor")
    assert task["created_by"] == "usr_given"
    assert (await op("insert_record", "tasks", TASK | {"name": "x"}))["created_by"] is None


async def test_given_id_and_generated_ids_are_distinct(op):
    given = await op("insert_record", "people", {"id": "usr_given", "email": "g@x.io"})
    assert given["id"] == "usr_given"
    ids = {(await op("insert_record", "groups", {"name": f"o{i}"}))["id"] for i in range(5)}
    assert len(ids) == 5
    assert all(i.startswith("grp_") for i in ids)
    assert await op("get_record", "people", "usr_given") == given
    assert await op("get_record", "people", "usr_missing") is None


async def test_bad_given_ids(op):
    for bad in ("", "-x", "has space", "x" * 129, 5, "a'b"):
        err = await fails(op, "insert_record", "people", {"id": bad, "email": "a@b.c"})
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert (await fails(op, "get_record", "people", "bad id")).code == "VALIDATION_ERROR"
    assert (await op("insert_record", "people", {"id": "x" * 128}))["id"] == "x" * 128
    assert await op("count_records", "people") == 1


async def test_conflicts(op):
    await op("insert_record", "people", {"id": "usr_1", "email": "a@x.io"})
    err = await fails(op, "insert_record", "people", {"id": "usr_1", "email": "b@x.io"})
    assert (err.status, err.code) == (409, "CONFLICT")
    err = await fails(op, "insert_record", "people", {"email": "a@x.io"})
    assert (err.status, err.code) == (409, "CONFLICT")
    event = {"provider": "stripe", "event_id": "evt_1"}
    await op("insert_record", "events", event)
    assert (await fails(op, "insert_record", "events", event)).code == "CONFLICT"
    # same event id from another provider is fine
    await op("insert_record", "events", event | {"provider": "github"})
    assert await op("count_records", "events") == 2
    # update into a unique value conflicts too
    other = await op("insert_record", "people", {"email": "c@x.io"})
    assert (await fails(op, "update_record", "people", other["id"], {"email": "a@x.io"})).code == "CONFLICT"
    assert (await op("get_record", "people", other["id"]))["email"] == "c@x.io"


async def test_required_columns(op):
    err = await fails(op, "insert_record", "keys", {"name": "ci"})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert sorted(d["field"] for d in err.details) == ["key_hash", "owner_id"]
    err = await fails(op, "insert_record", "groups", {"name": None})
    assert [d["field"] for d in err.details] == ["name"]
    assert await op("count_records", "keys") == 0


async def test_null_into_a_not_null_column_is_400_not_500(op):
    # permissions is optional (it has a default) but NOT NULL: an explicit null is a client error
    err = await fails(op, "insert_record", "keys", KEY | {"permissions": None})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert err.details[0]["field"] == "permissions"
    key = await op("insert_record", "keys", KEY)
    assert key["permissions"] == []
    err = await fails(op, "update_record", "keys", key["id"], {"name": None})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert (await op("get_record", "keys", key["id"]))["name"] == "ci"


async def test_unknown_table_and_columns(op):
    err = await fails(op, "insert_record", "nope", {"a": 1})
    assert (err.status, err.code) == (400, "UNKNOWN_TABLE")
    assert err.details == {"tables": sorted(TABLES)}
    for method, args in [
        ("get_record", ("_migrations", "x")),  # the bookkeeping exists in the database, but is not declared
        ("find_records", ("sqlite_master",)),
        ("count_records", (5,)),
        ("delete_records", (None, {"a": 1})),
    ]:
        assert (await fails(op, method, *args)).code == "UNKNOWN_TABLE"
    err = await fails(op, "insert_record", "people", {"email": "a@b.c", "password": "x"})
    assert (err.status, err.code) == (400, "UNKNOWN_COLUMN")
    assert err.details == {"table": "people", "columns": sorted(TABLES["people"].all_columns)}
    user = await op("insert_record", "people", {"email": "a@b.c"})
    assert (await fails(op, "find_records", "people", {"password": "x"})).code == "UNKNOWN_COLUMN"
    bad_cond = [{"field": "nope", "operator": "eq", "value": 1}]
    assert (await fails(op, "find_records", "people", bad_cond)).code == "UNKNOWN_COLUMN"
    assert (await fails(op, "find_records", "people", None, "nope")).code == "UNKNOWN_COLUMN"
    assert (await fails(op, "find_records", "people", None, ["-nope"])).code == "UNKNOWN_COLUMN"
    assert (await fails(op, "find_records", "people", None, [{"field": "x"}])).code == "UNKNOWN_COLUMN"
    assert (await fails(op, "update_record", "people", user["id"], {"nope": 1})).code == "UNKNOWN_COLUMN"
    assert (await fails(op, "increment_record", "people", user["id"], "nope")).code == "UNKNOWN_COLUMN"


async def test_an_empty_registry_serves_nothing(d1):
    db = await Database("DB", SCHEMA).open(SimpleNamespace(DB=d1))
    with pytest.raises(AppError) as info:
        await records.get_record(db, {}, "tasks", "tsk_1")
    assert (info.value.code, info.value.details) == ("UNKNOWN_TABLE", {"tables": []})


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("runs", {"task_id": "t", "status": "s", "attempt": "3"}),
        ("runs", {"task_id": "t", "status": "s", "attempt": True}),
        ("runs", {"task_id": "t", "status": "s", "attempt": 1.5}),
        ("runs", {"task_id": "t", "status": "s", "attempt": 2**53}),
        ("runs", {"task_id": "t", "status": "s", "attempt": -(2**53)}),
        ("tasks", TASK | {"enabled": 1}),
        ("tasks", TASK | {"enabled": "true"}),
        ("tasks", TASK | {"payload": {1, 2}}),
        ("tasks", TASK | {"payload": float("nan")}),
        ("people", {"email": 5}),
        ("people", {"email": ["a"]}),
        ("people", {"disabled_at": {"t": 1}}),
        ("people", {"disabled_at": "2026-01-01"}),
        ("people", {"email": "x" * (64 * 1024 + 1)}),
        ("log", {"action": "b", "details": {"x": "y" * (256 * 1024)}}),
        ("people", {}),
        ("people", ["email"]),
    ],
)
async def test_wrong_value_types_are_400(op, name, values):
    err = await fails(op, "insert_record", name, values)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert await op("count_records", name) == 0


async def test_the_largest_values_are_taken(op):
    run = await op("insert_record", "runs", {"task_id": "t", "status": "s", "attempt": 2**53 - 1})
    assert run["attempt"] == 2**53 - 1
    assert (await op("insert_record", "runs", {"task_id": "t", "status": "s", "attempt": -(2**53 - 1)}))["attempt"] < 0
    assert (await op("insert_record", "people", {"email": "x" * 64 * 1024}))["email"] == "x" * 64 * 1024
    big = {"x": "y" * (256 * 1024 - 8)}  # {"x":"..."} is exactly 256 KiB of JSON
    assert (await op("insert_record", "log", {"action": "b", "details": big}))["details"] == big


async def test_managed_columns_are_not_writable(op):
    user = await op("insert_record", "people", {"email": "a@b.c"})
    for values in ({"id": "usr_other"}, {"created_at": "2000-01-01T00:00:00.000Z"}, {"updated_at": "x"}):
        err = await fails(op, "update_record", "people", user["id"], values)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
        assert err.details[0]["type"] == "read_only"
    for values in ({"email": "b@b.c", "created_at": "2000"}, {"email": "c@b.c", "updated_at": "2000"}):
        assert (await fails(op, "insert_record", "people", values)).code == "VALIDATION_ERROR"
    assert await op("get_record", "people", user["id"]) == user
    assert await op("count_records", "people") == 1


async def test_update_changes_updated_at_only(op):
    user = await op("insert_record", "people", {"email": "a@b.c", "name": "A"})
    await asyncio.sleep(0.005)
    updated = await op("update_record", "people", user["id"], {"name": "B", "disabled_at": None})
    assert updated["name"] == "B"
    assert updated["email"] == "a@b.c"
    assert updated["created_at"] == user["created_at"]
    assert updated["updated_at"] > user["updated_at"]
    assert await op("update_record", "people", "usr_missing", {"name": "C"}) is None
    assert (await fails(op, "update_record", "people", user["id"], {})).code == "VALIDATION_ERROR"


async def test_timestamps_are_checked_and_stored_in_one_format(op):
    stored = await op("insert_record", "claims", {"expires_at": "2030-06-01T12:00:00+02:00"})
    assert stored["expires_at"] == "2030-06-01T10:00:00.000Z"  # UTC, milliseconds, Z: compares as text
    later = await op(
        "find_records", "claims", [{"field": "expires_at", "operator": "gt", "value": "2030-06-01T11:00:00+02:00"}]
    )
    assert [s["id"] for s in later["items"]] == [stored["id"]]
    for bad in ("2099", "tomorrow", "2030-06-01T12:00:00", "2030-13-01T00:00:00Z", "9999-12-31T23:59:59-23:59"):
        err = await fails(op, "insert_record", "claims", {"expires_at": bad})
        assert err.code == "VALIDATION_ERROR", bad


# -- where, order, pages -------------------------------------------------------------------------------


@pytest.fixture
async def jobs(op):
    specs = [
        ("job_1", "email", "queued", 0, "2026-01-01T00:00:00.000Z"),
        ("job_2", "email", "running", 1, None),
        ("job_3", "sms", "failed", 3, "2026-03-01T00:00:00.000Z"),
        ("job_4", "push", "queued", 2, "2026-02-01T00:00:00.000Z"),
    ]
    for id, type_, status, attempts, run_at in specs:
        values = {"id": id, "type": type_, "status": status, "attempts": attempts}
        if run_at:
            values["run_at"] = run_at
        await op("insert_record", "jobs", values)
    return op


async def _ids(op, where, **kwargs):
    page = await op("find_records", "jobs", where, **kwargs)
    return [r["id"] for r in page["items"]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"status": "queued"}, ["job_1", "job_4"]),
        ({"status": "queued", "type": "push"}, ["job_4"]),
        ({"run_at": None}, ["job_2"]),
        ([{"field": "run_at", "operator": "eq", "value": None}], ["job_2"]),
        ([{"field": "run_at", "operator": "ne", "value": None}], ["job_1", "job_3", "job_4"]),
        ([{"field": "status", "value": "failed"}], ["job_3"]),
        ([{"field": "status", "operator": "ne", "value": "queued"}], ["job_2", "job_3"]),
        ([{"field": "attempts", "operator": "gt", "value": 1}], ["job_3", "job_4"]),
        ([{"field": "attempts", "operator": "gte", "value": 1}], ["job_2", "job_3", "job_4"]),
        ([{"field": "attempts", "operator": "lt", "value": 1}], ["job_1"]),
        ([{"field": "attempts", "operator": "lte", "value": 2}], ["job_1", "job_2", "job_4"]),
        ([{"field": "run_at", "operator": "lt", "value": "2026-02-15T00:00:00.000Z"}], ["job_1", "job_4"]),
        ([{"field": "type", "operator": "in", "value": ["sms", "push"]}], ["job_3", "job_4"]),
        ([{"field": "type", "operator": "nin", "value": ["sms", "push"]}], ["job_1", "job_2"]),
        ([{"field": "type", "operator": "in", "value": ["sms"] * 100}], ["job_3"]),
        ([{"field": "type", "operator": "like", "value": "%s%"}], ["job_3", "job_4"]),
        ([{"field": "status", "operator": "like", "value": "queue_"}], ["job_1", "job_4"]),
        ([{"field": "run_at", "operator": "exists", "value": True}], ["job_1", "job_3", "job_4"]),
        ([{"field": "run_at", "operator": "exists", "value": False}], ["job_2"]),
        (
            [
                {"field": "status", "operator": "eq", "value": "queued"},
                {"field": "attempts", "operator": "gte", "value": 1},
            ],
            ["job_4"],
        ),
        ([{"field": "attempts", "operator": "gte", "value": 0}] * 20, ["job_1", "job_2", "job_3", "job_4"]),
        ({"status": "nothing"}, []),
        (None, ["job_1", "job_2", "job_3", "job_4"]),
        ({}, ["job_1", "job_2", "job_3", "job_4"]),
    ],
)
async def test_where_operators(jobs, where, expected):
    assert sorted(await _ids(jobs, where)) == expected
    assert await jobs("count_records", "jobs", where) == len(expected)


@pytest.mark.parametrize(
    "where",
    [
        [{"field": "status", "operator": "regex", "value": "x"}],
        [{"field": "status", "operator": ["eq"], "value": "x"}],
        [{"field": "status", "operator": {"eq": 1}, "value": "x"}],
        [{"field": "status", "operator": None, "value": "x"}],
        [{"field": "status", "operator": "in", "value": []}],
        [{"field": "status", "operator": "in", "value": "queued"}],
        [{"field": "status", "operator": "in", "value": ["x"] * 101}],
        [{"field": "attempts", "operator": "in", "value": ["one"]}],
        [{"field": "status", "operator": "exists", "value": "yes"}],
        [{"field": "attempts", "operator": "gt", "value": None}],
        [{"field": "attempts", "operator": "gt", "value": "1"}],
        [{"field": "status", "operator": "like", "value": 5}],
        [{"field": "payload", "operator": "eq", "value": {}}],
        [{"field": "status", "operator": "eq", "value": "x", "extra": 1}],
        ["status"],
        "status = 'queued'",
        [{"field": "status", "value": "x"}] * 21,
    ],
)
async def test_bad_conditions_are_400(jobs, where):
    err = await fails(jobs, "find_records", "jobs", where)
    assert err.status == 400
    assert err.code == "VALIDATION_ERROR"


async def test_order_limit_offset(jobs):
    assert await _ids(jobs, None) == ["job_1", "job_2", "job_3", "job_4"]  # oldest first, then by id
    assert await _ids(jobs, None, order_by="-attempts") == ["job_3", "job_4", "job_2", "job_1"]
    assert await _ids(jobs, None, order_by=["type", "-attempts"]) == ["job_2", "job_1", "job_4", "job_3"]
    assert await _ids(jobs, None, order_by={"field": "run_at", "direction": "desc"}) == [
        "job_3",
        "job_4",
        "job_1",
        "job_2",
    ]
    assert await _ids(jobs, None, order_by=[{"field": "attempts"}]) == ["job_1", "job_2", "job_4", "job_3"]
    page = await jobs("find_records", "jobs", None, "id", 2, 1)
    assert [r["id"] for r in page["items"]] == ["job_2", "job_3"]
    assert page["has_more"] is True
    last = await jobs("find_records", "jobs", None, "id", 2, 2)
    assert [r["id"] for r in last["items"]] == ["job_3", "job_4"]
    assert last["has_more"] is False
    assert (await jobs("find_records", "jobs", None, "id", 1000, 100_000))["items"] == []
    for limit, offset in ((0, 0), (1001, 0), (10, -1), (10, 100_001), (True, 0), ("10", 0), (10, 1.5), (10, False)):
        err = await fails(jobs, "find_records", "jobs", None, None, limit, offset)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    for order_by in ([{"field": "id", "direction": "up"}], ["a", "b", "c", "d", "e", "f"], 5):
        assert (await fails(jobs, "find_records", "jobs", None, order_by)).status == 400
    assert await _ids(jobs, None, order_by=["type", "status", "run_at", "attempts", "-id"]) == [
        "job_1",
        "job_2",
        "job_4",
        "job_3",
    ]


# -- compare-and-set, increments, deletes --------------------------------------------------------------


async def test_compare_and_set_succeeds_once(op):
    claim = await op("insert_record", "claims", {"expires_at": "2099-01-01T00:00:00.000Z"})
    used = await op("update_record", "claims", claim["id"], {"used_at": "2026-01-01T00:00:00.000Z"}, {"used_at": None})
    assert used["used_at"] == "2026-01-01T00:00:00.000Z"
    again = await op("update_record", "claims", claim["id"], {"used_at": "2026-02-02T00:00:00.000Z"}, {"used_at": None})
    assert again is None
    assert (await op("get_record", "claims", claim["id"]))["used_at"] == "2026-01-01T00:00:00.000Z"


async def test_concurrent_compare_and_set_has_one_winner(op):
    claim = await op("insert_record", "claims", {"expires_at": "2099-01-01T00:00:00Z"})
    results = await asyncio.gather(
        *(
            op("update_record", "claims", claim["id"], {"used_at": f"2026-01-01T00:00:{i:02d}.000Z"}, {"used_at": None})
            for i in range(10)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await op("get_record", "claims", claim["id"]))["used_at"] == winners[0]["used_at"]


async def test_concurrent_increments_are_exact(op):
    event = await op("insert_record", "events", {"provider": "p", "event_id": "e"})
    assert event["attempts"] == 0
    await asyncio.gather(*(op("increment_record", "events", event["id"], "attempts") for _ in range(20)))
    assert (await op("get_record", "events", event["id"]))["attempts"] == 20
    after = await op("increment_record", "events", event["id"], "attempts", -5)
    assert after["attempts"] == 15
    assert after["updated_at"] >= event["updated_at"]


async def test_increment_with_precondition_and_bad_input(op):
    job = await op("insert_record", "jobs", {"type": "t", "status": "queued"})
    cap = [{"field": "attempts", "operator": "lt", "value": 2}]
    assert (await op("increment_record", "jobs", job["id"], "attempts", 1, cap))["attempts"] == 1
    assert (await op("increment_record", "jobs", job["id"], "attempts", 1, cap))["attempts"] == 2
    assert await op("increment_record", "jobs", job["id"], "attempts", 1, cap) is None
    assert await op("increment_record", "jobs", "job_missing", "attempts") is None
    for column, by in (
        ("status", 1),
        ("id", 1),
        ("created_at", 1),
        ("attempts", "1"),
        ("attempts", True),
        ("attempts", 2**60),
    ):
        err = await fails(op, "increment_record", "jobs", job["id"], column, by)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert (await op("get_record", "jobs", job["id"]))["attempts"] == 2


async def test_delete_record_and_delete_records(jobs):
    assert await jobs("delete_record", "jobs", "job_1", {"status": "running"}) is False
    assert await jobs("delete_record", "jobs", "job_1", {"status": "queued"}) is True
    assert await jobs("delete_record", "jobs", "job_1") is False
    assert (await fails(jobs, "delete_record", "jobs", "bad id")).code == "VALIDATION_ERROR"
    for empty in (None, {}, []):
        err = await fails(jobs, "delete_records", "jobs", empty)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert await jobs("count_records", "jobs") == 3
    assert await jobs("delete_records", "jobs", [{"field": "attempts", "operator": "gte", "value": 2}]) == 2
    assert await _ids(jobs, None) == ["job_2"]
    assert await jobs("delete_records", "jobs", {"status": "nothing"}) == 0


# -- tables made from their declarations (db makes the tables services declare in their manifests) ------

INVOICES = {
    "prefix": "inv",
    "columns": {"number": "text", "total": "integer", "paid": "boolean", "lines": "json", "due_at": "timestamp"},
    "required": ["number"],
}


def test_a_declaration_becomes_a_table():
    invoices = records.declared_table("orders_invoices", INVOICES)
    assert invoices == table(
        "orders_invoices",
        "inv",
        "number",
        number="text",
        total="integer",
        paid="boolean",
        lines="json",
        due_at="timestamp",
    )
    assert records.declared_table("t", {"prefix": "t", "columns": {"a": "text"}}).required == frozenset()


@pytest.mark.parametrize(
    ("name", "declaration", "message"),
    [
        ("t", ["inv"], "declares prefix, columns and required"),
        ("t", {"prefix": "t", "columns": {"a": "text"}, "unique": ["a"]}, r"unknown keys \['unique'\]"),
        ("t", {"prefix": "t"}, "columns maps each column"),
        ("t", {"prefix": "t", "columns": {}}, "columns maps each column"),
        ("t", {"prefix": "t", "columns": {"a": "text"}, "required": "a"}, "required is a list"),
        ("t", {"prefix": "t", "columns": {"a": "text"}, "required": ["b"]}, r"required columns \['b'\]"),
        ("t", {"prefix": "t", "columns": {"a": "varchar"}}, "unknown type 'varchar'"),
        ("t", {"prefix": "t", "columns": {"a": 5}}, "unknown type 5"),
        ("t", {"columns": {"a": "text"}}, "id prefix None"),
        ("t", {"prefix": "Inv", "columns": {"a": "text"}}, "id prefix 'Inv'"),
        ("t", {"prefix": "in_v", "columns": {"a": "text"}}, "id prefix"),
        ("t", {"prefix": "t", "columns": {'a" TEXT); DROP TABLE x; --': "text"}}, "column name"),
        ("t", {"prefix": "t", "columns": {"A": "text"}}, "column name"),
        ("t", {"prefix": "t", "columns": {"id": "integer"}}, r"t\.id: set by the store"),
        ("t", {"prefix": "t", "columns": {"updated_at": "timestamp"}}, "set by the store"),
        ('t"; DROP TABLE x; --', {"prefix": "t", "columns": {"a": "text"}}, "table name"),
        ("Orders", {"prefix": "t", "columns": {"a": "text"}}, "table name"),
        ("_migrations", {"prefix": "t", "columns": {"a": "text"}}, "table name"),
        ("t" * 64, {"prefix": "t", "columns": {"a": "text"}}, "table name"),
    ],
)
def test_a_bad_declaration_says_what_is_wrong(name, declaration, message):
    with pytest.raises(ValueError, match=message):
        records.declared_table(name, declaration)


async def test_ensure_tables_makes_what_the_engine_expects(d1):
    db = await Database("DB", []).open(SimpleNamespace(DB=d1))
    registry = {"orders_invoices": records.declared_table("orders_invoices", INVOICES)}
    made = await records.ensure_tables(db, registry)
    assert made == [records.create_table_sql(registry["orders_invoices"])]
    assert made[0].startswith('CREATE TABLE IF NOT EXISTS "orders_invoices" ("id" TEXT NOT NULL PRIMARY KEY, ')
    assert await schema_mismatches(d1, registry) == []
    assert await records.ensure_tables(db, registry) == []  # nothing missing: nothing run
    stored = await records.insert_record(db, registry, "orders_invoices", {"number": "A-1", "lines": [1]})
    assert stored["id"].startswith("inv_")
    assert (await refused(records.insert_record(db, registry, "orders_invoices", {"total": 1}))).code == (
        "VALIDATION_ERROR"
    )


async def test_ensure_tables_adds_declared_columns_and_never_drops_or_changes_one(d1):
    db = await Database("DB", []).open(SimpleNamespace(DB=d1))
    first = {"orders_invoices": records.declared_table("orders_invoices", INVOICES)}
    await records.ensure_tables(db, first)
    kept = await records.insert_record(db, first, "orders_invoices", {"number": "A-1", "total": 5, "paid": True})

    columns = dict(INVOICES["columns"]) | {"note": "text", "total": "text"}  # one added, one retyped
    del columns["paid"]  # and one no longer declared
    second = {
        "orders_invoices": records.declared_table("orders_invoices", INVOICES | {"columns": columns}),
        "orders_refunds": records.declared_table("orders_refunds", {"prefix": "rfd", "columns": {"amount": "integer"}}),
    }
    made = await records.ensure_tables(db, second)
    assert made == [
        'ALTER TABLE "orders_invoices" ADD COLUMN "note" TEXT',
        records.create_table_sql(second["orders_refunds"]),
    ]
    info = await db.all('SELECT name, type FROM pragma_table_info("orders_invoices")')
    assert {r["name"]: r["type"] for r in info}["total"] == "INTEGER"  # not changed
    assert "paid" in {r["name"] for r in info}  # not dropped
    assert (await db.first('SELECT paid FROM "orders_invoices"')) == {"paid": 1}  # its data kept
    again = await records.get_record(db, second, "orders_invoices", kept["id"])
    assert (again["number"], again["note"], "paid" in again) == ("A-1", None, False)


async def test_a_required_column_added_later_is_required_of_inserts_only(d1):
    db = await Database("DB", []).open(SimpleNamespace(DB=d1))
    first = {"t_items": records.declared_table("t_items", {"prefix": "itm", "columns": {"a": "text"}})}
    await records.ensure_tables(db, first)
    old = await records.insert_record(db, first, "t_items", {"a": "x"})
    second = {
        "t_items": records.declared_table(
            "t_items", {"prefix": "itm", "columns": {"a": "text", "b": "text"}, "required": ["b"]}
        )
    }
    assert await records.ensure_tables(db, second) == ['ALTER TABLE "t_items" ADD COLUMN "b" TEXT']
    assert (await records.get_record(db, second, "t_items", old["id"]))["b"] is None  # the rows already there
    assert (await refused(records.insert_record(db, second, "t_items", {"a": "y"}))).code == "VALIDATION_ERROR"
    assert (await records.insert_record(db, second, "t_items", {"b": "z"}))["b"] == "z"


async def test_two_isolates_making_the_same_tables_at_once_both_succeed(tmp_path):
    # Both look before either changes anything (Racing): both make the table (IF NOT EXISTS), then both add
    # the same column, and the one whose ALTER comes second, its batch rolled back, finds nothing missing.
    one, two = D1Database(tmp_path / "d1.sqlite"), D1Database(tmp_path / "d1.sqlite")
    first = {"t_items": records.declared_table("t_items", {"prefix": "itm", "columns": {"a": "text"}})}
    wide = {"prefix": "itm", "columns": {"a": "text", "b": "integer", "c": "json"}}
    second = {"t_items": records.declared_table("t_items", wide)}
    for registry in (first, second):  # a new table, then new columns of a table that exists
        barrier = asyncio.Barrier(2)
        bindings = [Racing(d1, barrier) for d1 in (one, two)]
        dbs = [await Database("DB", []).open(SimpleNamespace(DB=binding)) for binding in bindings]
        done = await asyncio.gather(*(records.ensure_tables(db, registry) for db in dbs))
        assert await schema_mismatches(one, registry) == []
        failed = [binding.failed for binding in bindings]
        if registry is first:
            assert done[0] == done[1] == [records.create_table_sql(first["t_items"])]
            assert failed == [0, 0]
        else:
            assert sorted(done, key=len) == [
                [],
                ['ALTER TABLE "t_items" ADD COLUMN "b" INTEGER', 'ALTER TABLE "t_items" ADD COLUMN "c" TEXT'],
            ]
            assert sorted(failed) == [0, 1]


async def test_a_database_with_declared_tables_makes_them_once_and_when_a_statement_misses_them(tmp_path):
    registry = {"t_items": records.declared_table("t_items", {"prefix": "itm", "columns": {"a": "text"}})}
    database = Database("DB", SCHEMA, tables=registry)
    first = await database.open(SimpleNamespace(DB=D1Database(tmp_path / "one.sqlite")))  # migrated, then made
    assert await records.count_records(first, registry, "t_items") == 0
    other = await database.open(SimpleNamespace(DB=D1Database(tmp_path / "two.sqlite")))  # not checked again
    assert (await records.insert_record(other, registry, "t_items", {"a": "x"}))["a"] == "x"  # healed: made
    assert await schema_mismatches(other.db, registry | TABLES) == []


async def refused(pending) -> AppError:
    """The AppError an engine call raises."""
    with pytest.raises(AppError) as info:
        await pending
    return info.value


class Racing:
    """A D1 binding that, once its first look at the tables (`PRAGMA table_info`) is done, waits at
    `barrier` for the other isolate's, so that both look before either changes anything."""

    def __init__(self, d1, barrier):
        self.d1, self.barrier, self.prepared, self.looked, self.failed = d1, barrier, [], False, 0

    def prepare(self, sql):
        self.prepared.append(sql)
        return self.d1.prepare(sql)

    async def batch(self, statements):
        looking = any(sql.startswith("PRAGMA table_info") for sql in self.prepared)
        self.prepared = []
        try:
            result = await self.d1.batch(statements)
        except Exception:
            self.failed += 1
            raise
        if looking and not self.looked:
            self.looked = True
            await self.barrier.wait()
        return result
