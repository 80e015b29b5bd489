"""MCP tools declared once: tools/list shapes, tools/call results, validation and unknown tools, the endpoint."""

import json

import pytest
from pydantic import BaseModel, Field

from shared.errors import NotFound
from shared.mcp import Tool, ToolRegistry, UnknownTool, handle_message, mcp_endpoint
from shared.routing import Router


class Double(BaseModel):
    x: int = Field(description="The number to double")


class Item(BaseModel):
    id: str


@pytest.fixture
def registry(lines):
    registry = ToolRegistry(log=lines.append)

    @registry.tool("math_double", "Double a number", Double)
    async def double(args, ctx):
        return {"value": args.x * 2}

    @registry.tool("find", "Find a thing", Double)
    async def find(args, ctx):
        raise NotFound("nothing", details={"x": args.x})

    @registry.tool("broken", "Always fails", Double)
    async def broken(args, ctx):
        raise RuntimeError("secret internals")

    @registry.tool("items", "Items as models", Double)
    async def items(args, ctx):
        return [Item(id="a"), Item(id="b")]

    @registry.tool("item", "One item as a model", Double)
    async def item(args, ctx):
        return Item(id="a")

    return registry


def test_list_gives_mcp_shapes(registry):
    tools = registry.list()
    assert [t["name"] for t in tools] == ["math_double", "find", "broken", "items", "item"]
    assert tools[0] == {
        "name": "math_double",
        "description": "Double a number",
        "inputSchema": {
            "type": "object",
            "properties": {"x": {"title": "X", "type": "integer", "description": "The number to double"}},
            "required": ["x"],
        },
    }


async def test_call_gives_text_and_structured_content(registry):
    result = await registry.call("math_double", {"x": 4}, None)
    assert result["isError"] is False
    assert result["structuredContent"] == {"value": 8}
    assert result["content"] == [{"type": "text", "text": json.dumps({"value": 8})}]


async def test_models_are_dumped(registry):
    one = await registry.call("item", {"x": 1}, None)
    assert one["structuredContent"] == {"id": "a"}
    many = await registry.call("items", {"x": 1}, None)
    assert json.loads(many["content"][0]["text"]) == [{"id": "a"}, {"id": "b"}]
    assert "structuredContent" not in many  # MCP's structured content is an object


async def test_invalid_arguments_are_a_tool_error_with_field_errors(registry):
    for arguments in ({"x": "four"}, {}, None):
        result = await registry.call("math_double", arguments, None)
        assert result["isError"] is True
        error = result["structuredContent"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"][0]["field"] == "x"
        assert "four" not in result["content"][0]["text"]


async def test_app_errors_are_tool_errors(registry):
    result = await registry.call("find", {"x": 1}, None)
    assert result["isError"] is True
    assert result["structuredContent"] == {"code": "NOT_FOUND", "message": "nothing", "details": {"x": 1}}


async def test_unexpected_exceptions_are_tool_errors_without_internals(registry, lines):
    class Ctx:
        request_id = "r-9"

    result = await registry.call("broken", {"x": 1}, Ctx())
    assert result["isError"] is True
    assert result["structuredContent"]["code"] == "INTERNAL_ERROR"
    assert "secret" not in json.dumps(result)
    logged = json.loads(lines[0])
    assert (logged["tool"], logged["request_id"], logged["error"]) == ("broken", "r-9", "RuntimeError")


async def test_unknown_tool_is_a_distinct_exception(registry):
    with pytest.raises(UnknownTool):
        await registry.call("nope", {}, None)


@pytest.mark.parametrize("name", ["has space", "", "x" * 65, "dots.not.allowed", "name\n", "ünï"])
def test_tool_names_are_checked_at_declaration(name):
    with pytest.raises(ValueError, match="invalid MCP tool name"):
        Tool(name, "d", Double, None)


def test_names_up_to_64_and_duplicates():
    Tool("a" * 64, "d", Double, None)
    registry = ToolRegistry()
    registry.add(Tool("a", "d", Double, None))
    with pytest.raises(ValueError, match="twice"):
        registry.add(Tool("a", "d", Double, None))
    with pytest.raises(ValueError, match="description"):
        Tool("b", "", Double, None)
    assert registry.names() == ["a"]


# -- JSON-RPC ---------------------------------------------------------------------------------------


async def rpc(registry, method, params=None, id=1):
    message = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return await handle_message(message, registry, None, name="svc", version="1.2.3")


async def test_initialize_negotiates_the_revision(registry):
    reply = await rpc(registry, "initialize", {"protocolVersion": "2025-06-18"})
    assert reply["result"]["protocolVersion"] == "2025-06-18"
    assert reply["result"]["serverInfo"] == {"name": "svc", "version": "1.2.3"}
    assert "tools" in reply["result"]["capabilities"]
    assert (await rpc(registry, "initialize", {"protocolVersion": "1999-01-01"}))["result"]["protocolVersion"] == (
        "2025-11-25"
    )


async def test_tools_list_and_call_over_json_rpc(registry):
    listed = await rpc(registry, "tools/list")
    assert len(listed["result"]["tools"]) == 5
    called = await rpc(registry, "tools/call", {"name": "math_double", "arguments": {"x": 2}}, id="a")
    assert (called["id"], called["result"]["structuredContent"]) == ("a", {"value": 4})
    assert (await rpc(registry, "ping"))["result"] == {}


async def test_protocol_errors(registry):
    assert (await rpc(registry, "tools/call", {"name": "nope"}))["error"]["code"] == -32602
    assert (await rpc(registry, "tools/call", {"arguments": {}}))["error"]["code"] == -32602
    assert (await rpc(registry, "tools/call", {"name": "find", "arguments": [1]}))["error"]["code"] == -32602
    assert (await rpc(registry, "tools/call", []))["error"]["code"] == -32602
    assert (await rpc(registry, "resources/list"))["error"]["code"] == -32601
    invalid = await handle_message({"id": 1}, registry, None, name="s", version="1")
    assert invalid["error"]["code"] == -32600
    assert (await handle_message("x", registry, None, name="s", version="1"))["error"]["code"] == -32600


async def test_notifications_get_no_answer(registry):
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert await handle_message(note, registry, None, name="s", version="1") is None


async def test_the_endpoint_over_http(registry, request_for):
    router = Router()
    router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(registry, name="svc", version="1"))

    def post(body, **headers):
        return request_for("/mcp", "POST", body=body, headers={"content-type": "application/json", **headers})

    message = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "math_double", "arguments": {"x": 5}}}
    )
    reply = await router.handle(post(message), None)
    assert reply.status == 200
    assert (await reply.json())["result"]["structuredContent"] == {"value": 10}
    note = await router.handle(post('{"jsonrpc": "2.0", "method": "notifications/initialized"}'), None)
    assert note.status == 202
    garbage = await router.handle(post("{oops"), None)
    assert (garbage.status, (await garbage.json())["error"]["code"]) == (400, -32700)
    batch = await router.handle(post("[]"), None)
    assert (batch.status, (await batch.json())["error"]["code"]) == (400, -32600)
    old = await router.handle(post(message, **{"mcp-protocol-version": "2024-01-01"}), None)
    assert old.status == 400
    huge = await router.handle(post('"' + "x" * (1024 * 1024 + 1) + '"'), None)
    assert huge.status == 413
    get = await router.handle(request_for("/mcp"), None)
    assert (get.status, get.headers.get("allow")) == (405, "POST")
