"""MCP's wire vocabulary: protocol revisions, JSON-RPC error codes, `_meta` keys, headers, message builders.

Two generations of the protocol are spoken (see `shared.mcp.transport`):

- the **modern** revision 2026-07-28: stateless, every request carries its version in
  `params._meta["io.modelcontextprotocol/protocolVersion"]` and in the `MCP-Protocol-Version`
  header, `server/discover` instead of a handshake, results carry `resultType` (and lists `ttlMs`
  and `cacheScope`);
- the **handshake** revisions 2025-11-25, 2025-06-18 and 2025-03-26: `initialize` negotiates the
  version, then `MCP-Protocol-Version` names it on every request (absent: 2025-03-26).
"""

from __future__ import annotations

from typing import Any

MODERN_VERSIONS = ("2026-07-28",)
HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
#: Every revision served, newest first.
PROTOCOL_VERSIONS = MODERN_VERSIONS + HANDSHAKE_VERSIONS
LATEST_HANDSHAKE = HANDSHAKE_VERSIONS[0]
#: Revisions in which arguments failing a tool's input schema are a tool execution error (`isError`, which
#: the model can read and correct: SEP-1303, from 2025-11-25); before them, invalid params (-32602).
VALIDATION_AS_TOOL_ERROR = ("2026-07-28", "2025-11-25")
#: What a request without `MCP-Protocol-Version` speaks (the header came with 2025-06-18).
UNVERSIONED = "2025-03-26"

# JSON-RPC 2.0's codes, and those MCP defines (-32020 .. -32099 are the specification's; -32002 is the
# handshake revisions' "resource not found", which 2026-07-28 replaced by -32602).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
RESOURCE_NOT_FOUND = -32002
HEADER_MISMATCH = -32020
MISSING_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022

#: The HTTP status a modern request's error is answered with (the transport page's rules); others 200.
MODERN_ERROR_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}

# The reserved `_meta` keys of a modern request and result.
META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"

# The request headers (names compared case-insensitively; `workers.Request` headers are).
VERSION_HEADER = "mcp-protocol-version"
METHOD_HEADER = "mcp-method"
NAME_HEADER = "mcp-name"
SESSION_HEADER = "mcp-session-id"

#: The methods whose `Mcp-Name` header mirrors a body field, and that field.
NAMED_PARAMS = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}


class McpError(Exception):
    """A JSON-RPC error answer: `code` (one of the constants above), a message, optional `data`."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_message(self, id_: Any) -> dict[str, Any]:
        """The JSON-RPC error response for request `id_` (None when it could not be read)."""
        return error_message(id_, self.code, self.message, self.data)


def error_message(id_: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """A JSON-RPC error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": id_, "error": error}


def result_message(id_: Any, result: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC result response."""
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def unsupported_version(requested: str) -> McpError:
    """-32022 naming what was asked and every revision served (the client picks one and retries)."""
    return McpError(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {requested[:40]}",
        {"supported": list(PROTOCOL_VERSIONS), "requested": requested[:40]},
    )
