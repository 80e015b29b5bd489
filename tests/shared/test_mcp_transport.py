"""MCP over HTTP: both revisions on one endpoint, the 2026-07-28 headers checked against the body, statuses."""

import base64
import json

import pytest
from pydantic import BaseModel

from shared.mcp import McpServer, ToolRegistry, mcp_endpoint
from shared.routing import Router

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


class Number(BaseModel):
    x: int


@pytest.fixture
def app():
    tools = ToolRegistry()

    @tools.tool("double", "Double a number", Number)
    async def double(args, ctx):
        return {"value": args.x * 2}

    router = Router()
    router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(McpServer(name="svc", version="1", tools=tools)))
    return router


@pytest.fixture
def post(app, request_for):
    async def post(message, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(message)
        all_headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        response = await app.handle(request_for("/mcp", "POST", body=body, headers=all_headers | (headers or {})), None)
        text = await response.text()
        return response, (json.loads(text) if text else None)

    return post


def modern_call(name="double", arguments=None, **extra_params):
    params = {"name": name, "arguments": arguments or {"x": 2}, "_meta": dict(META)} | extra_params
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}


def modern_headers(method="tools/call", name="double", **more):
    headers = {"mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers | more


async def test_a_modern_request_with_matching_headers_is_answered(post):
    response, body = await post(modern_call(), modern_headers())
    assert response.status == 200
    assert response.headers.get("content-type").startswith("application/json")
    assert body["id"] == 7
    assert body["result"]["structuredContent"] == {"value": 4}
    assert body["result"]["resultType"] == "complete"
    assert "mcp-session-id" not in response.headers


async def test_a_base64_encoded_name_header_is_decoded_before_comparing(post):
    encoded = "=?base64?" + base64.b64encode(b"double").decode() + "?="
    response, body = await post(modern_call(), modern_headers(name=encoded))
    assert response.status == 200, body
    response, body = await post(modern_call(), modern_headers(name="=?base64?not base64!?="))
    assert (response.status, body["error"]["code"]) == (400, -32020)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (modern_headers(name="other"), -32020),  # Mcp-Name differs from params.name
        (modern_headers(name=None), -32020),  # Mcp-Name missing
        (modern_headers(method="tools/list"), -32020),  # Mcp-Method differs from the method
        ({"mcp-protocol-version": MODERN, "mcp-name": "double"}, -32020),  # Mcp-Method missing
        (modern_headers(**{"mcp-protocol-version": "2025-11-25"}), -32020),  # header and _meta disagree
        ({"mcp-method": "tools/call", "mcp-name": "double"}, -32020),  # _meta's version without the header
        (modern_headers(**{"mcp-protocol-version": "2031-01-01"}), -32022),
    ],
)
async def test_header_problems_are_400_with_the_spec_codes(post, headers, code):
    response, body = await post(modern_call(), headers)
    assert (response.status, body["error"]["code"]) == (400, code)
    assert body["id"] == 7


async def test_an_unsupported_version_names_the_supported_ones(post):
    _, body = await post(modern_call(), modern_headers(**{"mcp-protocol-version": "1900-01-01"}))
    assert body["error"]["data"] == {
        "supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
        "requested": "1900-01-01",
    }


async def test_a_modern_request_without_its_meta_fields_is_invalid_params(post):
    no_meta = modern_call()
    del no_meta["params"]["_meta"]
    response, body = await post(no_meta, modern_headers())
    assert (response.status, body["error"]["code"]) == (400, -32602)
    no_capabilities = modern_call(_meta={"io.modelcontextprotocol/protocolVersion": MODERN})
    response, body = await post(no_capabilities, modern_headers())
    assert (response.status, body["error"]["code"]) == (400, -32602)
    wrong_type = modern_call(_meta={"io.modelcontextprotocol/protocolVersion": 2026})
    response, body = await post(wrong_type, modern_headers())
    assert (response.status, body["error"]["code"]) == (400, -32602)


async def test_modern_errors_carry_their_http_status(post):
    unknown = {"jsonrpc": "2.0", "id": 1, "method": "nope/nope", "params": {"_meta": META}}
    response, body = await post(unknown, modern_headers(method="nope/nope", name=None))
    assert (response.status, body["error"]["code"]) == (404, -32601)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping", "params": {"_meta": META}}
    response, body = await post(ping, modern_headers(method="ping", name=None))
    assert (response.status, body["error"]["code"]) == (404, -32601)  # ping is gone in 2026-07-28
    response, body = await post(modern_call(name="nope"), modern_headers(name="nope"))
    assert (response.status, body["error"]["code"]) == (400, -32602)
    response, body = await post(modern_call(arguments={"x": "two"}), modern_headers())
    assert (response.status, body["result"]["isError"]) == (200, True)  # a tool error is a result


async def test_the_handshake_revisions_need_no_headers_and_answer_errors_with_200(post):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    response, body = await post(init)
    assert response.status == 200
    assert body["result"]["protocolVersion"] == "2025-11-25"
    assert "mcp-session-id" not in response.headers
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    response, body = await post(note, {"mcp-protocol-version": "2025-11-25"})
    assert (response.status, body) == (202, None)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "double", "arguments": {"x": 5}}}
    response, body = await post(call, {"mcp-protocol-version": "2025-06-18", "mcp-session-id": "anything"})
    assert body["result"]["structuredContent"] == {"value": 10}
    response, body = await post({"jsonrpc": "2.0", "id": 3, "method": "nope"}, {"mcp-protocol-version": "2025-11-25"})
    assert (response.status, body["error"]["code"]) == (200, -32601)
    # a mirrored header that is sent is checked in every revision
    response, body = await post(call, {"mcp-method": "tools/list"})
    assert (response.status, body["error"]["code"]) == (400, -32020)
    response, body = await post(call, {"mcp-name": "other"})
    assert (response.status, body["error"]["code"]) == (400, -32020)


async def test_malformed_messages(post):
    response, body = await post(None, raw="{oops")
    assert (response.status, body["error"]["code"], body["id"]) == (400, -32700, None)
    for message in ([], [{"jsonrpc": "2.0", "id": 1, "method": "ping"}], "x", 5, {"id": 1, "method": "ping"}):
        response, body = await post(message)
        assert (response.status, body["error"]["code"]) == (400, -32600), message
    for message in (
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1, "result": {}},  # a response: this server sends no requests
        {"jsonrpc": "2.0", "id": 1, "method": ""},
    ):
        response, body = await post(message)
        assert (response.status, body["error"]["code"]) == (400, -32600), message


async def test_size_methods_and_origin(post, app, request_for):
    response, body = await post(None, raw='"' + "x" * (1024 * 1024 + 1) + '"')
    assert (response.status, body["error"]["code"]) == (413, -32600)
    for method in ("GET", "DELETE"):
        reply = await app.handle(request_for("/mcp", method), None)
        assert (reply.status, reply.headers.get("allow")) == (405, "POST")
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    response, body = await post(ping, {"origin": "https://evil.example"})
    assert (response.status, body["error"]["code"]) == (403, -32600)
    response, body = await post(ping, {"origin": "https://svc.do"})
    assert response.status == 200
