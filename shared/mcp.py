"""MCP tools declared once, and the Streamable HTTP endpoint that serves them (JSON responses).

    registry = ToolRegistry()

    @registry.tool("orders_get", "Get an order by id", GetOrder)
    async def get_order(args: GetOrder, context) -> dict: ...

    # in routes: router.post("/mcp")(mcp_endpoint(registry, name="orders", version="0.1.0"))

Protocol: the handshake revisions (2025-06-18, 2025-11-25, and 2025-03-26 for older clients);
stateless (no session id), JSON responses (no SSE), GET answered 405 as the transport allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from workers import Request, Response

from shared.errors import AppError
from shared.http import method_of
from shared.permissions import allows
from shared.validation import MAX_BODY, field_errors

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
LATEST = PROTOCOL_VERSIONS[0]

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL = -32700, -32600, -32601, -32602, -32603


class UnknownTool(LookupError):
    """`tools/call` named a tool that is not registered (JSON-RPC -32602)."""


@dataclass(frozen=True)
class Tool:
    """One MCP tool: its name (`^[a-zA-Z0-9_-]{1,64}$`, checked here), a description for the model,
    the pydantic model its arguments must satisfy (its JSON Schema is the `inputSchema`),
    `async def handler(args: model, context) -> data`, and the permission a caller needs (None: any
    authenticated caller): a tool is hidden from `tools/list` for a principal without it, and
    calling it anyway is a FORBIDDEN tool error before its arguments are looked at."""

    name: str
    description: str
    model: type[BaseModel]
    handler: Callable[[Any, Any], Awaitable[Any]]
    permission: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not TOOL_NAME.fullmatch(self.name):
            raise ValueError(f"invalid MCP tool name {self.name!r}: 1-64 of [a-zA-Z0-9_-]")
        if not self.description:
            raise ValueError(f"MCP tool {self.name!r} needs a description")

    @property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments (an object schema, derived from `model`)."""
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        return schema

    def describe(self) -> dict[str, Any]:
        """The tool as `tools/list` shows it."""
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data


def _result(data: Any, *, is_error: bool) -> dict[str, Any]:
    """A `tools/call` result: the data as JSON text, and as `structuredContent` when it is an object."""
    data = _plain(data)
    text = json.dumps(data, default=str)
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if isinstance(data, dict):
        result["structuredContent"] = data
    return result


