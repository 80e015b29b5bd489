"""MCP for every service: tools, resources and prompts declared once, served over Streamable HTTP.

    registry = ToolRegistry()

    @registry.tool("orders_get", "Get an order by id", GetOrder)
    async def get_order(args: GetOrder, context) -> dict: ...

    server = McpServer(name="orders", version="0.1.0", tools=registry)
    router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(server))

A service built with the kit (`shared.service`) gets its tools and endpoint from its operations.
Protocol: the stateless revision 2026-07-28 (`server/discover`, the per-request `_meta` envelope
and its mirrored headers) and the handshake revisions 2025-11-25, 2025-06-18 and 2025-03-26
(`initialize`), chosen per request; JSON responses, no sessions. Modules: `protocol` (versions,
codes, message shapes), `tools`, `resources`, `prompts` (the declarations), `server` (the methods),
`transport` (HTTP).
"""

from shared.mcp.prompts import Prompt, PromptArgument, PromptRegistry, UnknownPrompt
from shared.mcp.protocol import HANDSHAKE_VERSIONS, MODERN_VERSIONS, PROTOCOL_VERSIONS, McpError
from shared.mcp.resources import Resource, ResourceRegistry, UnknownResource
from shared.mcp.server import McpServer
from shared.mcp.tools import Tool, ToolRegistry, UnknownTool, tool_result
from shared.mcp.transport import mcp_endpoint

__all__ = [
    "HANDSHAKE_VERSIONS",
    "MODERN_VERSIONS",
    "PROTOCOL_VERSIONS",
    "McpError",
    "McpServer",
    "Prompt",
    "PromptArgument",
    "PromptRegistry",
    "Resource",
    "ResourceRegistry",
    "Tool",
    "ToolRegistry",
    "UnknownPrompt",
    "UnknownResource",
    "UnknownTool",
    "mcp_endpoint",
    "tool_result",
]
