"""One MCP server's answers per revision: the handshake, discover, tools, resources, prompts, pages, errors."""

import json

import pytest
from pydantic import BaseModel

from shared.errors import NotFound, ServiceUnavailable
from shared.mcp import McpError, McpServer, PromptArgument, PromptRegistry, ResourceRegistry, ToolRegistry
from shared.mcp.server import decode_cursor, encode_cursor

MODERN, HANDSHAKE = "2026-07-28", "2025-11-25"


class Number(BaseModel):
    x: int


class Ctx:
    """A request context whose principal holds `permissions`."""

    request_id = "req_1"

    def __init__(self, *permissions):
        self.state = {"principal": {"id": "usr_1", "permissions": list(permissions)}}


def build(page_size=100, tool_count=3):
    tools = ToolRegistry()
    for i in range(tool_count):

        async def handler(args, ctx, i=i):
            return {"tool": i, "x": args.x}

        tools.tool(f"t{i}", f"Tool {i}", Number)(handler)

    resources = ResourceRegistry(log=lambda line: None)

    @resources.resource("dotdo://open", "Open", "Anyone reads it")
    async def open_resource(ctx):
        return {"hello": "world"}

    @resources.resource("dotdo://text", "Text", "Plain text", mime_type="text/plain")
    async def text_resource(ctx):
        return "just text"

    @resources.resource("dotdo://guarded", "Guarded", "Needs ops", permission="ops")
    async def guarded(ctx):
        return {"secret": 1}

    @resources.resource("dotdo://missing", "Missing", "Its source answers 404")
    async def missing(ctx):
        raise NotFound("gone away")

    @resources.resource("dotdo://down", "Down", "Its source is down")
    async def down(ctx):
        raise ServiceUnavailable("db is down")

    @resources.resource("dotdo://broken", "Broken", "Raises")
    async def broken(ctx):
        raise RuntimeError("internal detail")

    prompts = PromptRegistry()

    @prompts.prompt(
        "greet", "Greet someone", [PromptArgument("who", "Whom", required=True), PromptArgument("tone", "How")]
    )
    def greet(args):
        return f"Say hello to {args['who']} ({args.get('tone', 'plain')})"

    @prompts.prompt("ops_only", "For operators", permission="ops")
    def ops_only(args):
        return "operate"

    return McpServer(
        name="svc",
        version="1.2.3",
        tools=tools,
        resources=resources,
        prompts=prompts,
        instructions="Use it well",
        page_size=page_size,
    )


async def ask(server, method, params=None, *, version=HANDSHAKE, ctx=None, id=1):
    message = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        message["params"] = params
    return await server.handle(message, ctx or Ctx(), version=version)


async def error_of(server, method, params=None, **kwargs):
    with pytest.raises(McpError) as caught:
        await ask(server, method, params, **kwargs)
    return caught.value


async def test_initialize_negotiates_a_handshake_revision():
    server = build()
    reply = await ask(server, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}})
    result = reply["result"]
    assert result["protocolVersion"] == "2025-06-18"
    assert result["serverInfo"] == {"name": "svc", "version": "1.2.3"}
    assert result["instructions"] == "Use it well"
    assert set(result["capabilities"]) == {"tools", "resources", "prompts"}
    for asked in ("1999-01-01", MODERN, None):
        assert (await ask(server, "initialize", {"protocolVersion": asked}))["result"]["protocolVersion"] == HANDSHAKE
    assert (await ask(server, "ping"))["result"] == {}


async def test_discover_answers_only_the_modern_revision():
    server = build()
    result = (await ask(server, "server/discover", {}, version=MODERN))["result"]
    assert result["supportedVersions"] == ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"]
    assert result["resultType"] == "complete"
    assert (result["ttlMs"], result["cacheScope"]) == (0, "public")
    assert result["_meta"] == {"io.modelcontextprotocol/serverInfo": {"name": "svc", "version": "1.2.3"}}
    assert (await error_of(server, "server/discover")).code == -32601  # a handshake-era request
    for method in ("initialize", "ping"):
        assert (await error_of(server, method, {}, version=MODERN)).code == -32601


