"""db's records RPC: the shared engine (`shared.records`, tested in tests/shared/test_records.py) on db's D1,
serving the tables services declare in their manifests, each to its owner, and nothing else.

No service keeps records in db today, so db serves no table, and these tests declare one through a
registry entry of their own (crm's `crm_contacts`, conftest.py). Values cross the RPC boundary both ways;
errors come back with their codes. Making the tables and their columns: test_served_tables.py.
"""

import asyncio

import pytest
from conftest import ADMIN, CONTACTS, P_ADMIN, P_CRM, P_SHOP, P_WRITER, record_calls, serve

import tables
from dotdo_dev.schema_check import schema_mismatches
from dotdo_dev.testing import rpc_fails
from shared.principals import service_principal

AUTHS_OLD = ["users", "organizations", "memberships", "permission_grants", "api_keys", "sessions", "refresh_tokens"]
NEVER_RECORDS = ["audit_log", "things", "relationships", "_migrations", "queue_jobs", "schedule_tasks", "deployments"]
ADA = {"email": "ada@example.com", "name": "Ada", "tags": ["math", {"first": True}], "active": False}
T = "crm_contacts"


@pytest.mark.parametrize("table", AUTHS_OLD + NEVER_RECORDS)
async def test_db_serves_no_table_of_its_own_nor_another_services(worker, table):
    assert tables.TABLES == {}  # no manifest declares [tables] today
    assert await worker.rpc("describe_tables") == {}
    for principal in (P_CRM, P_ADMIN):
        for method, args in record_calls(table, principal):
            err = await rpc_fails(worker, method, *args)
            assert (err.status, err.code) == (400, "UNKNOWN_TABLE"), method
            assert err.details == {"tables": []}


async def test_a_declared_table_is_served_and_no_other(contacts):
    assert list(await contacts.rpc("describe_tables")) == [T]
    for table in ("users", "contacts", "crm_contact", "audit_log", "things"):
        for method, args in record_calls(table):
            err = await rpc_fails(contacts, method, *args)
            assert (err.status, err.code, err.details) == (400, "UNKNOWN_TABLE", {"tables": [T]}), (table, method)


async def test_a_record_round_trips_over_rpc(contacts):
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA | {"seen_at": "2030-06-01T12:00:00+02:00"}, actor="usr_x")
    assert ada["id"].startswith("ctc_")
    assert (ada["tags"], ada["active"], ada["score"]) == (["math", {"first": True}], False, None)
    assert ada["seen_at"] == "2030-06-01T10:00:00.000Z"
    assert ada["created_by"] == "usr_x"  # the actor the service names, not the service
    assert await contacts.rpc("get_record", P_CRM, T, ada["id"]) == ada
    assert await contacts.rpc("get_record", P_CRM, T, "ctc_missing") is None
    bob = await contacts.rpc("insert_record", P_CRM, T, {"id": "ctc_bob", "email": "bob@example.com", "score": 5})
    assert bob["created_by"] is None  # no actor given
    page = await contacts.rpc("find_records", P_CRM, T, None, "-score", 1, 0)
    assert ([r["id"] for r in page["items"]], page["has_more"]) == (["ctc_bob"], True)
    where = [{"field": "score", "operator": "gte", "value": 1}]
    assert [r["id"] for r in (await contacts.rpc("find_records", P_CRM, T, where))["items"]] == [bob["id"]]
    assert await contacts.rpc("count_records", P_CRM, T) == 2
    assert await contacts.rpc("count_records", P_CRM, T, {"score": None}) == 1
    assert (await contacts.rpc("increment_record", P_CRM, T, bob["id"], "score", 2))["score"] == 7
    assert (await contacts.rpc("increment_record", P_CRM, T, ada["id"], "score"))["score"] == 1  # from none
    assert await contacts.rpc("delete_record", P_CRM, T, bob["id"], {"score": 5}) is False
    assert await contacts.rpc("delete_record", P_CRM, T, bob["id"], {"score": 7}) is True
    assert await contacts.rpc("delete_records", P_CRM, T, {"email": "ada@example.com"}) == 1
    assert await contacts.rpc("count_records", P_CRM, T) == 0


