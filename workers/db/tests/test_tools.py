"""MCP over HTTP (POST /mcp, JSON-RPC 2.0): the tools give the same data as RPC and HTTP, and check permissions."""

import itertools
import json

import pytest
from conftest import P_WRITER, READER, WRITER, make_thing

from dotdo_dev.testing import envelope as body

_ids = itertools.count(1)


async def mcp(worker, method, params=None, headers=WRITER):
    message = {"jsonrpc": "2.0", "id": next(_ids), "method": method}
    if params is not None:
        message["params"] = params
    # the latest handshake revision, as today's clients speak it once initialized
    headers = headers | {"mcp-protocol-version": "2025-11-25"}
    response = await worker.fetch("/mcp", method="POST", headers=headers, json=message)
    assert response.status == 200, await response.json()
    reply = await response.json()
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == message["id"]
    return reply


async def call(worker, tool, arguments, headers=WRITER):
    """`tools/call`: (is_error, structured data); the text content holds the same JSON."""
    result = (await mcp(worker, "tools/call", {"name": tool, "arguments": arguments}, headers))["result"]
    (content,) = result["content"]
    assert content["type"] == "text"
    data = json.loads(content["text"])
    if "structuredContent" in result:
        assert result["structuredContent"] == data
    return result["isError"], data


async def test_initialize(worker):
    reply = await mcp(worker, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}})
    result = reply["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"]["name"] == "db"
    assert "tools" in result["capabilities"]
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    response = await worker.fetch("/mcp", method="POST", headers=WRITER, json=notification)
    assert response.status == 202


async def test_tools_list_shows_each_principal_the_tools_it_may_call(worker):
    reads = (await mcp(worker, "tools/list", headers=READER))["result"]["tools"]
    assert sorted(t["name"] for t in reads) == sorted(["db_get", "db_list", "db_search", "db_stats"])
    tools = (await mcp(worker, "tools/list", headers=WRITER))["result"]["tools"]
    assert sorted(t["name"] for t in tools) == sorted(
        ["db_get", "db_list", "db_search", "db_upsert", "db_delete", "db_stats"]
    )
    for tool in tools:
        assert tool["description"]
        assert tool["inputSchema"]["type"] == "object"
    schemas = {t["name"]: t["inputSchema"] for t in tools}
    assert set(schemas["db_get"]["required"]) == {"ns", "id"}
    assert set(schemas["db_upsert"]["required"]) == {"ns", "id"}
    assert schemas["db_search"]["required"] == ["q"]
    assert schemas["db_stats"].get("properties", {}) == {}


