"""The HTTP API: authentication and permissions, the envelope, a writer's round trip, input errors."""

import pytest
from conftest import ADMIN, NOTHING, P_WRITER, READER, WRITER, make_thing

from dotdo_dev.testing import envelope as body

READ_ROUTES = [
    "/things",
    "/things/acme/a1",
    "/things/acme/a1/relationships",
    "/relationships?ns=acme&id=a1",
    "/search?q=hello",
    "/stats",
    "/types",
]
WRITE_ROUTES = [
    ("POST", "/things", {"ns": "acme", "id": "new"}),
    ("PUT", "/things/acme/a1", {"type": "X"}),
    ("DELETE", "/things/acme/a1", None),
    (
        "POST",
        "/relationships",
        {"from": {"ns": "acme", "id": "a1"}, "predicate": "p", "to": {"ns": "acme", "id": "a1"}},
    ),
    (
        "DELETE",
        "/relationships",
        {"from": {"ns": "acme", "id": "a1"}, "predicate": "p", "to": {"ns": "acme", "id": "a1"}},
    ),
]
ALL_ROUTES = [("GET", p, None) for p in READ_ROUTES] + WRITE_ROUTES + [("POST", "/sql", {"sql": "select 1"})]


async def test_health_is_public(worker, auth):
    response = await worker.fetch("/health")
    assert response.status == 200
    data = await body(response)
    assert data["success"] is True
    assert data["data"]["service"] == "db"
    assert data["data"]["status"] == "ok"
    assert data["data"]["schema_version"] == 3
    assert auth.calls == []  # no token asked for


@pytest.mark.parametrize(("method", "path", "payload"), [*ALL_ROUTES, ("POST", "/mcp", {"jsonrpc": "2.0"})])
async def test_no_token_is_401(worker, auth, method, path, payload):
    await make_thing(worker, "acme", "a1")
    response = await worker.fetch(path, method=method, json=payload)
    assert response.status == 401
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    data = await body(response)
    assert data["success"] is False
    assert data["error"]["code"] == "UNAUTHORIZED"
    for headers in ({"authorization": "Basic abc"}, {"authorization": "Bearer "}, {"authorization": "writer-token"}):
        response = await worker.fetch(path, method=method, json=payload, headers=headers)
        assert response.status == 401
    assert auth.calls == []
    assert await worker.rpc("get_thing", P_WRITER, "acme", "a1")  # nothing deleted


@pytest.mark.parametrize(("method", "path", "payload"), ALL_ROUTES)
async def test_bad_token_is_401(worker, auth, method, path, payload):
    response = await worker.fetch(path, method=method, json=payload, headers={"authorization": "Bearer forged"})
    assert response.status == 401
    assert response.headers.get("www-authenticate")
    assert (await body(response))["error"]["code"] == "INVALID_TOKEN"
    assert auth.calls == ["forged"]


@pytest.mark.parametrize("path", READ_ROUTES)
async def test_reader_reads_nothing_token_does_not(worker, path):
    await make_thing(worker, "acme", "a1", content="hello", visibility="public")
    response = await worker.fetch(path, headers=READER)
    assert response.status == 200, await response.json()
    assert (await body(response))["success"] is True
    response = await worker.fetch(path, headers=NOTHING)
    assert response.status == 403
    error = (await body(response))["error"]
    assert error["code"] == "FORBIDDEN"
    assert error["details"] == {"permission": "db:read"}


@pytest.mark.parametrize(("method", "path", "payload"), WRITE_ROUTES)
async def test_reader_cannot_write(worker, method, path, payload):
    await make_thing(worker, "acme", "a1")
    before = await worker.rpc("stats", P_WRITER)
    for headers in (READER, NOTHING):
        response = await worker.fetch(path, method=method, json=payload, headers=headers)
        assert response.status == 403
        error = (await body(response))["error"]
        assert error["code"] == "FORBIDDEN"
        assert error["details"] == {"permission": "db:write"}
    assert await worker.rpc("stats", P_WRITER) == before
    assert (await worker.rpc("get_thing", P_WRITER, "acme", "a1"))["type"] == "Thing"