async def test_compare_and_set_over_rpc_has_one_winner(contacts):
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA)
    results = await asyncio.gather(
        *(
            contacts.rpc("update_record", P_CRM, T, ada["id"], {"active": True, "name": f"n{i}"}, {"active": False})
            for i in range(8)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (await contacts.rpc("get_record", P_CRM, T, ada["id"]))["name"] == winners[0]["name"]


@pytest.mark.parametrize(
    ("method", "args", "status", "code"),
    [
        ("insert_record", (T, {"name": "no email"}), 400, "VALIDATION_ERROR"),
        ("insert_record", (T, {"email": None}), 400, "VALIDATION_ERROR"),
        ("insert_record", (T, {"email": "a@b.c", "score": "3"}), 400, "VALIDATION_ERROR"),
        ("insert_record", (T, {"email": "a@b.c", "password": "x"}), 400, "UNKNOWN_COLUMN"),
        ("insert_record", (T, {"email": "a@b.c", "created_at": "2020-01-01T00:00:00Z"}), 400, "VALIDATION_ERROR"),
        ("find_records", (T, [{"field": "email", "operator": "regex", "value": "x"}]), 400, "VALIDATION_ERROR"),
        ("find_records", (T, None, None, 0), 400, "VALIDATION_ERROR"),
        ("delete_records", (T, {}), 400, "VALIDATION_ERROR"),
        ("increment_record", (T, "ctc_1", "name"), 400, "VALIDATION_ERROR"),
        ("get_record", (T, "bad id"), 400, "VALIDATION_ERROR"),
    ],
)
async def test_bad_requests_come_back_as_their_errors(contacts, method, args, status, code):
    err = await rpc_fails(contacts, method, P_CRM, *args)
    assert (err.status, err.code) == (status, code)
    assert await contacts.rpc("count_records", P_CRM, T) == 0


async def test_a_required_column_set_to_nothing_is_refused_by_the_database(contacts):
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA)
    err = await rpc_fails(contacts, "update_record", P_CRM, T, ada["id"], {"email": None})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")  # the table was made with email NOT NULL
    assert (await contacts.rpc("get_record", P_CRM, T, ada["id"]))["email"] == ADA["email"]


async def test_a_duplicate_id_is_a_conflict_over_rpc(contacts):
    await contacts.rpc("insert_record", P_CRM, T, ADA | {"id": "ctc_ada"})
    err = await rpc_fails(contacts, "insert_record", P_CRM, T, {"id": "ctc_ada", "email": "other@example.com"})
    assert (err.status, err.code) == (409, "CONFLICT")
    assert await contacts.rpc("count_records", P_CRM, T) == 1


# -- whose table -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        P_SHOP,  # another service
        service_principal("crm-sync"),  # a service whose name merely starts like the owner's
        P_WRITER,  # a user, even one with db:write (a service stores for its users as itself)
        {"id": "svc_crm ", "permissions": []},
        {"id": "usr_crm", "type": "service", "permissions": ["db:read", "db:write", "crm:admin"]},
        service_principal("shop", permissions=("db:*:x", "db:write", "db")),  # nothing covering db:admin
    ],
)
async def test_another_principal_is_refused_on_every_method_and_nothing_changes(contacts, principal):
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA | {"id": "usr_1"})
    for method, args in record_calls(T, principal):
        err = await rpc_fails(contacts, method, *args)
        assert (err.status, err.code) == (403, "TABLE_NOT_YOURS"), (method, err)
        assert err.details == {"table": T, "owner": "crm"}
        assert "service_principal('crm')" in err.message
    assert await contacts.rpc("get_record", P_CRM, T, "usr_1") == ada
    assert await contacts.rpc("count_records", P_CRM, T) == 1


