"""SQL injection attempts in every input that reaches SQL: each is a 4xx or a normal result, never a 500,
and afterwards every table still exists with the same rows."""

from urllib.parse import urlencode

import pytest
from conftest import ADMIN, P_CRM, P_WRITER, READER, WRITER, make_thing, record_calls

from dotdo_dev.testing import envelope as body
from dotdo_dev.testing import rpc_fails, rpc_outcome

NASTY = [
    "' OR '1'='1",
    '") OR 1=1 --',
    "x'; DROP TABLE things; --",
    "acme; DROP TABLE things",
    "created_at; DROP TABLE things",
    "id = id OR 1=1",
    "1=1",
    "*",
    '"',
    "'",
    "NEAR(",
    "content:",
    "-",
    "acme\x00",
    "%",
    "\\",
    "(",
    "updated_at DESC, (SELECT 1)",
]
TABLES = ["things", "relationships", "things_fts", "crm_contacts", "audit_log", "_migrations"]
T = "crm_contacts"  # a record table crm keeps in db (conftest)


async def snapshot(worker) -> dict[str, int]:
    """Row counts of the tables that matter (through the D1 binding, around the API)."""
    counts = {}
    for table in TABLES:
        result = await worker.env.DB.prepare(f'SELECT count(*) AS n FROM "{table}"').all()
        counts[table] = result["results"][0]["n"]
    return counts


@pytest.fixture
async def seeded(worker, contacts):  # contacts: crm_contacts, a table of a service the test declares (conftest)
    await make_thing(worker, "acme", "a1", type="Person", content="hello world", visibility="public")
    await make_thing(worker, "acme", "a2", type="Doc", content="another world")
    await make_thing(worker, "beta", "b1", content="secret beta stuff")
    await worker.rpc(
        "upsert_relationship",
        P_WRITER,
        {"from": {"ns": "acme", "id": "a1"}, "predicate": "knows", "to": {"ns": "beta", "id": "b1"}},
    )
    await worker.rpc("insert_record", P_CRM, T, {"id": "usr_1", "email": "a@x.io", "name": "A"})
    await worker.rpc("insert_record", P_CRM, T, {"id": "usr_2", "email": "b@x.io", "name": "B"})
    before = await snapshot(worker)
    assert before["things"] == 3
    assert before["crm_contacts"] == 2
    return worker, before


async def _unchanged(worker, before):
    assert await snapshot(worker) == before


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize("param", ["ns", "type", "visibility", "order_by", "order", "cursor", "page", "limit"])
async def test_things_list_query_string(seeded, param, value):
    worker, before = seeded
    response = await worker.fetch("/things?" + urlencode({param: value}), headers=READER)
    data = await body(response)
    assert response.status in (200, 400), (response.status, data)
    if response.status == 400:
        assert data["error"]["code"] == "VALIDATION_ERROR"
    else:
        assert data["data"] == []  # nothing matches a nasty filter
    await _unchanged(worker, before)


@pytest.mark.parametrize(
    "value", [*NASTY, "hello OR secret", "hello NOT world", "a AND b", '"hello"', "^hello", "{ns}"]
)
async def test_search_q(seeded, value):
    worker, before = seeded
    response = await worker.fetch("/search?" + urlencode({"q": value}), headers=READER)
    data = await body(response)
    assert response.status == 200, data
    ids = {t["id"] for t in data["data"]}
    # no input widens the match: operators are words ("hello OR secret" needs all three), never syntax
    assert "b1" not in ids
    result = await worker.rpc("search_things", P_WRITER, value)
    assert {t["id"] for t in result["items"]} == ids
    await _unchanged(worker, before)


async def test_search_operators_are_plain_words(seeded):
    worker, _ = seeded
    assert (await worker.rpc("search_things", P_WRITER, "hello OR secret"))["items"] == []
    assert (await worker.rpc("search_things", P_WRITER, "world NOT hello"))["items"] == []
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, '"hello" -world'))["items"]] == ["a1"]
    # `content:` is not a column filter: "content" is one more word that must match
    assert (await worker.rpc("search_things", P_WRITER, "content:hello"))["items"] == []
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, "hello:world"))["items"]] == ["a1"]


@pytest.mark.parametrize("value", NASTY)
async def test_search_filters(seeded, value):
    worker, before = seeded
    for param in ("ns", "type", "limit"):
        response = await worker.fetch("/search?" + urlencode({"q": "world", param: value}), headers=READER)
        assert response.status == 400, await response.json()
        assert (await response.json())["error"]["code"] == "VALIDATION_ERROR"
    await _unchanged(worker, before)


