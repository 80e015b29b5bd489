"""MCP's Streamable HTTP transport at one path: POST a JSON-RPC message, get a JSON answer.

    router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(server))

Both generations on one endpoint, chosen per request (a "dual-era" server):

- `MCP-Protocol-Version: 2026-07-28` (the modern revision): the body's
  `params._meta["io.modelcontextprotocol/protocolVersion"]` must say the same (else 400 -32020
  HeaderMismatch; missing, or no `clientCapabilities`: 400 -32602), `Mcp-Method` must name the
  body's method and `Mcp-Name` the tool, resource or prompt of `tools/call`, `resources/read`,
  `prompts/get` (missing or different, after decoding the `=?base64?...?=` form: 400 -32020). An
  unknown method is 404 -32601, and every client error a 400 (`MODERN_ERROR_STATUS`).
- no header, or a handshake revision's: `initialize`, then requests as 2025-11-25 (2025-06-18,
  2025-03-26) describe them; errors answer 200 with the JSON-RPC error. `Mcp-Method`/`Mcp-Name`
  are checked when sent. No session is kept: an `Mcp-Session-Id` is ignored and none is issued.
- any other version in the header: 400 -32022 listing the revisions served.

Everywhere: a notification is 202 with no body; GET and DELETE are 405 (no stream, no session to
end); an `Origin` other than the endpoint's own is 403 (DNS rebinding); a body over 1 MiB is 413,
one that is not JSON 400 -32700, a batch or a malformed message 400 -32600. Plain JSON responses
only: no revision requires a server to stream. Authentication is the router's (a 401 before this).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from workers import Request, Response

from shared.http import method_of
from shared.mcp.protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    METHOD_HEADER,
    MODERN_ERROR_STATUS,
    MODERN_VERSIONS,
    NAME_HEADER,
    NAMED_PARAMS,
    PARSE_ERROR,
    PROTOCOL_VERSIONS,
    UNVERSIONED,
    VERSION_HEADER,
    McpError,
    error_message,
    unsupported_version,
)
from shared.mcp.server import McpServer
from shared.validation import MAX_BODY

_BASE64_OPEN, _BASE64_CLOSE = "=?base64?", "?="


def mcp_endpoint(server: McpServer) -> Callable[[Request, Any], Awaitable[Response]]:
    """A route handler serving `server` over Streamable HTTP (POST; GET and DELETE are 405)."""

    async def endpoint(request: Request, ctx: Any) -> Response:
        if method_of(request) != "POST":
            return Response(None, status=405, headers={"allow": "POST"})
        if not same_origin(request):
            return Response.json(error_message(None, INVALID_REQUEST, "Origin not allowed"), status=403)
        raw = await request.bytes()
        if len(raw) > MAX_BODY:
            too_large = error_message(None, INVALID_REQUEST, f"Message larger than {MAX_BODY} bytes")
            return Response.json(too_large, status=413)
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return Response.json(error_message(None, PARSE_ERROR, "Parse error"), status=400)
        problem = malformed(message)
        if problem is not None:
            id_ = message.get("id") if isinstance(message, dict) and _valid_id(message.get("id")) else None
            return Response.json(error_message(id_, INVALID_REQUEST, problem), status=400)
        try:
            version = request_version(request, message)
        except McpError as err:
            return Response.json(err.to_message(message.get("id")), status=400)
        try:
            reply = await server.handle(message, ctx, version=version)
        except McpError as err:
            status = MODERN_ERROR_STATUS.get(err.code, 200) if version in MODERN_VERSIONS else 200
            return Response.json(err.to_message(message["id"]), status=status)
        if reply is None:
            return Response(None, status=202)
        return Response.json(reply)

    return endpoint


def same_origin(request: Request) -> bool:
    """No `Origin` (not a browser), or the endpoint's own scheme://host[:port]."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    url = urlsplit(request.url)
    return origin.strip().rstrip("/").lower() == f"{url.scheme}://{url.netloc}".lower()


def malformed(message: Any) -> str | None:
    """Why `message` is not a JSON-RPC 2.0 request or notification, or None."""
    if isinstance(message, list):
        return "Batches are not supported"
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return "Not a JSON-RPC 2.0 message"
    if not isinstance(message.get("method"), str) or not message["method"]:
        return "A request names its method (JSON-RPC responses are not accepted here)"
    if "id" in message and not _valid_id(message["id"]):
        return "A request id is a string or an integer"
    return None


def _valid_id(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= 200) or (isinstance(value, int) and not isinstance(value, bool))


def request_version(request: Request, message: dict[str, Any]) -> str:
    """The revision `message` speaks, its headers checked against its body (`McpError` if they disagree)."""
    header = (request.headers.get(VERSION_HEADER) or "").strip()
    if header and header not in PROTOCOL_VERSIONS:
        raise unsupported_version(header)
    version = header or UNVERSIONED
    if "id" not in message:
        return version  # a notification: the revision defines no headers for it, and it gets no answer
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    declared = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, dict) else None
    if declared is not None:
        if not isinstance(declared, str):
            raise McpError(INVALID_PARAMS, f"_meta {META_PROTOCOL_VERSION} must be a string")
        if declared != header:
            shown = header or "(none)"
            raise McpError(
                HEADER_MISMATCH, f"Header mismatch: MCP-Protocol-Version {shown} but the body says {declared[:40]}"
            )
    modern = version in MODERN_VERSIONS
    if modern:
        if declared is None:
            raise McpError(INVALID_PARAMS, f"A {version} request carries params._meta[{META_PROTOCOL_VERSION!r}]")
        if not isinstance(meta.get(META_CLIENT_CAPABILITIES), dict):
            raise McpError(INVALID_PARAMS, f"A {version} request carries params._meta[{META_CLIENT_CAPABILITIES!r}]")
    check_mirrored_headers(request, message, required=modern)
    return version


def check_mirrored_headers(request: Request, message: dict[str, Any], *, required: bool) -> None:
    """`Mcp-Method` equals the method and `Mcp-Name` the named field; `required`: both must be sent."""
    method = message["method"]
    sent = request.headers.get(METHOD_HEADER)
    if sent is None:
        if required:
            raise McpError(HEADER_MISMATCH, "Header mismatch: Mcp-Method is required")
    elif sent.strip() != method:
        raise McpError(
            HEADER_MISMATCH, f"Header mismatch: Mcp-Method {sent[:100]!r} but the body's method is {method[:100]!r}"
        )
    field = NAMED_PARAMS.get(method)
    if field is None:
        return
    sent = request.headers.get(NAME_HEADER)
    if sent is None:
        if required:
            raise McpError(HEADER_MISMATCH, f"Header mismatch: Mcp-Name is required for {method}")
        return
    params = message.get("params")
    body = params.get(field) if isinstance(params, dict) else None
    if decode_header_value(sent) != body:
        raise McpError(HEADER_MISMATCH, f"Header mismatch: Mcp-Name does not match params.{field}")


def decode_header_value(value: str) -> str:
    """A mirrored header's value: as sent, or decoded from `=?base64?<UTF-8 in base64>?=`."""
    value = value.strip()
    if not (value.startswith(_BASE64_OPEN) and value.endswith(_BASE64_CLOSE)):
        return value
    encoded = value[len(_BASE64_OPEN) : -len(_BASE64_CLOSE)]
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise McpError(HEADER_MISMATCH, "Header mismatch: a =?base64?...?= value is not valid base64") from None