@pytest.mark.parametrize(
    "principal",
    [P_ADMIN, service_principal("ops", permissions=("db:admin",)), service_principal("ops", permissions=("db:*",))],
)
async def test_a_principal_holding_db_admin_reaches_every_table(contacts, principal):
    stored = await contacts.rpc("insert_record", principal, T, ADA)
    assert await contacts.rpc("get_record", P_CRM, T, stored["id"]) == stored
    assert (await contacts.rpc("update_record", principal, T, stored["id"], {"name": "A."}))["name"] == "A."
    assert await contacts.rpc("delete_records", principal, T, {"email": ADA["email"]}) == 1


async def test_the_caller_is_checked_before_anything_else(contacts):
    # no principal at all: 401; not a principal: 400; an unknown table: 400 whoever asks
    for method, args in record_calls(T, None):
        assert (await rpc_fails(contacts, method, *args)).code == "UNAUTHORIZED", method
    for bad in ("svc_crm", {"id": "svc_crm"}, {"id": "svc_crm", "permissions": "db:admin"}, ["svc_crm"]):
        for method, args in record_calls(T, bad):
            err = await rpc_fails(contacts, method, *args)
            assert (err.status, err.code) == (400, "INVALID_PRINCIPAL"), (method, bad)
    for method, args in record_calls("crm_nothing", P_SHOP):
        assert (await rpc_fails(contacts, method, *args)).code == "UNKNOWN_TABLE"
    # the arguments of a refused caller are not looked at: 403, not a validation error
    err = await rpc_fails(contacts, "find_records", P_SHOP, T, "not a condition", 7, -1)
    assert err.code == "TABLE_NOT_YOURS"


async def test_each_service_reaches_its_own_tables_only(contacts, monkeypatch):
    shop = {"name": "shop", "tables": {"shop_orders": {"prefix": "ord", "columns": {"total": "integer"}}}}
    serve(monkeypatch, {"shop": shop})
    described = await contacts.rpc("describe_tables")
    assert {name: d["service"] for name, d in described.items()} == {T: "crm", "shop_orders": "shop"}
    order = await contacts.rpc("insert_record", P_SHOP, "shop_orders", {"total": 5})  # made on first use
    await contacts.rpc("insert_record", P_CRM, T, ADA)
    assert (await rpc_fails(contacts, "get_record", P_CRM, "shop_orders", order["id"])).code == "TABLE_NOT_YOURS"
    assert (await rpc_fails(contacts, "count_records", P_SHOP, T)).code == "TABLE_NOT_YOURS"
    assert await contacts.rpc("count_records", P_SHOP, "shop_orders") == 1
    assert await contacts.rpc("count_records", P_CRM, T) == 1


# -- db's own ------------------------------------------------------------------------------------------


async def test_the_audit_log_is_dbs_own_and_not_a_record_table(worker):
    # /sql writes it; over RPC nobody reads, changes or deletes it, not even an admin
    await worker.fetch("/sql", method="POST", headers=ADMIN, json={"sql": "SELECT 1"})
    count = "SELECT count(*) AS n FROM audit_log"
    assert (await worker.env.DB.prepare(count).first())["n"] == 1
    for method, args in [
        ("find_records", (P_ADMIN, "audit_log")),
        ("delete_records", (P_ADMIN, "audit_log", {"target": "db"})),
        ("insert_record", (P_ADMIN, "audit_log", {"actor": "x", "action": "forged"})),
    ]:
        assert (await rpc_fails(worker, method, *args)).code == "UNKNOWN_TABLE"
    assert (await worker.env.DB.prepare(count).first())["n"] == 1


async def test_the_declared_table_is_made_as_declared(contacts):
    await contacts.rpc("count_records", P_CRM, T)
    declared = tables.OWN | {T: CONTACTS}
    assert await schema_mismatches(contacts.env.DB, declared, not_records=("things", "relationships")) == []