@pytest.mark.parametrize("value", NASTY)
async def test_relationship_inputs(seeded, value):
    worker, before = seeded
    good = {"from": {"ns": "acme", "id": "a1"}, "predicate": "knows", "to": {"ns": "beta", "id": "b1"}}
    variants = [
        good | {"predicate": value},
        good | {"from": {"ns": value, "id": "a1"}},
        good | {"to": {"ns": "beta", "id": value}},
    ]
    for variant in variants:
        stored, err = await rpc_outcome(worker, "upsert_relationship", P_WRITER, variant)
        if err is not None:
            assert err.status in (400, 404), err
            assert (await rpc_fails(worker, "delete_relationship", P_WRITER, variant)).status in (400, 404)
        else:  # a value that is a valid predicate/id (e.g. "content:") is stored verbatim, nothing else
            assert stored["predicate"] == variant["predicate"]
            assert await worker.rpc("delete_relationship", P_WRITER, variant) == {"deleted": True}
    for method, args in [
        ("get_relationships", ("acme", "a1", value)),
        ("get_incoming_relationships", (value, "a1")),
        ("get_relationships", ("acme", value)),
    ]:
        page, err = await rpc_outcome(worker, method, P_WRITER, *args)
        assert page == {"items": [], "has_more": False} if err is None else err.code == "VALIDATION_ERROR", err
    for param in ("predicate", "direction", "limit", "offset"):
        response = await worker.fetch("/things/acme/a1/relationships?" + urlencode({param: value}), headers=READER)
        data = await body(response)
        assert response.status == 400 or data["data"] == [], data
    response = await worker.fetch(f"/things/acme/{value.replace('/', '')}", headers=READER)
    assert response.status in (400, 404)
    await _unchanged(worker, before)


TABLE_NAMES = [
    "crm_contacts; DROP TABLE crm_contacts",
    'crm_contacts" --',
    "crm_contacts WHERE 1=1",
    "sqlite_master",
    "things",
    "Crm_Contacts",
    "contacts",
    "_migrations",
    "audit_log",  # db's own: not served over RPC
    "users",  # auth's, in auth's own database now
    "api_keys",
]


@pytest.mark.parametrize("table", TABLE_NAMES)
async def test_record_table_names(seeded, table):
    worker, before = seeded
    for method, args in record_calls(table):
        err = await rpc_fails(worker, method, *args)
        assert (err.status, err.code) == (400, "UNKNOWN_TABLE")
    await _unchanged(worker, before)


COLUMN_NAMES = [
    "id = id OR 1=1",
    "id) OR (1=1",
    'id" OR "1"="1',
    "email;DROP TABLE crm_contacts",
    "rowid",
    "ID",
    "email--",
]


@pytest.mark.parametrize("column", COLUMN_NAMES)
async def test_record_column_names(seeded, column):
    worker, before = seeded
    calls = [
        ("insert_record", (P_CRM, T, {column: "x"})),
        ("find_records", (P_CRM, T, {column: "x"})),
        ("find_records", (P_CRM, T, [{"field": column, "operator": "eq", "value": "x"}])),
        ("find_records", (P_CRM, T, None, column)),
        ("find_records", (P_CRM, T, None, "-" + column)),
        ("find_records", (P_CRM, T, None, [{"field": column, "direction": "asc"}])),
        ("count_records", (P_CRM, T, [{"field": column, "operator": "exists", "value": True}])),
        ("update_record", (P_CRM, T, "usr_1", {column: "x"})),
        ("update_record", (P_CRM, T, "usr_1", {"name": "x"}, {column: "x"})),
        ("increment_record", (P_CRM, T, "usr_1", column)),
        ("delete_record", (P_CRM, T, "usr_1", {column: "x"})),
        ("delete_records", (P_CRM, T, {column: "x"})),
    ]
    for method, args in calls:
        err = await rpc_fails(worker, method, *args)
        assert (err.status, err.code) == (400, "UNKNOWN_COLUMN"), (method, err)
    await _unchanged(worker, before)
    assert (await worker.rpc("get_record", P_CRM, T, "usr_1"))["name"] == "A"


@pytest.mark.parametrize(
    "operator", ["= 1 OR 1=1 --", "OR", "IS NOT", "IN", "LIKE", "eq OR 1=1", "==", "glob", "match", ""]
)
async def test_record_operators(seeded, operator):
    worker, before = seeded
    where = [{"field": "email", "operator": operator, "value": "x"}]
    for method, args in [
        ("find_records", (P_CRM, T, where)),
        ("delete_records", (P_CRM, T, where)),
        ("update_record", (P_CRM, T, "usr_1", {"name": "x"}, where)),
    ]:
        err = await rpc_fails(worker, method, *args)
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    await _unchanged(worker, before)


