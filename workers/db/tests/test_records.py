"""Typed records over RPC: validation against tables.py, conflicts, where operators, compare-and-set, concurrency."""

import asyncio

import pytest

from dotdo_dev.testing import rpc_fails

TASK = {"name": "nightly", "cron": "0 3 * * *", "handler": "cleanup"}
KEY = {"name": "ci", "owner_id": "usr_1", "key_hash": "h" * 64, "environment": "live", "last4": "abcd"}


async def test_round_trip_decodes_types(worker):
    task = await worker.rpc(
        "insert_record",
        "schedule_tasks",
        TASK | {"payload": {"days": [1, 2], "deep": {"x": None}}, "enabled": False},
        actor="usr_7",
    )
    assert task["id"].startswith("tsk_")
    assert task["payload"] == {"days": [1, 2], "deep": {"x": None}}
    assert task["enabled"] is False
    assert task["created_by"] == "usr_7"
    assert task["created_at"] == task["updated_at"]
    assert task["last_run_at"] is None
    assert await worker.rpc("get_record", "schedule_tasks", task["id"]) == task

    run = await worker.rpc("insert_record", "schedule_runs", {"task_id": task["id"], "status": "ok", "attempt": 3})
    assert run["attempt"] == 3
    assert isinstance(run["attempt"], int)
    assert run["id"].startswith("run_")

    key = await worker.rpc("insert_record", "api_keys", KEY | {"permissions": ["db:read"]})
    assert key["permissions"] == ["db:read"]
    assert key["id"].startswith("key_")
    # a JSON column holding a scalar, a list, a string
    for value in (7, "text", [1, "a"], True):
        stored = await worker.rpc("insert_record", "audit_log", {"actor": "a", "action": "b", "details": value})
        assert stored["details"] == value
    # boolean true round-trips too
    on = await worker.rpc("insert_record", "schedule_tasks", TASK | {"name": "other", "enabled": True})
    assert (await worker.rpc("get_record", "schedule_tasks", on["id"]))["enabled"] is True


async def test_given_id_and_generated_ids_are_distinct(worker):
    given = await worker.rpc("insert_record", "users", {"id": "usr_given", "email": "g@x.io"})
    assert given["id"] == "usr_given"
    ids = {(await worker.rpc("insert_record", "organizations", {"name": f"o{i}"}))["id"] for i in range(5)}
    assert len(ids) == 5
    assert all(i.startswith("org_") for i in ids)
    assert await worker.rpc("get_record", "users", "usr_given") == given
    assert await worker.rpc("get_record", "users", "usr_missing") is None


async def test_bad_given_ids(worker):
    for bad in ("", "-x", "has space", "x" * 129, 5, "a'b"):
        err = await rpc_fails(worker, "insert_record", "users", {"id": bad, "email": "a@b.c"})
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert (await rpc_fails(worker, "get_record", "users", "bad id")).code == "VALIDATION_ERROR"
    assert await worker.rpc("count_records", "users") == 0


async def test_conflicts(worker):
    await worker.rpc("insert_record", "users", {"id": "usr_1", "email": "a@x.io"})
    err = await rpc_fails(worker, "insert_record", "users", {"id": "usr_1", "email": "b@x.io"})
    assert (err.status, err.code) == (409, "CONFLICT")
    err = await rpc_fails(worker, "insert_record", "users", {"email": "a@x.io"})
    assert (err.status, err.code) == (409, "CONFLICT")
    event = {"provider": "stripe", "event_id": "evt_1", "type": "charge", "status": "new"}
    await worker.rpc("insert_record", "webhook_events", event)
    assert (await rpc_fails(worker, "insert_record", "webhook_events", event)).code == "CONFLICT"
    # same event id from another provider is fine
    await worker.rpc("insert_record", "webhook_events", event | {"provider": "github"})
    assert await worker.rpc("count_records", "webhook_events") == 2
    # update into a unique value conflicts too
    other = await worker.rpc("insert_record", "users", {"email": "c@x.io"})
    assert (await rpc_fails(worker, "update_record", "users", other["id"], {"email": "a@x.io"})).code == "CONFLICT"
    assert (await worker.rpc("get_record", "users", other["id"]))["email"] == "c@x.io"