async def test_writer_round_trip(worker):
    thing = {"ns": "acme", "id": "a1", "type": "Person", "data": {"n": 1}, "content": "hello http world"}
    thing["visibility"] = "public"  # read back by the reader below
    response = await worker.fetch("/things", method="POST", headers=WRITER, json=thing)
    assert response.status == 201
    created = (await body(response))["data"]
    assert created["created"] is True
    assert created["created_by"] == "usr_writer"
    response = await worker.fetch("/things", method="POST", headers=WRITER, json=thing | {"data": {"n": 2}})
    assert response.status == 200
    replaced = (await body(response))["data"]
    assert replaced["created"] is False
    assert replaced["data"] == {"n": 2}

    response = await worker.fetch("/things/acme/a1", headers=READER)
    got = (await body(response))["data"]
    assert got == {k: v for k, v in replaced.items() if k != "created"}
    assert got == await worker.rpc("get_thing", P_WRITER, "acme", "a1")

    for i in range(3):
        await make_thing(worker, "acme", f"z{i}", visibility="public")
    await make_thing(worker, "other", "o1", visibility="public")
    response = await worker.fetch("/things?ns=acme&limit=2&order_by=id&order=asc", headers=READER)
    listed = await body(response)
    assert [t["id"] for t in listed["data"]] == ["a1", "z0"]
    meta = listed["meta"]
    assert (meta["page"], meta["limit"], meta["total"], meta["has_more"]) == (1, 2, 4, True)
    assert meta["next_cursor"]
    assert "request_id" in meta
    response = await worker.fetch(
        f"/things?ns=acme&limit=2&order_by=id&order=asc&cursor={meta['next_cursor']}", headers=READER
    )
    rest = await body(response)
    assert [t["id"] for t in rest["data"]] == ["z1", "z2"]
    assert rest["meta"]["has_more"] is False
    assert rest["meta"]["next_cursor"] is None
    assert rest["meta"]["page"] is None
    response = await worker.fetch("/things?ns=acme&page=2&limit=3", headers=READER)
    assert (await body(response))["meta"]["page"] == 2

    response = await worker.fetch("/search?q=http%20wor*&ns=acme", headers=READER)
    found = await body(response)
    assert [t["id"] for t in found["data"]] == ["a1"]
    assert "[http]" in found["data"][0]["snippet"]
    assert found["meta"]["query"] == "http wor*"

    response = await worker.fetch("/things/acme/a1", method="PUT", headers=WRITER, json={"ns": "beta", "type": "X"})
    assert response.status == 400
    assert (await body(response))["error"]["code"] == "VALIDATION_ERROR"
    response = await worker.fetch("/things/acme/a1", method="PUT", headers=WRITER, json={"id": "a2"})
    assert response.status == 400
    response = await worker.fetch("/things/acme/a1", method="PUT", headers=WRITER, json=["x"])
    assert response.status == 400
    assert (await worker.rpc("get_thing", P_WRITER, "acme", "a1"))["type"] == "Person"
    response = await worker.fetch("/things/acme/a1", method="PUT", headers=WRITER, json={"ns": "acme", "type": "Robot"})
    assert response.status == 200
    assert (await body(response))["data"]["type"] == "Robot"
    response = await worker.fetch("/things/acme/p9", method="PUT", headers=WRITER, json={"type": "Robot"})
    assert response.status == 201

    response = await worker.fetch("/things/acme/a1", method="DELETE", headers=WRITER)
    assert response.status == 200
    assert (await body(response))["data"] == {"ns": "acme", "id": "a1", "deleted": True}
    response = await worker.fetch("/things/acme/a1", headers=READER)
    assert response.status == 404
    assert (await body(response))["error"]["code"] == "NOT_FOUND"
    response = await worker.fetch("/things/acme/a1", method="DELETE", headers=WRITER)
    assert response.status == 404


async def test_relationships_over_http(worker):
    for id in ("a", "b", "c"):
        await make_thing(worker, "acme", id, visibility="public")  # the reader sees public things only
    edge = {"from": {"ns": "acme", "id": "a"}, "predicate": "knows", "to": {"ns": "acme", "id": "b"}, "data": {"w": 1}}
    response = await worker.fetch("/relationships", method="POST", headers=WRITER, json=edge)
    assert response.status == 201
    stored = (await body(response))["data"]
    assert stored["data"] == {"w": 1}
    assert stored["created_by"] == "usr_writer"
    await worker.fetch("/relationships", method="POST", headers=WRITER, json=edge | {"to": {"ns": "acme", "id": "c"}})
    response = await worker.fetch(
        "/relationships", method="POST", headers=WRITER, json=edge | {"to": {"ns": "acme", "id": "x"}}
    )
    assert response.status == 404
    assert (await body(response))["error"]["details"] == {"ns": "acme", "id": "x"}

    response = await worker.fetch("/relationships?ns=acme&id=a&limit=1", headers=READER)
    page = await body(response)
    assert [r["to"]["id"] for r in page["data"]] == ["b"]
    assert page["meta"]["has_more"] is True
    response = await worker.fetch("/things/acme/b/relationships?direction=incoming", headers=READER)
    incoming = (await body(response))["data"]
    assert [(r["from"]["id"], r["predicate"]) for r in incoming] == [("a", "knows")]
    assert incoming[0] == (await worker.rpc("get_incoming_relationships", P_WRITER, "acme", "b"))["items"][0]
    response = await worker.fetch("/things/acme/b/relationships", headers=READER)
    assert (await body(response))["data"] == []
    response = await worker.fetch("/things/acme/a/relationships?predicate=likes", headers=READER)
    assert (await body(response))["data"] == []
    response = await worker.fetch("/relationships", headers=READER)  # ns and id are required
    assert response.status == 400

    response = await worker.fetch("/relationships", method="DELETE", headers=WRITER, json=edge)
    assert response.status == 200
    assert (await body(response))["data"] == {"deleted": True}
    response = await worker.fetch("/relationships", method="DELETE", headers=WRITER, json=edge)
    assert response.status == 404