async def test_modern_results_carry_result_type_and_cache_hints_handshake_ones_do_not():
    server = build()
    modern = (await ask(server, "tools/list", {}, version=MODERN))["result"]
    assert (modern["resultType"], modern["ttlMs"], modern["cacheScope"]) == ("complete", 0, "private")
    called = (await ask(server, "tools/call", {"name": "t1", "arguments": {"x": 2}}, version=MODERN))["result"]
    assert called["resultType"] == "complete"
    assert "ttlMs" not in called
    assert called["structuredContent"] == {"tool": 1, "x": 2}
    old = (await ask(server, "tools/list"))["result"]
    assert set(old) == {"tools"}


async def test_tools_list_is_paged_with_opaque_cursors():
    server = build(page_size=2, tool_count=5)
    first = (await ask(server, "tools/list"))["result"]
    assert [t["name"] for t in first["tools"]] == ["t0", "t1"]
    second = (await ask(server, "tools/list", {"cursor": first["nextCursor"]}))["result"]
    assert [t["name"] for t in second["tools"]] == ["t2", "t3"]
    last = (await ask(server, "tools/list", {"cursor": second["nextCursor"]}, version=MODERN))["result"]
    assert [t["name"] for t in last["tools"]] == ["t4"]
    assert "nextCursor" not in last
    for cursor in ("garbage!", "b2Zmc2V0Ojk5OQ", encode_cursor(6), 7, "x" * 100, "b2Zmc2V0Ou-8mg"):
        assert (await error_of(server, "tools/list", {"cursor": cursor})).code == -32602


def test_cursors_round_trip_and_refuse_what_the_server_did_not_make():
    assert decode_cursor(encode_cursor(120)) == 120
    assert decode_cursor(None) == 0
    with pytest.raises(McpError):
        decode_cursor("c29tZXRoaW5nOjE")  # "something:1"


async def test_tools_call_protocol_errors_are_invalid_params():
    server = build()
    for params in ({"name": "nope"}, {"arguments": {}}, {"name": ""}, {"name": "t0", "arguments": [1]}, {"name": 5}):
        error = await error_of(server, "tools/call", params)
        assert error.code == -32602, params
    assert (await error_of(server, "tools/call", [])).code == -32602  # params not an object


@pytest.mark.parametrize("version", ["2026-07-28", "2025-11-25"])
async def test_arguments_failing_the_schema_are_a_tool_error_from_2025_11_25(version):
    # SEP-1303: a tool error the model can read and correct
    invalid = (await ask(build(), "tools/call", {"name": "t0", "arguments": {"x": "two"}}, version=version))["result"]
    assert invalid["isError"] is True
    assert invalid["structuredContent"]["code"] == "VALIDATION_ERROR"
    assert invalid["structuredContent"]["details"]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
async def test_arguments_failing_the_schema_are_invalid_params_before_2025_11_25(version):
    server = build()
    error = await error_of(server, "tools/call", {"name": "t0", "arguments": {"x": "two"}}, version=version)
    assert error.code == -32602
    assert error.message == "Invalid arguments"
    assert error.data  # the field errors, as the tool error gives them
    fine = (await ask(server, "tools/call", {"name": "t0", "arguments": {"x": 2}}, version=version))["result"]
    assert fine["isError"] is False


async def test_unknown_methods_and_absent_capabilities_are_method_not_found():
    assert (await error_of(build(), "logging/setLevel", {"level": "info"})).code == -32601
    bare = McpServer(name="bare", version="1", tools=ToolRegistry())
    assert set(bare.capabilities()) == {"tools"}
    for method in ("resources/list", "prompts/list", "resources/read", "prompts/get"):
        assert (await error_of(bare, method, {})).code == -32601


async def test_notifications_get_no_answer():
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert await build().handle(note, Ctx(), version=HANDSHAKE) is None