async def test_required_columns(worker):
    err = await rpc_fails(worker, "insert_record", "api_keys", {"name": "ci", "owner_id": "usr_1"})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert sorted(d["field"] for d in err.details) == ["environment", "key_hash", "last4"]
    err = await rpc_fails(worker, "insert_record", "organizations", {"name": None})
    assert [d["field"] for d in err.details] == ["name"]
    assert await worker.rpc("count_records", "api_keys") == 0


async def test_null_into_a_not_null_column_is_400_not_500(worker):
    # permissions is optional (it has a default) but NOT NULL: an explicit null is a client error
    err = await rpc_fails(worker, "insert_record", "api_keys", KEY | {"permissions": None})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert err.details[0]["field"] == "permissions"
    key = await worker.rpc("insert_record", "api_keys", KEY)
    assert key["permissions"] == []
    err = await rpc_fails(worker, "update_record", "api_keys", key["id"], {"name": None})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert (await worker.rpc("get_record", "api_keys", key["id"]))["name"] == "ci"


async def test_unknown_table_and_columns(worker):
    err = await rpc_fails(worker, "insert_record", "nope", {"a": 1})
    assert (err.status, err.code) == (400, "UNKNOWN_TABLE")
    for method, args in [
        ("get_record", ("things", "x")),  # graph tables are not records
        ("find_records", ("_migrations",)),
        ("count_records", (5,)),
    ]:
        assert (await rpc_fails(worker, method, *args)).code == "UNKNOWN_TABLE"
    err = await rpc_fails(worker, "insert_record", "users", {"email": "a@b.c", "password": "x"})
    assert (err.status, err.code) == (400, "UNKNOWN_COLUMN")
    user = await worker.rpc("insert_record", "users", {"email": "a@b.c"})
    assert (await rpc_fails(worker, "find_records", "users", {"password": "x"})).code == "UNKNOWN_COLUMN"
    bad_cond = [{"field": "nope", "operator": "eq", "value": 1}]
    assert (await rpc_fails(worker, "find_records", "users", bad_cond)).code == "UNKNOWN_COLUMN"
    assert (await rpc_fails(worker, "find_records", "users", None, "nope")).code == "UNKNOWN_COLUMN"
    assert (await rpc_fails(worker, "find_records", "users", None, ["-nope"])).code == "UNKNOWN_COLUMN"
    assert (await rpc_fails(worker, "find_records", "users", None, [{"field": "x"}])).code == "UNKNOWN_COLUMN"
    assert (await rpc_fails(worker, "update_record", "users", user["id"], {"nope": 1})).code == "UNKNOWN_COLUMN"
    assert (await rpc_fails(worker, "increment_record", "users", user["id"], "nope")).code == "UNKNOWN_COLUMN"


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("schedule_runs", {"task_id": "t", "status": "s", "attempt": "3"}),
        ("schedule_runs", {"task_id": "t", "status": "s", "attempt": True}),
        ("schedule_runs", {"task_id": "t", "status": "s", "attempt": 1.5}),
        ("schedule_runs", {"task_id": "t", "status": "s", "attempt": 2**60}),
        ("schedule_tasks", TASK | {"enabled": 1}),
        ("schedule_tasks", TASK | {"enabled": "true"}),
        ("users", {"email": 5}),
        ("users", {"email": ["a"]}),
        ("users", {"disabled_at": {"t": 1}}),
        ("users", {"email": "x" * (64 * 1024 + 1)}),
        ("audit_log", {"actor": "a", "action": "b", "details": {"x": "y" * (256 * 1024)}}),
        ("users", {}),
        ("users", ["email"]),
    ],
)
async def test_wrong_value_types_are_400(worker, table, values):
    err = await rpc_fails(worker, "insert_record", table, values)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert await worker.rpc("count_records", table) == 0


