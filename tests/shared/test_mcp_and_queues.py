"""MCP tool declarations and queue message types, declared once."""

import json

import pytest
from pydantic import BaseModel

from shared.errors import NotFound
from shared.mcp import Tool, ToolRegistry, UnknownTool, handle_message
from shared.queues import MessageTypes


class Args(BaseModel):
    x: int


async def test_registry_lists_and_calls_tools():
    registry = ToolRegistry()

    @registry.tool("math_double", "Double a number", Args)
    async def double(args, ctx):
        return {"value": args.x * 2}

    assert registry.list() == [
        {
            "name": "math_double",
            "description": "Double a number",
            "inputSchema": {
                "type": "object",
                "properties": {"x": {"title": "X", "type": "integer"}},
                "required": ["x"],
            },
        }
    ]
    result = await registry.call("math_double", {"x": 4}, None)
    assert result["isError"] is False
    assert result["structuredContent"] == {"value": 8}
    assert json.loads(result["content"][0]["text"]) == {"value": 8}
    invalid = await registry.call("math_double", {"x": "four"}, None)
    assert invalid["isError"] is True
    with pytest.raises(UnknownTool):
        await registry.call("nope", {}, None)


async def test_app_errors_in_tools_are_tool_errors():
    registry = ToolRegistry()

    @registry.tool("find", "Find", Args)
    async def find(args, ctx):
        raise NotFound("nothing")

    result = await registry.call("find", {"x": 1}, None)
    assert result["isError"] is True
    assert result["structuredContent"]["code"] == "NOT_FOUND"


def test_tool_names_and_duplicates_are_checked():
    with pytest.raises(ValueError, match="invalid MCP tool name"):
        Tool("has space", "d", Args, None)
    registry = ToolRegistry()
    registry.add(Tool("a", "d", Args, None))
    with pytest.raises(ValueError, match="twice"):
        registry.add(Tool("a", "d", Args, None))


async def test_jsonrpc_protocol_errors():
    registry = ToolRegistry()
    reply = await handle_message(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}, registry, None, name="s", version="1"
    )
    assert reply["result"]["protocolVersion"] == "2025-11-25"
    assert (await handle_message({"id": 1}, registry, None, name="s", version="1"))["error"]["code"] == -32600
    bad_params = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": []}
    assert (await handle_message(bad_params, registry, None, name="s", version="1"))["error"]["code"] == -32602
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert await handle_message(note, registry, None, name="s", version="1") is None


class Event(BaseModel):
    n: int


class FakeMessage:
    def __init__(self, body, id="m1"):
        self.body, self.id, self.outcome = body, id, None

    def ack(self):
        self.outcome = "ack"

    def retry(self):
        self.outcome = "retry"


class FakeBatch:
    def __init__(self, messages):
        self.messages = messages


async def test_queue_dispatch_acks_retries_and_sends_poison_to_retry():
    types = MessageTypes(log=lambda line: None)
    handled = []

    @types.handler("svc.thing.done", Event)
    async def on_done(data, message, ctx):
        if data.n == 13:
            raise RuntimeError("unlucky")
        handled.append(data.n)

    good = FakeMessage(types.build("svc.thing.done", {"n": 1}))
    unlucky = FakeMessage(types.build("svc.thing.done", {"n": 13}))
    unknown = FakeMessage({"type": "other.thing.x", "data": {}})
    invalid = FakeMessage({"type": "svc.thing.done", "data": {"n": "x"}})
    not_a_dict = FakeMessage("garbage")
    counts = await types.dispatch(FakeBatch([good, unlucky, unknown, invalid, not_a_dict]), None)
    assert handled == [1]
    assert [m.outcome for m in (good, unlucky, unknown, invalid, not_a_dict)] == ["ack"] + ["retry"] * 4
    assert counts == {"acked": 1, "retried": 1, "poison": 3}


def test_build_validates_before_sending():
    types = MessageTypes()

    @types.handler("svc.thing.done", Event)
    async def on_done(data, message, ctx):
        return None

    body = types.build("svc.thing.done", {"n": "2"}, request_id="r1")
    assert body["data"] == {"n": 2}
    assert body["id"].startswith("msg_")
    assert body["request_id"] == "r1"
    with pytest.raises(ValueError, match="unknown message type"):
        types.build("svc.other.x", {})
    with pytest.raises(ValueError, match="dotted"):
        types.handler("NoDots", Event)
