"""MCP tools declared once: a name, a description, a pydantic model for the arguments, a handler.

    registry = ToolRegistry()

    @registry.tool("orders_get", "Get an order by id", GetOrder)
    async def get_order(args: GetOrder, context) -> dict: ...

`tools/list` shows each tool with its model's JSON Schema as `inputSchema`, hiding those the context's
principal may not call; `tools/call` validates the arguments and runs the handler. Failures of the
call itself (invalid arguments, a missing permission, an `AppError`, anything unexpected) are tool
results with `isError: true`, as MCP asks, so that a model can read them and correct itself.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.errors import AppError
from shared.permissions import allows
from shared.validation import field_errors

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


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

    @functools.cached_property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments (an object schema, derived from `model`; built once, not to be changed)."""
        schema = self.model.model_json_schema()
        schema.pop("title", None)
        return schema

    def describe(self) -> dict[str, Any]:
        """The tool as `tools/list` shows it."""
        return {"name": self.name, "description": self.description, "inputSchema": self.input_schema}


def tool_result(data: Any, *, is_error: bool) -> dict[str, Any]:
    """A `tools/call` result: the data as JSON text, and as `structuredContent` when it is an object."""
    data = _plain(data)
    text = json.dumps(data, default=str)
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if isinstance(data, dict):
        result["structuredContent"] = data
    return result


def forbidden_result(permission: str) -> dict[str, Any]:
    """The tool error of a call by a principal without `permission`."""
    error = {
        "code": "FORBIDDEN",
        "message": f"This needs the permission {permission!r}",
        "details": {"permission": permission},
    }
    return tool_result(error, is_error=True)


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

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def list(self, context: Any = None) -> list[dict[str, Any]]:
        """`tools/list`'s `tools`: `[{"name", "description", "inputSchema"}]` in declaration order,
        without those the context's principal may not call (every tool when no context is given)."""
        return [tool.describe() for tool in self._tools.values() if context is None or may_call(tool, context)]

    async def list_tools(self, context: Any) -> list[dict[str, Any]]:
        """`list` for the MCP server (a tool source's interface)."""
        return self.list(context)

    async def call(self, name: str, arguments: dict[str, Any] | None, context: Any) -> dict[str, Any]:
        """Run a tool and give its `tools/call` result; `UnknownTool` if there is no such tool.

        Invalid arguments (`VALIDATION_ERROR` with field errors), `AppError`s and unexpected
        exceptions (`INTERNAL_ERROR`) are tool errors (`isError: true`), as MCP asks.
        """
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownTool(name)
        if not may_call(tool, context):
            return forbidden_result(tool.permission or "")
        try:
            args = tool.model.model_validate(arguments or {})
        except PydanticValidationError as exc:
            error = {"code": "VALIDATION_ERROR", "message": "Invalid arguments", "details": field_errors(exc)}
            return tool_result(error, is_error=True)
        try:
            data = await tool.handler(args, context)
        except AppError as err:
            return tool_result(err.to_dict(), is_error=True)
        except Exception as exc:
            request_id = getattr(context, "request_id", None)
            line = {"type": "tool_error", "tool": name, "request_id": request_id, "error": type(exc).__name__}
            self.log(json.dumps(line | {"message": str(exc)[:500]}))
            error = {"code": "INTERNAL_ERROR", "message": "The tool failed", "details": {"request_id": request_id}}
            return tool_result(error, is_error=True)
        return tool_result(data, is_error=False)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, context: Any) -> dict[str, Any]:
        """`call` for the MCP server (a tool source's interface)."""
        return await self.call(name, arguments, context)


def principal_of(context: Any) -> dict[str, Any] | None:
    """The principal authentication left in a request context's `state`, or None."""
    state = getattr(context, "state", None) or {}
    principal = state.get("principal") if isinstance(state, dict) else None
    return principal if isinstance(principal, dict) else None


def holds(context: Any, permission: str | None) -> bool:
    """Whether the context's principal holds `permission` (None: anyone may)."""
    if permission is None:
        return True
    principal = principal_of(context)
    return principal is not None and allows(principal.get("permissions") or (), permission)


def may_call(tool: Tool, context: Any) -> bool:
    return holds(context, tool.permission)


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_plain(item) for item in data]
    return data