@pytest.mark.parametrize("value", NASTY)
async def test_record_values_are_bound(seeded, value):
    worker, before = seeded
    assert (await worker.rpc("find_records", P_CRM, T, {"email": value}))["items"] == []
    assert await worker.rpc("count_records", P_CRM, T, [{"field": "name", "operator": "ne", "value": value}]) == 2
    assert await worker.rpc("count_records", P_CRM, T, [{"field": "id", "operator": "in", "value": [value]}]) == 0
    assert await worker.rpc("delete_records", P_CRM, T, {"email": value}) == 0
    assert await worker.rpc("update_record", P_CRM, T, "usr_1", {"name": "x"}, {"email": value}) is None
    assert await worker.rpc("delete_record", P_CRM, T, "usr_1", {"email": value}) is False
    # as a record id: refused, or simply not found
    record, err = await rpc_outcome(worker, "get_record", P_CRM, T, value)
    assert record is None
    assert err is None or err.code == "VALIDATION_ERROR", err
    await _unchanged(worker, before)
    # stored verbatim, read back verbatim
    stored = await worker.rpc("insert_record", P_CRM, T, {"email": f"{value}@x", "name": value})
    assert (await worker.rpc("get_record", P_CRM, T, stored["id"]))["name"] == value
    assert await worker.rpc("count_records", P_CRM, T) == 3


async def test_injection_in_thing_bodies_is_stored_as_text(seeded):
    worker, before = seeded
    thing = {"ns": "acme", "id": "evil", "type": "Doc", "content": "'); DROP TABLE things; --", "data": {"'": '"'}}
    response = await worker.fetch("/things", method="POST", headers=WRITER, json=thing)
    assert response.status == 201
    got = await worker.rpc("get_thing", P_WRITER, "acme", "evil")
    assert (got["content"], got["data"]) == (thing["content"], thing["data"])
    assert (await snapshot(worker))["things"] == before["things"] + 1
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, "DROP TABLE"))["items"]] == ["evil"]


async def test_type_confused_rpc_arguments_are_400_not_500(seeded):
    worker, before = seeded
    calls = [
        ("get_thing", (P_WRITER, {"ns": "acme"}, "a1")),
        ("get_thing", (P_WRITER, "acme", ["a1"])),
        ("list_things", (P_WRITER, "ns=acme")),
        ("list_things", (P_WRITER, [1, 2])),
        ("search_things", (P_WRITER, ["hello"])),
        ("count_things", (P_WRITER, {"$ne": None})),
        ("upsert_relationship", (P_WRITER, "not a dict")),
        # the principal itself: not a principal, or a principal of the wrong shape
        ("get_thing", ("usr_writer", "acme", "a1")),
        ("get_thing", (None, "acme", "a1")),
        ("list_things", ({"id": "usr_writer"},)),
        ("list_things", ({"id": "usr_writer", "permissions": "db:read"},)),
        ("list_things", ({"id": 5, "permissions": ["db:read"]},)),
        ("list_things", ({"id": "usr_writer", "permissions": ["db:read"], "org_id": ["org_1"]},)),
        ("count_things", ({"id": "", "permissions": ["*"]},)),
        ("insert_record", (P_CRM, T, "email")),
        ("find_records", (P_CRM, T, 5)),
        ("update_record", (P_CRM, T, "usr_1", [["name", "x"]])),
        ("find_records", (None, T)),
        ("count_records", ("svc_crm", T)),
        ("get_record", ({"id": "svc_crm"}, T, "usr_1")),
        ("delete_records", ({"id": "svc_crm", "permissions": "db:admin"}, T, {"id": "usr_1"})),
    ]
    for method, args in calls:
        err = await rpc_fails(worker, method, *args)
        assert err.status == (401 if args[0] is None else 400), (method, args, err)  # no principal at all: 401
    await _unchanged(worker, before)


async def test_admin_can_still_see_all_tables(seeded):
    worker, _ = seeded
    response = await worker.fetch(
        "/sql", method="POST", headers=ADMIN, json={"sql": "SELECT name FROM sqlite_master WHERE type = 'table'"}
    )
    names = {r["name"] for r in (await body(response))["data"]["rows"]}
    assert set(TABLES) <= names