async def test_stats_and_types(worker):
    await make_thing(worker, "acme", "a", type="Person", visibility="public")
    await make_thing(worker, "acme", "b", type="Person", visibility="public")
    await make_thing(worker, "beta", "c", type="Doc", visibility="public")
    stats = (await body(await worker.fetch("/stats", headers=READER)))["data"]
    assert stats == await worker.rpc("stats", P_WRITER)
    assert stats["things"] == 3
    assert stats["schema_version"] == 3
    types = (await body(await worker.fetch("/types", headers=READER)))["data"]
    assert types == [{"type": "Person", "count": 2}, {"type": "Doc", "count": 1}]
    types = (await body(await worker.fetch("/types?ns=beta", headers=READER)))["data"]
    assert types == [{"type": "Doc", "count": 1}]
    assert (await worker.fetch("/types?ns=BAD!", headers=READER)).status == 400


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"body": "{not json", "headers": {"content-type": "application/json"}}, 400, "INVALID_JSON"),
        ({"body": "", "headers": {"content-type": "application/json"}}, 400, "INVALID_JSON"),
        (
            {"body": '{"ns": "acme", "id": "x", "data": {"n": NaN}}', "headers": {"content-type": "application/json"}},
            400,
            "INVALID_JSON",
        ),
        ({"body": '{"ns":"acme","id":"x"}', "headers": {"content-type": "text/plain"}}, 415, None),
        ({"body": '{"ns":"acme","id":"x"}', "headers": {"content-type": "multipart/form-data"}}, 415, None),
        ({"json": {"ns": "acme", "id": "x", "data": {"big": "x" * (256 * 1024)}}}, 400, "VALIDATION_ERROR"),
        ({"json": {"ns": "acme", "id": "x", "content": "x" * (1024 * 1024 + 1)}}, 413, None),
        ({"json": ["ns", "acme"]}, 400, "VALIDATION_ERROR"),
        ({"json": {"ns": "acme", "id": "x", "unknown": 1}}, 400, "VALIDATION_ERROR"),
    ],
)
async def test_bad_bodies(worker, kwargs, status, code):
    headers = WRITER | kwargs.pop("headers", {})
    response = await worker.fetch("/things", method="POST", headers=headers, **kwargs)
    assert response.status == status
    error = (await body(response))["error"]
    assert error["code"]
    assert code is None or error["code"] == code
    assert await worker.rpc("count_things", P_WRITER) == 0


async def test_field_errors_name_the_field(worker):
    response = await worker.fetch(
        "/things", method="POST", headers=WRITER, json={"ns": "acme", "id": "x", "visibility": "top"}
    )
    details = (await body(response))["error"]["details"]
    assert [d["field"] for d in details] == ["visibility"]
    assert "top" not in str(details)  # input is not echoed


@pytest.mark.parametrize("query", ["foo=1", "ns=acme&sort=id", "q=x", "limit=abc", "page=-1", "limit=1000"])
async def test_bad_query_params_on_things(worker, query):
    response = await worker.fetch(f"/things?{query}", headers=READER)
    assert response.status == 400
    assert (await body(response))["error"]["code"] == "VALIDATION_ERROR"


async def test_unknown_search_params_and_missing_q(worker):
    assert (await worker.fetch("/search?q=x&foo=1", headers=READER)).status == 400
    response = await worker.fetch("/search", headers=READER)
    assert response.status == 400
    assert (await body(response))["error"]["code"] == "VALIDATION_ERROR"


async def test_request_id_is_honoured_or_replaced(worker):
    response = await worker.fetch("/things", headers=READER | {"x-request-id": "req-abc.123"})
    assert response.headers.get("x-request-id") == "req-abc.123"
    assert (await body(response))["meta"]["request_id"] == "req-abc.123"
    response = await worker.fetch("/things/acme/none", headers=READER | {"x-request-id": "trace:42"})
    assert response.status == 404
    assert response.headers.get("x-request-id") == "trace:42"
    assert (await body(response))["meta"]["request_id"] == "trace:42"
    response = await worker.fetch("/health", headers={"x-request-id": "<script>"})
    fresh = response.headers.get("x-request-id")
    assert fresh
    assert fresh != "<script>"
    assert (await body(response))["meta"]["request_id"] == fresh


async def test_unknown_route_and_method(worker):
    response = await worker.fetch("/nope", headers=READER)
    assert response.status == 404
    response = await worker.fetch("/stats", method="DELETE", headers=ADMIN)
    assert response.status == 405
    assert "GET" in response.headers.get("allow", "")


@pytest.mark.parametrize(
    ("path", "method"),
    [("/rpc", "POST"), ("/admin/migrate-graph-schema", "POST"), ("/admin/migrate-vector-schema", "POST")],
)
async def test_the_originals_open_doors_are_gone(worker, path, method):
    # The original answered POST /rpc {method, params} with this[method](...) (executeSql included)
    # and ran DDL from /admin/* without authentication.
    anonymous = await worker.fetch(path, method=method, json={"method": "executeSql", "params": ["DROP TABLE things"]})
    assert anonymous.status == 401
    as_admin = await worker.fetch(path, method=method, json={"method": "executeSql"}, headers=ADMIN)
    assert as_admin.status == 404
