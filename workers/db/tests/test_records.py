"""db's records RPC: the shared engine (`shared.records`, tested in tests/shared/test_records.py) on db's D1,
serving the tables declared in tables.py and nothing else.

No service keeps records in db today (auth has a D1 of its own), so db serves no table, and these tests
declare one (`contacts`, conftest.py) as such a service would. Values cross the RPC boundary both ways;
errors come back with their codes.
"""

import asyncio

import pytest
from conftest import ADMIN, CONTACTS, record_calls

import tables
from dotdo_dev.schema_check import schema_mismatches
from dotdo_dev.testing import rpc_fails

AUTHS_OLD = ["users", "organizations", "memberships", "permission_grants", "api_keys", "sessions", "refresh_tokens"]
NEVER_RECORDS = ["audit_log", "things", "relationships", "_migrations", "queue_jobs", "schedule_tasks", "deployments"]
ADA = {"email": "ada@example.com", "name": "Ada", "tags": ["math", {"first": True}], "active": False}


@pytest.mark.parametrize("table", AUTHS_OLD + NEVER_RECORDS)
async def test_db_serves_no_table_of_its_own_nor_another_services(worker, table):
    assert await worker.rpc("describe_tables") == {}
    for method, args in record_calls(table):
        err = await rpc_fails(worker, method, *args)
        assert (err.status, err.code) == (400, "UNKNOWN_TABLE"), method
        assert err.details == {"tables": []}


async def test_a_declared_table_is_served_and_no_other(contacts):
    assert list(await contacts.rpc("describe_tables")) == ["contacts"]
    for method, args in record_calls("users"):
        err = await rpc_fails(contacts, method, *args)
        assert (err.code, err.details) == ("UNKNOWN_TABLE", {"tables": ["contacts"]})


async def test_a_record_round_trips_over_rpc(contacts):
    ada = await contacts.rpc("insert_record", "contacts", ADA | {"seen_at": "2030-06-01T12:00:00+02:00"}, actor="svc_x")
    assert ada["id"].startswith("ctc_")
    assert (ada["tags"], ada["active"], ada["score"]) == (["math", {"first": True}], False, 0)
    assert ada["seen_at"] == "2030-06-01T10:00:00.000Z"
    assert ada["created_by"] == "svc_x"
    assert await contacts.rpc("get_record", "contacts", ada["id"]) == ada
    assert await contacts.rpc("get_record", "contacts", "ctc_missing") is None
    bob = await contacts.rpc("insert_record", "contacts", {"id": "ctc_bob", "email": "bob@example.com", "score": 5})
    page = await contacts.rpc("find_records", "contacts", None, "-score", 1, 0)
    assert ([r["id"] for r in page["items"]], page["has_more"]) == (["ctc_bob"], True)
    where = [{"field": "score", "operator": "gte", "value": 1}]
    assert [r["id"] for r in (await contacts.rpc("find_records", "contacts", where))["items"]] == [bob["id"]]
    assert await contacts.rpc("count_records", "contacts") == 2
    assert await contacts.rpc("count_records", "contacts", {"active": None}) == 1
    assert (await contacts.rpc("increment_record", "contacts", bob["id"], "score", 2))["score"] == 7
    assert await contacts.rpc("delete_record", "contacts", bob["id"], {"score": 5}) is False
    assert await contacts.rpc("delete_record", "contacts", bob["id"], {"score": 7}) is True
    assert await contacts.rpc("delete_records", "contacts", {"email": "ada@example.com"}) == 1
    assert await contacts.rpc("count_records", "contacts") == 0


async def test_compare_and_set_over_rpc_has_one_winner(contacts):
    ada = await contacts.rpc("insert_record", "contacts", ADA)
    results = await asyncio.gather(
        *(
            contacts.rpc("update_record", "contacts", ada["id"], {"active": True, "name": f"n{i}"}, {"active": False})
            for i in range(8)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await contacts.rpc("get_record", "contacts", ada["id"]))["name"] == winners[0]["name"]


@pytest.mark.parametrize(
    ("method", "args", "status", "code"),
    [
        ("insert_record", ("contacts", {"name": "no email"}), 400, "VALIDATION_ERROR"),
        ("insert_record", ("contacts", {"email": "a@b.c", "score": "3"}), 400, "VALIDATION_ERROR"),
        ("insert_record", ("contacts", {"email": "a@b.c", "score": None}), 400, "VALIDATION_ERROR"),
        ("insert_record", ("contacts", {"email": "a@b.c", "password": "x"}), 400, "UNKNOWN_COLUMN"),
        (
            "insert_record",
            ("contacts", {"email": "a@b.c", "created_at": "2020-01-01T00:00:00Z"}),
            400,
            "VALIDATION_ERROR",
        ),
        (
            "find_records",
            ("contacts", [{"field": "email", "operator": "regex", "value": "x"}]),
            400,
            "VALIDATION_ERROR",
        ),
        ("find_records", ("contacts", None, None, 0), 400, "VALIDATION_ERROR"),
        ("delete_records", ("contacts", {}), 400, "VALIDATION_ERROR"),
        ("increment_record", ("contacts", "ctc_1", "name"), 400, "VALIDATION_ERROR"),
        ("get_record", ("contacts", "bad id"), 400, "VALIDATION_ERROR"),
    ],
)
async def test_bad_requests_come_back_as_their_errors(contacts, method, args, status, code):
    err = await rpc_fails(contacts, method, *args)
    assert (err.status, err.code) == (status, code)
    assert await contacts.rpc("count_records", "contacts") == 0


async def test_a_duplicate_is_a_conflict_over_rpc(contacts):
    await contacts.rpc("insert_record", "contacts", ADA)
    err = await rpc_fails(contacts, "insert_record", "contacts", {"email": "ada@example.com"})
    assert (err.status, err.code) == (409, "CONFLICT")
    assert await contacts.rpc("count_records", "contacts") == 1


async def test_the_audit_log_is_dbs_own_and_not_a_record_table(worker):
    # /sql writes it; over RPC nobody reads, changes or deletes it
    await worker.fetch("/sql", method="POST", headers=ADMIN, json={"sql": "SELECT 1"})
    count = "SELECT count(*) AS n FROM audit_log"
    assert (await worker.env.DB.prepare(count).first())["n"] == 1
    for method, args in [
        ("find_records", ("audit_log",)),
        ("delete_records", ("audit_log", {"target": "db"})),
        ("insert_record", ("audit_log", {"actor": "x", "action": "forged"})),
    ]:
        assert (await rpc_fails(worker, method, *args)).code == "UNKNOWN_TABLE"
    assert (await worker.env.DB.prepare(count).first())["n"] == 1


async def test_the_test_table_is_what_a_service_would_declare_and_migrate(contacts):
    declared = tables.OWN | {"contacts": CONTACTS}
    assert await schema_mismatches(contacts.env.DB, declared, not_records=("things", "relationships")) == []