class ToolRegistry:
    """The tools of one service: what `tools/list` shows and `tools/call` runs.

    Unexpected exceptions of a handler are tool errors with a generic message (the details go
    to `log` with the tool's name), so an agent never sees internals.
    """

    def __init__(self, *, log: Callable[[str], None] = print) -> None:
        self._tools: dict[str, Tool] = {}
        self.log = log

    def add(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise ValueError(f"MCP tool {tool.name!r} is declared twice")
        self._tools[tool.name] = tool
        return tool

    def tool(self, name: str, description: str, model: type[BaseModel]) -> Callable[[Any], Any]:
        """Decorator declaring `async def handler(args, context)` as tool `name`."""

        def decorator(handler: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[Any, Any], Awaitable[Any]]:
            self.add(Tool(name, description, model, handler))
            return handler

        return decorator

    def names(self) -> list[str]:
        return list(self._tools)

    def list(self, context: Any = None) -> list[dict[str, Any]]:
        """`tools/list`'s `tools`: `[{"name", "description", "inputSchema"}]` in declaration order,
        without those the context's principal may not call (every tool when no context is given)."""
        return [tool.describe() for tool in self._tools.values() if context is None or _may_call(tool, context)]

    async def call(self, name: str, arguments: dict[str, Any] | None, context: Any) -> dict[str, Any]:
        """Run a tool and give its `tools/call` result; `UnknownTool` if there is no such tool.

        Invalid arguments (`VALIDATION_ERROR` with field errors), `AppError`s and unexpected
        exceptions (`INTERNAL_ERROR`) are tool errors (`isError: true`), as MCP asks.
        """
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownTool(name)
        if not _may_call(tool, context):
            error = {
                "code": "FORBIDDEN",
                "message": f"This needs the permission {tool.permission!r}",
                "details": {"permission": tool.permission},
            }
            return _result(error, is_error=True)
        try:
            args = tool.model.model_validate(arguments or {})
        except PydanticValidationError as exc:
            error = {"code": "VALIDATION_ERROR", "message": "Invalid arguments", "details": field_errors(exc)}
            return _result(error, is_error=True)
        try:
            data = await tool.handler(args, context)
        except AppError as err:
            return _result(err.to_dict(), is_error=True)
        except Exception as exc:
            request_id = getattr(context, "request_id", None)
            line = {"type": "tool_error", "tool": name, "request_id": request_id, "error": type(exc).__name__}
            self.log(json.dumps(line | {"message": str(exc)[:500]}))
            error = {"code": "INTERNAL_ERROR", "message": "The tool failed", "details": {"request_id": request_id}}
            return _result(error, is_error=True)
        return _result(data, is_error=False)


def _may_call(tool: Tool, context: Any) -> bool:
    if tool.permission is None:
        return True
    state = getattr(context, "state", None) or {}
    principal = state.get("principal") if isinstance(state, dict) else None
    return isinstance(principal, dict) and allows(principal.get("permissions") or (), tool.permission)


def _rpc_error(id_: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": error}


async def handle_message(
    message: Any, registry: ToolRegistry, context: Any, *, name: str, version: str
) -> dict[str, Any] | None:
    """Answer one JSON-RPC message; None for notifications."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
        return _rpc_error(message.get("id") if isinstance(message, dict) else None, INVALID_REQUEST, "Invalid request")
    method, id_ = message["method"], message.get("id")
    params = message.get("params") or {}
    if "id" not in message:
        return None  # notifications (e.g. notifications/initialized) need no answer
    if not isinstance(params, dict):
        return _rpc_error(id_, INVALID_PARAMS, "params must be an object")
    if method == "initialize":
        asked = params.get("protocolVersion")
        chosen = asked if asked in PROTOCOL_VERSIONS else LATEST
        result = {
            "protocolVersion": chosen,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": name, "version": version},
        }
        return {"jsonrpc": "2.0", "id": id_, "result": result}
    if method == "ping":
        return {"jsonrpc": "2.0", "id": id_, "result": {}}
    if method == "tools/list":
        return {"jsonrpc": "2.0", "id": id_, "result": {"tools": registry.list(context)}}
    if method == "tools/call":
        tool = params.get("name")
        if not isinstance(tool, str):
            return _rpc_error(id_, INVALID_PARAMS, "params.name must be a string")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            return _rpc_error(id_, INVALID_PARAMS, "params.arguments must be an object")
        try:
            return {"jsonrpc": "2.0", "id": id_, "result": await registry.call(tool, arguments, context)}
        except UnknownTool:
            return _rpc_error(id_, INVALID_PARAMS, f"Unknown tool: {tool[:64]}")
    return _rpc_error(id_, METHOD_NOT_FOUND, f"Method not found: {method[:100]}")


def mcp_endpoint(registry: ToolRegistry, *, name: str, version: str) -> Callable[[Request, Any], Awaitable[Response]]:
    """A route handler serving MCP's Streamable HTTP transport at one path (POST; GET/DELETE -> 405)."""

    async def endpoint(request: Request, ctx: Any) -> Response:
        if method_of(request) != "POST":
            return Response(None, status=405, headers={"allow": "POST"})
        version_header = request.headers.get("mcp-protocol-version")
        if version_header and version_header not in PROTOCOL_VERSIONS:
            body = _rpc_error(None, INVALID_REQUEST, f"Unsupported MCP-Protocol-Version: {version_header[:40]}")
            return Response.json(body, status=400)
        raw = await request.bytes()
        if len(raw) > MAX_BODY:
            return Response.json(_rpc_error(None, INVALID_REQUEST, f"Message larger than {MAX_BODY} bytes"), status=413)
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return Response.json(_rpc_error(None, PARSE_ERROR, "Parse error"), status=400)
        if isinstance(message, list):
            return Response.json(_rpc_error(None, INVALID_REQUEST, "Batches are not supported"), status=400)
        reply = await handle_message(message, registry, ctx, name=name, version=version)
        if reply is None:
            return Response(None, status=202)
        return Response.json(reply)

    return endpoint