async def test_managed_columns_are_not_writable(worker):
    user = await worker.rpc("insert_record", "users", {"email": "a@b.c"})
    for values in ({"id": "usr_other"}, {"created_at": "2000-01-01T00:00:00.000Z"}, {"updated_at": "x"}):
        err = await rpc_fails(worker, "update_record", "users", user["id"], values)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    for values in ({"email": "b@b.c", "created_at": "2000"}, {"email": "c@b.c", "updated_at": "2000"}):
        assert (await rpc_fails(worker, "insert_record", "users", values)).code == "VALIDATION_ERROR"
    assert await worker.rpc("get_record", "users", user["id"]) == user
    assert await worker.rpc("count_records", "users") == 1


async def test_update_changes_updated_at_only(worker):
    user = await worker.rpc("insert_record", "users", {"email": "a@b.c", "name": "A"})
    await asyncio.sleep(0.005)
    updated = await worker.rpc("update_record", "users", user["id"], {"name": "B", "disabled_at": None})
    assert updated["name"] == "B"
    assert updated["email"] == "a@b.c"
    assert updated["created_at"] == user["created_at"]
    assert updated["updated_at"] > user["updated_at"]
    assert await worker.rpc("update_record", "users", "usr_missing", {"name": "C"}) is None


@pytest.fixture
async def jobs(worker):
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
        await worker.rpc("insert_record", "queue_jobs", values)
    return worker


async def _ids(worker, where, **kwargs):
    page = await worker.rpc("find_records", "queue_jobs", where, **kwargs)
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
        ({"status": "nothing"}, []),
        (None, ["job_1", "job_2", "job_3", "job_4"]),
    ],
)
async def test_where_operators(jobs, where, expected):
    assert sorted(await _ids(jobs, where)) == expected
    assert await jobs.rpc("count_records", "queue_jobs", where) == len(expected)


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
    err = await rpc_fails(jobs, "find_records", "queue_jobs", where)
    assert err.status == 400
    assert err.code == "VALIDATION_ERROR"


async def test_order_limit_offset(jobs):
    assert await _ids(jobs, None, order_by="-attempts") == ["job_3", "job_4", "job_2", "job_1"]
    assert await _ids(jobs, None, order_by=["type", "-attempts"]) == ["job_2", "job_1", "job_4", "job_3"]
    assert await _ids(jobs, None, order_by={"field": "run_at", "direction": "desc"}) == [
        "job_3",
        "job_4",
        "job_1",
        "job_2",
    ]
    page = await jobs.rpc("find_records", "queue_jobs", None, "id", 2, 1)
    assert [r["id"] for r in page["items"]] == ["job_2", "job_3"]
    assert page["has_more"] is True
    last = await jobs.rpc("find_records", "queue_jobs", None, "id", 2, 2)
    assert [r["id"] for r in last["items"]] == ["job_3", "job_4"]
    assert last["has_more"] is False
    for limit, offset in ((0, 0), (1001, 0), (10, -1), (10, 100_001), (True, 0), ("10", 0), (10, 1.5)):
        err = await rpc_fails(jobs, "find_records", "queue_jobs", None, None, limit, offset)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    for order_by in ([{"field": "id", "direction": "up"}], ["a", "b", "c", "d", "e", "f"], 5):
        assert (await rpc_fails(jobs, "find_records", "queue_jobs", None, order_by)).status == 400


async def test_compare_and_set_succeeds_once(worker):
    token = await worker.rpc(
        "insert_record",
        "refresh_tokens",
        {"session_id": "ses_1", "token_hash": "h", "expires_at": "2099-01-01T00:00:00.000Z"},
    )
    used = await worker.rpc(
        "update_record", "refresh_tokens", token["id"], {"used_at": "2026-01-01T00:00:00.000Z"}, {"used_at": None}
    )
    assert used["used_at"] == "2026-01-01T00:00:00.000Z"
    again = await worker.rpc(
        "update_record", "refresh_tokens", token["id"], {"used_at": "2026-02-02T00:00:00.000Z"}, {"used_at": None}
    )
    assert again is None
    assert (await worker.rpc("get_record", "refresh_tokens", token["id"]))["used_at"] == "2026-01-01T00:00:00.000Z"


