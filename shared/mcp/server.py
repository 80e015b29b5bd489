"""One MCP server: its identity, its tools, resources and prompts, and the answer to each JSON-RPC request.

    server = McpServer(name="orders", version="0.1.0", tools=registry)
    reply = await server.handle(message, context, version="2026-07-28")   # None for a notification

`version` is the revision the request speaks (the transport has checked it and its headers). The
methods each generation knows:

| method | handshake (2025-03-26 .. 2025-11-25) | modern (2026-07-28) |
|---|---|---|
| `initialize`, `ping` | yes | no (-32601) |
| `server/discover` | no (-32601) | yes |
| `tools/list`, `tools/call` | with tools | with tools |
| `resources/list`, `resources/templates/list`, `resources/read` | with resources | with resources |
| `prompts/list`, `prompts/get` | with prompts | with prompts |

Lists are paged (`cursor` in, `nextCursor` out; a cursor is opaque and a bad one is -32602). A
modern result carries `resultType: "complete"` and the server's identity in `_meta`; its lists and
reads say how long they may be cached (`ttlMs` 0, `cacheScope` "private": what a caller sees
depends on its principal). A source of tools (or resources, prompts) is anything with the methods
of `ToolRegistry` (`ResourceRegistry`, `PromptRegistry`) used here: the aggregator's tools come from
other services over RPC.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Protocol

from shared.mcp.prompts import UnknownPrompt
from shared.mcp.protocol import (
    HANDSHAKE_VERSIONS,
    INVALID_PARAMS,
    LATEST_HANDSHAKE,
    META_SERVER_INFO,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    PROTOCOL_VERSIONS,
    RESOURCE_NOT_FOUND,
    VALIDATION_AS_TOOL_ERROR,
    McpError,
    result_message,
)
from shared.mcp.resources import UnknownResource
from shared.mcp.tools import UnknownTool

DEFAULT_PAGE_SIZE = 100
_CURSOR_PREFIX = "offset:"
_OFFSET = re.compile(r"[0-9]{1,9}")


class ToolSource(Protocol):
    async def list_tools(self, context: Any) -> list[dict[str, Any]]: ...
    async def call_tool(self, name: str, arguments: dict[str, Any] | None, context: Any) -> dict[str, Any]: ...


class ResourceSource(Protocol):
    async def list_resources(self, context: Any) -> list[dict[str, Any]]: ...
    async def read_resource(self, uri: str, context: Any) -> list[dict[str, Any]]: ...


class PromptSource(Protocol):
    async def list_prompts(self, context: Any) -> list[dict[str, Any]]: ...
    async def get_prompt(self, name: str, arguments: Any, context: Any) -> dict[str, Any]: ...


class McpServer:
    """What one `/mcp` endpoint serves. `page_size`: the most items one list page holds."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        tools: ToolSource | None = None,
        resources: ResourceSource | None = None,
        prompts: PromptSource | None = None,
        instructions: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if not name or not version:
            raise ValueError("an MCP server needs a name and a version")
        if page_size < 1:
            raise ValueError("page_size is at least 1")
        self.name, self.version = name, version
        self.tools, self.resources, self.prompts = tools, resources, prompts
        self.instructions = instructions
        self.page_size = page_size

    @property
    def info(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}

    def capabilities(self) -> dict[str, Any]:
        """What this server offers (no list-change notifications: it sends none)."""
        offered: dict[str, Any] = {}
        if self.tools is not None:
            offered["tools"] = {"listChanged": False}
        if self.resources is not None:
            offered["resources"] = {"listChanged": False, "subscribe": False}
        if self.prompts is not None:
            offered["prompts"] = {"listChanged": False}
        return offered

    async def handle(self, message: dict[str, Any], context: Any, *, version: str) -> dict[str, Any] | None:
        """Answer one well-formed JSON-RPC message spoken in `version`; None for a notification.

        Raises `McpError` for an error answer (the transport picks its HTTP status)."""
        if "id" not in message:
            return None  # notifications (notifications/initialized, cancelled, ...) need no answer
        method = message["method"]
        params = message.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise McpError(INVALID_PARAMS, "params must be an object")
        modern = version in MODERN_VERSIONS
        handler = self._handler(method, modern)
        if handler is None:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method[:100]}")
        result = await handler(params, context, modern)
        if method == "tools/call" and version not in VALIDATION_AS_TOOL_ERROR:
            _raise_invalid_arguments(result)
        if modern:
            result = {"resultType": "complete", **result, "_meta": {META_SERVER_INFO: self.info}}
        return result_message(message["id"], result)

    def _handler(self, method: str, modern: bool) -> Any:
        common = {
            "tools/list": self._list_tools if self.tools is not None else None,
            "tools/call": self._call_tool if self.tools is not None else None,
            "resources/list": self._list_resources if self.resources is not None else None,
            "resources/templates/list": self._list_templates if self.resources is not None else None,
            "resources/read": self._read_resource if self.resources is not None else None,
            "prompts/list": self._list_prompts if self.prompts is not None else None,
            "prompts/get": self._get_prompt if self.prompts is not None else None,
        }
        era = {"server/discover": self._discover} if modern else {"initialize": self._initialize, "ping": self._ping}
        return (common | era).get(method)

    # -- lifecycle ------------------------------------------------------------------------------------
    async def _initialize(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        asked = params.get("protocolVersion")
        result: dict[str, Any] = {
            "protocolVersion": asked if asked in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE,
            "capabilities": self.capabilities(),
            "serverInfo": self.info,
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    async def _ping(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        return {}

    async def _discover(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "supportedVersions": list(PROTOCOL_VERSIONS),
            "capabilities": self.capabilities(),
            "ttlMs": 0,
            "cacheScope": "public",
        }
        if self.instructions:
            result["instructions"] = self.instructions
        return result

    # -- tools ----------------------------------------------------------------------------------------
    async def _list_tools(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        assert self.tools is not None
        return self._page("tools", await self.tools.list_tools(context), params, modern)

    async def _call_tool(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        assert self.tools is not None
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise McpError(INVALID_PARAMS, "params.name must be a tool's name")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise McpError(INVALID_PARAMS, "params.arguments must be an object")
        try:
            return await self.tools.call_tool(name, arguments, context)
        except UnknownTool:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name[:64]}", {"name": name[:64]}) from None

    # -- resources ------------------------------------------------------------------------------------
    async def _list_resources(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        assert self.resources is not None
        return self._page("resources", await self.resources.list_resources(context), params, modern)

    async def _list_templates(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        return self._page("resourceTemplates", [], params, modern)

    async def _read_resource(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        assert self.resources is not None
        uri = params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise McpError(INVALID_PARAMS, "params.uri must be a resource's URI")
        try:
            contents = await self.resources.read_resource(uri, context)
        except UnknownResource:
            # 2026-07-28 answers an unknown resource with -32602; the handshake revisions with -32002.
            code = INVALID_PARAMS if modern else RESOURCE_NOT_FOUND
            raise McpError(code, "Resource not found", {"uri": uri[:500]}) from None
        result: dict[str, Any] = {"contents": contents}
        if modern:
            result |= {"ttlMs": 0, "cacheScope": "private"}
        return result

    # -- prompts --------------------------------------------------------------------------------------
    async def _list_prompts(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        assert self.prompts is not None
        return self._page("prompts", await self.prompts.list_prompts(context), params, modern)

    async def _get_prompt(self, params: dict[str, Any], context: Any, modern: bool) -> dict[str, Any]:
        assert self.prompts is not None
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise McpError(INVALID_PARAMS, "params.name must be a prompt's name")
        try:
            return await self.prompts.get_prompt(name, params.get("arguments"), context)
        except UnknownPrompt:
            raise McpError(INVALID_PARAMS, f"Unknown prompt: {name[:64]}", {"name": name[:64]}) from None

    # -- pages ----------------------------------------------------------------------------------------
    def _page(self, key: str, items: list[dict[str, Any]], params: dict[str, Any], modern: bool) -> dict[str, Any]:
        start = decode_cursor(params.get("cursor"))
        if start > len(items):
            raise McpError(INVALID_PARAMS, "Invalid cursor")
        end = start + self.page_size
        result: dict[str, Any] = {key: items[start:end]}
        if end < len(items):
            result["nextCursor"] = encode_cursor(end)
        if modern:
            result |= {"ttlMs": 0, "cacheScope": "private"}
        return result


def encode_cursor(offset: int) -> str:
    """An opaque cursor for the page starting at `offset`."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: Any) -> int:
    """The offset a cursor stands for (0 without one); -32602 for anything this server did not make."""
    if cursor is None:
        return 0
    if not isinstance(cursor, str) or len(cursor) > 64:
        raise McpError(INVALID_PARAMS, "Invalid cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise McpError(INVALID_PARAMS, "Invalid cursor") from None
    number = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not _OFFSET.fullmatch(number):
        raise McpError(INVALID_PARAMS, "Invalid cursor")
    return int(number)


def _raise_invalid_arguments(result: dict[str, Any]) -> None:
    """Before 2025-11-25 arguments failing a tool's schema are a protocol error: the tool's VALIDATION_ERROR
    result (from its own registry or, through the aggregator, another service's) becomes -32602 with the
    same field errors."""
    error = result.get("structuredContent") if result.get("isError") else None
    if isinstance(error, dict) and error.get("code") == "VALIDATION_ERROR":
        raise McpError(INVALID_PARAMS, "Invalid arguments", error.get("details"))