async def test_same_data_as_rpc_and_http(worker):
    thing = {"ns": "acme", "id": "m1", "type": "Note", "data": {"k": [1, 2]}, "content": "model context protocol"}
    error, upserted = await call(worker, "db_upsert", thing)
    assert error is False
    assert upserted["created"] is True
    assert upserted["created_by"] == "usr_writer"
    error, again = await call(worker, "db_upsert", thing | {"visibility": "public"})
    assert again["created"] is False
    assert again["visibility"] == "public"

    stored = await worker.rpc("get_thing", P_WRITER, "acme", "m1")
    http = (await body(await worker.fetch("/things/acme/m1", headers=READER)))["data"]
    error, got = await call(worker, "db_get", {"ns": "acme", "id": "m1"}, READER)
    assert error is False
    assert got == stored == http == {k: v for k, v in again.items() if k != "created"}

    await make_thing(worker, "acme", "m2", content="another protocol", visibility="public")
    error, listed = await call(worker, "db_list", {"ns": "acme", "order_by": "id", "order": "asc"}, READER)
    assert error is False
    assert listed == await worker.rpc("list_things", P_WRITER, {"ns": "acme", "order_by": "id", "order": "asc"})
    assert [t["id"] for t in listed["items"]] == ["m1", "m2"]
    error, first = await call(worker, "db_list", {"ns": "acme", "limit": 1, "order_by": "id", "order": "asc"}, READER)
    error, second = await call(
        worker,
        "db_list",
        {"ns": "acme", "limit": 1, "order_by": "id", "order": "asc", "cursor": first["next_cursor"]},
        READER,
    )
    assert [t["id"] for t in first["items"] + second["items"]] == ["m1", "m2"]

    error, found = await call(worker, "db_search", {"q": "protocol", "ns": "acme"}, READER)
    assert error is False
    assert found == await worker.rpc("search_things", P_WRITER, "protocol", "acme")
    assert sorted(t["id"] for t in found["items"]) == ["m1", "m2"]
    http_search = (await body(await worker.fetch("/search?q=protocol&ns=acme", headers=READER)))["data"]
    assert http_search == found["items"]

    error, stats = await call(worker, "db_stats", {}, READER)
    assert stats == await worker.rpc("stats", P_WRITER)

    error, deleted = await call(worker, "db_delete", {"ns": "acme", "id": "m1"})
    assert (error, deleted) == (False, {"ns": "acme", "id": "m1", "deleted": True})
    error, missing = await call(worker, "db_get", {"ns": "acme", "id": "m1"}, READER)
    assert error is True
    assert missing["code"] == "NOT_FOUND"
    error, missing = await call(worker, "db_delete", {"ns": "acme", "id": "m1"})
    assert error is True
    assert missing["code"] == "NOT_FOUND"
    assert await worker.rpc("count_things", P_WRITER) == 1


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("db_upsert", {"ns": "acme", "id": "r1"}),
        ("db_delete", {"ns": "acme", "id": "keep"}),
    ],
)
async def test_reader_cannot_write_through_tools(worker, tool, arguments):
    await make_thing(worker, "acme", "keep")
    error, data = await call(worker, tool, arguments, READER)
    assert error is True
    assert data["code"] == "FORBIDDEN"
    assert await worker.rpc("count_things", P_WRITER) == 1
    assert await worker.rpc("get_thing", P_WRITER, "acme", "keep")


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("db_get", {"ns": "acme"}),
        ("db_get", {"ns": "BAD NS", "id": "x"}),
        ("db_list", {"limit": 0}),
        ("db_list", {"order_by": "data; drop table things"}),
        ("db_search", {}),
        ("db_search", {"q": "x", "extra": 1}),
        ("db_upsert", {"ns": "acme", "id": "x", "visibility": "everyone"}),
        ("db_upsert", {"ns": "acme", "id": "x", "data": "not an object"}),
        ("db_stats", {"anything": 1}),
    ],
)
async def test_invalid_arguments_are_tool_errors(worker, tool, arguments):
    error, data = await call(worker, tool, arguments)
    assert error is True
    assert data["code"] == "VALIDATION_ERROR"
    assert data["details"]
    assert all("field" in d for d in data["details"])
    assert await worker.rpc("count_things", P_WRITER) == 0


async def test_list_with_bad_cursor_is_a_tool_error(worker):
    error, data = await call(worker, "db_list", {"cursor": "nonsense"}, READER)
    assert error is True
    assert data["code"] == "VALIDATION_ERROR"


async def test_nothing_token_gets_forbidden_tool_errors(worker):
    from conftest import NOTHING

    error, data = await call(worker, "db_stats", {}, NOTHING)
    assert error is True
    assert data["code"] == "FORBIDDEN"


async def test_protocol_errors(worker):
    reply = await mcp(worker, "tools/call", {"name": "db_nope", "arguments": {}})
    assert reply["error"]["code"] == -32602
    reply = await mcp(worker, "no/such/method")
    assert reply["error"]["code"] == -32601
    response = await worker.fetch("/mcp", method="POST", headers=WRITER, body="{not json")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == -32700
    response = await worker.fetch("/mcp", headers=WRITER)
    assert response.status == 405


async def test_mcp_needs_a_token(worker):
    response = await worker.fetch("/mcp", method="POST", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status == 401
    assert response.headers.get("www-authenticate")
    assert (await response.json())["error"]["code"] == "UNAUTHORIZED"
    response = await worker.fetch(
        "/mcp",
        method="POST",
        headers={"authorization": "Bearer nope"},
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
    )
    assert response.status == 401