async def test_concurrent_compare_and_set_has_one_winner(worker):
    state = await worker.rpc(
        "insert_record", "oauth_states", {"redirect_uri": "https://x", "expires_at": "2099-01-01T00:00:00Z"}
    )
    results = await asyncio.gather(
        *(
            worker.rpc(
                "update_record",
                "oauth_states",
                state["id"],
                {"used_at": f"2026-01-01T00:00:{i:02d}.000Z"},
                {"used_at": None},
            )
            for i in range(10)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await worker.rpc("get_record", "oauth_states", state["id"]))["used_at"] == winners[0]["used_at"]


async def test_concurrent_increments_are_exact(worker):
    event = await worker.rpc(
        "insert_record", "webhook_events", {"provider": "p", "event_id": "e", "type": "t", "status": "s"}
    )
    assert event["attempts"] == 0
    await asyncio.gather(
        *(worker.rpc("increment_record", "webhook_events", event["id"], "attempts") for _ in range(20))
    )
    assert (await worker.rpc("get_record", "webhook_events", event["id"]))["attempts"] == 20
    after = await worker.rpc("increment_record", "webhook_events", event["id"], "attempts", -5)
    assert after["attempts"] == 15


async def test_increment_with_precondition_and_bad_input(worker):
    job = await worker.rpc("insert_record", "queue_jobs", {"type": "t", "status": "queued", "max_attempts": 2})
    cap = [{"field": "attempts", "operator": "lt", "value": 2}]
    assert (await worker.rpc("increment_record", "queue_jobs", job["id"], "attempts", 1, cap))["attempts"] == 1
    assert (await worker.rpc("increment_record", "queue_jobs", job["id"], "attempts", 1, cap))["attempts"] == 2
    assert await worker.rpc("increment_record", "queue_jobs", job["id"], "attempts", 1, cap) is None
    assert await worker.rpc("increment_record", "queue_jobs", "job_missing", "attempts") is None
    for column, by in (
        ("status", 1),
        ("id", 1),
        ("created_at", 1),
        ("attempts", "1"),
        ("attempts", True),
        ("attempts", 2**60),
    ):
        err = await rpc_fails(worker, "increment_record", "queue_jobs", job["id"], column, by)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert (await worker.rpc("get_record", "queue_jobs", job["id"]))["attempts"] == 2


async def test_delete_record_and_delete_records(jobs):
    assert await jobs.rpc("delete_record", "queue_jobs", "job_1", {"status": "running"}) is False
    assert await jobs.rpc("delete_record", "queue_jobs", "job_1", {"status": "queued"}) is True
    assert await jobs.rpc("delete_record", "queue_jobs", "job_1") is False
    for empty in (None, {}, []):
        err = await rpc_fails(jobs, "delete_records", "queue_jobs", empty)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert await jobs.rpc("count_records", "queue_jobs") == 3
    assert await jobs.rpc("delete_records", "queue_jobs", [{"field": "attempts", "operator": "gte", "value": 2}]) == 2
    assert await _ids(jobs, None) == ["job_2"]
    assert await jobs.rpc("delete_records", "queue_jobs", {"status": "nothing"}) == 0


async def test_timestamps_are_checked_and_stored_in_one_format(worker):
    stored = await worker.rpc(
        "insert_record", "sessions", {"user_id": "usr_t", "expires_at": "2030-06-01T12:00:00+02:00"}
    )
    assert stored["expires_at"] == "2030-06-01T10:00:00.000Z"  # UTC, milliseconds, Z: compares as text
    later = await worker.rpc(
        "find_records", "sessions", [{"field": "expires_at", "operator": "gt", "value": "2030-06-01T11:00:00+02:00"}]
    )
    assert [s["id"] for s in later["items"]] == [stored["id"]]
    for bad in ("2099", "tomorrow", "2030-06-01T12:00:00", "2030-13-01T00:00:00Z"):
        with pytest.raises(Exception, match="VALIDATION_ERROR"):
            await worker.rpc("insert_record", "sessions", {"user_id": "usr_t", "expires_at": bad})
