"""MCP resources declared once: a URI, a name, a description, a MIME type and an async reader.

    resources = ResourceRegistry()

    @resources.resource("dotdo://platform/health", "Platform health", "Each service's /health")
    async def health(context) -> dict: ...          # a dict or list is served as JSON text

`resources/list` shows the resources the context's principal may read (a resource may need a
permission); `resources/read` runs the reader. Reading errors are JSON-RPC errors (a resource has no
error result): a missing permission or a 4xx `AppError` of the reader -32602 with the error's
`{"code", "message", "details"}` as data, anything else -32603 with only the request id.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import AppError
from shared.mcp.protocol import INTERNAL_ERROR, INVALID_PARAMS, McpError
from shared.mcp.tools import holds

Reader = Callable[[Any], Awaitable[Any]]


class UnknownResource(LookupError):
    """`resources/read` named a URI that is not registered."""


@dataclass(frozen=True)
class Resource:
    """One resource: `uri` (with a scheme), `name`, `description`, `mime_type` of what the reader gives,
    `reader(context)`, and the permission a principal needs to see and read it (None: anyone)."""

    uri: str
    name: str
    description: str
    reader: Reader
    mime_type: str = "application/json"
    permission: str | None = None

    def __post_init__(self) -> None:
        scheme, sep, rest = self.uri.partition("://")
        if not sep or not scheme or not rest or any(c.isspace() for c in self.uri):
            raise ValueError(f"a resource URI looks like scheme://path, not {self.uri!r}")
        if not self.name or not self.description:
            raise ValueError(f"resource {self.uri!r} needs a name and a description")

    def describe(self) -> dict[str, Any]:
        """The resource as `resources/list` shows it."""
        return {"uri": self.uri, "name": self.name, "description": self.description, "mimeType": self.mime_type}

    def contents(self, data: Any) -> dict[str, Any]:
        """One entry of `resources/read`'s `contents`: text as is, other data as JSON text."""
        text = data if isinstance(data, str) else json.dumps(data, default=str)
        return {"uri": self.uri, "mimeType": self.mime_type, "text": text}


class ResourceRegistry:
    """The resources of one MCP server, in declaration order."""

    def __init__(self, *, log: Callable[[str], None] = print) -> None:
        self._resources: dict[str, Resource] = {}
        self.log = log

    def add(self, resource: Resource) -> Resource:
        if resource.uri in self._resources:
            raise ValueError(f"MCP resource {resource.uri!r} is declared twice")
        self._resources[resource.uri] = resource
        return resource

    def resource(
        self,
        uri: str,
        name: str,
        description: str,
        *,
        mime_type: str = "application/json",
        permission: str | None = None,
    ) -> Callable[[Reader], Reader]:
        """Decorator declaring `async def reader(context)` as the resource `uri`."""

        def decorator(reader: Reader) -> Reader:
            self.add(Resource(uri, name, description, reader, mime_type=mime_type, permission=permission))
            return reader

        return decorator

    def uris(self) -> list[str]:
        return list(self._resources)

    async def list_resources(self, context: Any) -> list[dict[str, Any]]:
        """`resources/list`'s `resources`, without those the context's principal may not read."""
        return [r.describe() for r in self._resources.values() if holds(context, r.permission)]

    async def read_resource(self, uri: str, context: Any) -> list[dict[str, Any]]:
        """`resources/read`'s `contents`; `UnknownResource` for a URI not declared (or not visible)."""
        resource = self._resources.get(uri)
        if resource is None:
            raise UnknownResource(uri)
        if not holds(context, resource.permission):
            message = f"This needs the permission {resource.permission!r}"
            error = {"code": "FORBIDDEN", "message": message, "details": {"permission": resource.permission}}
            raise McpError(INVALID_PARAMS, message, error)
        try:
            data = await resource.reader(context)
        except AppError as err:
            code = INVALID_PARAMS if 400 <= err.status < 500 else INTERNAL_ERROR
            raise McpError(code, err.message, err.to_dict()) from None
        except Exception as exc:
            request_id = getattr(context, "request_id", None)
            line = {"type": "resource_error", "uri": uri, "request_id": request_id, "error": type(exc).__name__}
            self.log(json.dumps(line | {"message": str(exc)[:500]}))
            raise McpError(INTERNAL_ERROR, "The resource could not be read", {"request_id": request_id}) from None
        return [resource.contents(data)]