async def test_resources_are_listed_for_the_principal_and_read_as_text():
    server = build()
    listed = (await ask(server, "resources/list"))["result"]["resources"]
    assert [r["uri"] for r in listed] == [
        "dotdo://open",
        "dotdo://text",
        "dotdo://missing",
        "dotdo://down",
        "dotdo://broken",
    ]
    assert listed[0] == {
        "uri": "dotdo://open",
        "name": "Open",
        "description": "Anyone reads it",
        "mimeType": "application/json",
    }
    ops = (await ask(server, "resources/list", ctx=Ctx("ops")))["result"]["resources"]
    assert "dotdo://guarded" in [r["uri"] for r in ops]
    read = (await ask(server, "resources/read", {"uri": "dotdo://open"}, version=MODERN))["result"]
    assert read["contents"] == [{"uri": "dotdo://open", "mimeType": "application/json", "text": '{"hello": "world"}'}]
    assert (read["resultType"], read["ttlMs"], read["cacheScope"]) == ("complete", 0, "private")
    text = (await ask(server, "resources/read", {"uri": "dotdo://text"}))["result"]["contents"][0]
    assert (text["mimeType"], text["text"]) == ("text/plain", "just text")
    assert (await ask(server, "resources/templates/list"))["result"] == {"resourceTemplates": []}


async def test_resource_errors_per_revision():
    server = build()
    assert (await error_of(server, "resources/read", {"uri": "dotdo://nope"})).code == -32002
    unknown = await error_of(server, "resources/read", {"uri": "dotdo://nope"}, version=MODERN)
    assert (unknown.code, unknown.data) == (-32602, {"uri": "dotdo://nope"})
    assert (await error_of(server, "resources/read", {})).code == -32602
    refused = await error_of(server, "resources/read", {"uri": "dotdo://guarded"})
    assert (refused.code, refused.data["code"]) == (-32602, "FORBIDDEN")
    assert (await ask(server, "resources/read", {"uri": "dotdo://guarded"}, ctx=Ctx("ops")))["result"]["contents"]
    missing = await error_of(server, "resources/read", {"uri": "dotdo://missing"})
    assert (missing.code, missing.data["code"]) == (-32602, "NOT_FOUND")
    down = await error_of(server, "resources/read", {"uri": "dotdo://down"})
    assert (down.code, down.data["code"]) == (-32603, "SERVICE_UNAVAILABLE")
    broken = await error_of(server, "resources/read", {"uri": "dotdo://broken"})
    assert broken.code == -32603
    assert "internal detail" not in json.dumps(broken.to_message(1))


async def test_prompts_render_and_check_their_arguments():
    server = build()
    listed = (await ask(server, "prompts/list"))["result"]["prompts"]
    assert [p["name"] for p in listed] == ["greet"]
    assert listed[0]["arguments"][0] == {"name": "who", "description": "Whom", "required": True}
    got = (await ask(server, "prompts/get", {"name": "greet", "arguments": {"who": "Ada"}}, version=MODERN))["result"]
    assert got["messages"] == [{"role": "user", "content": {"type": "text", "text": "Say hello to Ada (plain)"}}]
    assert got["resultType"] == "complete"
    for params in (
        {"name": "greet"},
        {"name": "greet", "arguments": {"who": ""}},
        {"name": "greet", "arguments": {"who": 5}},
        {"name": "greet", "arguments": {"who": "a", "extra": "b"}},
        {"name": "greet", "arguments": {"who": "x" * 2001}},
        {"name": "greet", "arguments": ["Ada"]},
        {"name": "nope"},
        {"name": "ops_only"},  # hidden from a principal without ops
        {},
    ):
        assert (await error_of(server, "prompts/get", params)).code == -32602, params
    assert (await ask(server, "prompts/get", {"name": "ops_only"}, ctx=Ctx("ops")))["result"]["messages"]


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="page_size"):
        McpServer(name="a", version="1", page_size=0)
    resources = ResourceRegistry()
    with pytest.raises(ValueError, match="scheme://"):
        resources.resource("no-scheme", "n", "d")(None)
    resources.resource("a://b", "n", "d")(None)
    with pytest.raises(ValueError, match="twice"):
        resources.resource("a://b", "n", "d")(None)
    prompts = PromptRegistry()
    with pytest.raises(ValueError, match="prompt name"):
        prompts.prompt("has space", "d")(None)
    with pytest.raises(ValueError, match="twice"):
        prompts.prompt("p", "d", [PromptArgument("a", "x"), PromptArgument("a", "y")])(None)
