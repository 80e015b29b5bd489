"""mcp's tools: every upstream service's MCP tools, as that service lists them for the caller, over RPC.

`tools/list` asks each bound service `mcp_list_tools(principal)` at once (a service that fails or takes
longer than `LIST_TIMEOUT` seconds is left out and logged: the others are still offered); the tools keep
the names and JSON Schemas their service gives them (`<service>_<tool>`, shared/service.py). `tools/call`
finds the owner by the name's prefix and asks it `mcp_call_tool(principal, name, arguments, request_id)`:
the service checks the permission (a FORBIDDEN tool error), validates the arguments (VALIDATION_ERROR)
and runs the operation. A name no bound service has is -32602; a service that cannot be reached is a tool
error (`SERVICE_UNAVAILABLE`), which the model can report.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from shared.errors import AppError
from shared.mcp import UnknownTool, tool_result
from shared.mcp.tools import TOOL_NAME, principal_of
from shared.rpc import call
from upstreams import UPSTREAMS, binding_of, owner_of, plain

LIST_TIMEOUT = 10.0


class AggregatedTools:
    """The MCP server's tool source (`list_tools`, `call_tool`) over the services' RPC methods."""

    def __init__(self, *, log: Callable[[str], None] = print) -> None:
        self.log = log

    async def list_tools(self, context: Any) -> list[dict[str, Any]]:
        principal = principal_of(context)
        bound = [(name, binding_of(context.env, name)) for name in UPSTREAMS]
        lists = await asyncio.gather(
            *(self._tools_of(name, binding, principal, context) for name, binding in bound if binding is not None)
        )
        return [tool for tools in lists for tool in tools]

    async def _tools_of(self, service: str, binding: Any, principal: Any, context: Any) -> list[dict[str, Any]]:
        try:
            listed = await asyncio.wait_for(
                call(binding.mcp_list_tools, principal, service=service), timeout=LIST_TIMEOUT
            )
        except (AppError, TimeoutError) as err:
            self._log("tools_unavailable", service, context, type(err).__name__)
            return []
        tools = [tool for tool in (plain(listed) or []) if _well_formed(tool, service)]
        if len(tools) != len(plain(listed) or []):
            self._log("tools_malformed", service, context, "a tool without name, description or inputSchema")
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, context: Any) -> dict[str, Any]:
        service = owner_of(name)
        binding = binding_of(context.env, service) if service else None
        if service is None or binding is None:
            raise UnknownTool(name)
        request_id = getattr(context, "request_id", None)
        try:
            result = await call(
                binding.mcp_call_tool, principal_of(context), name, arguments or {}, request_id, service=service
            )
        except AppError as err:
            if err.code == "UNKNOWN_TOOL":
                raise UnknownTool(name) from None
            if err.status < 500:
                return tool_result(err.to_dict(), is_error=True)
            self._log("tool_unavailable", service, context, err.code)
            unavailable = {
                "code": "SERVICE_UNAVAILABLE",
                "message": f"The {service} service could not run the tool",
                "details": {"service": service, "request_id": request_id},
            }
            return tool_result(unavailable, is_error=True)
        result = plain(result)
        if not isinstance(result, dict) or not isinstance(result.get("content"), list):
            self._log("tool_malformed", service, context, "a result without content")
            error = {"code": "INTERNAL_ERROR", "message": "The tool failed", "details": {"request_id": request_id}}
            return tool_result(error, is_error=True)
        return result

    def _log(self, kind: str, service: str, context: Any, problem: str) -> None:
        line = {"type": kind, "service": service, "request_id": getattr(context, "request_id", None)}
        self.log(json.dumps(line | {"problem": problem[:200]}))


def _well_formed(tool: Any, service: str) -> bool:
    """A tool as a service must list it: its name (prefixed by the service), a description, an object schema."""
    return (
        isinstance(tool, dict)
        and isinstance(tool.get("name"), str)
        and TOOL_NAME.fullmatch(tool["name"]) is not None
        and owner_of(tool["name"]) == service
        and isinstance(tool.get("description"), str)
        and isinstance(tool.get("inputSchema"), dict)
        and tool["inputSchema"].get("type") == "object"
    )
