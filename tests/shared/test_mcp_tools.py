"""MCP tools declared once: tools/list shapes, tools/call results, validation and unknown tools."""

import json

import pytest
from pydantic import BaseModel, Field

from shared.errors import NotFound
from shared.mcp import Tool, ToolRegistry, UnknownTool


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


async def test_a_principal_sees_and_calls_only_what_its_permissions_allow():
    class Ctx:
        def __init__(self, *permissions):
            self.state = {"principal": {"id": "usr_1", "permissions": list(permissions)}}

    async def handler(args, ctx):
        return {"ok": True}

    registry = ToolRegistry()
    registry.add(Tool("open", "Anyone", Double, handler))
    registry.add(Tool("guarded", "Needs x:write", Double, handler, permission="x:write"))
    assert [t["name"] for t in await registry.list_tools(Ctx("x:read"))] == ["open"]
    assert [t["name"] for t in await registry.list_tools(Ctx("x:*"))] == ["open", "guarded"]
    refused = await registry.call_tool("guarded", {"x": 1}, Ctx("x:read"))
    assert refused["isError"] is True
    assert refused["structuredContent"]["code"] == "FORBIDDEN"
    assert refused["structuredContent"]["details"] == {"permission": "x:write"}
    assert (await registry.call_tool("guarded", {"x": 1}, Ctx("*")))["structuredContent"] == {"ok": True}
