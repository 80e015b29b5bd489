"""A service's operations, declared once; RPC methods, HTTP routes, MCP tools and OpenAPI derived from them.

    service = Service("orders", version="0.1.0")

    class OrderKey(BaseModel):
        id: str

    @service.operation(http="GET /orders/{id}", permission="orders:read", tool="orders_get")
    async def get_order(call: Call, args: OrderKey) -> dict:
        \"\"\"Get one order by id.\"\"\"                     # the description every face shows
        return await orders.get_order(call.env, call.principal, args.id)

    @service.entrypoint                                    # RPC: env.ORDERS_SERVICE.get_order(principal, {"id": ...})
    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await routes.router.handle(request, self.env, self.ctx)

    service.serve(router)                                  # HTTP routes, GET /openapi.json, POST /mcp

The entrypoint also gets the two RPC methods through which the MCP aggregator (workers/mcp) offers a
service's tools: `mcp_list_tools(principal)` (the tools that principal may call, each named
`<service>_<tool>` unless its name already starts so, with its JSON Schema) and
`mcp_call_tool(principal, name, arguments)` (the `tools/call` result; an unknown name is 404
`UNKNOWN_TOOL`).

One wrapper (`Service.invoke`) runs every call on every face, in this order: the caller is
authenticated (a principal, unless the operation is `public`), holds the operation's `permission`
(403 FORBIDDEN naming it), the input validates against the operation's model (400
VALIDATION_ERROR with field errors), then the handler runs with a `Call` and the model.

RPC callers state the principal they act for: `method(principal, args)`, where `principal` is the
dict `validate_token` answered (or `shared.principals.service_principal(...)` for a service's own
work) and `args` the same object the HTTP body or MCP arguments would carry; the fields may also
be given by position (the model's order) and by name: `get_order(principal, "ord_1")`. The RPC methods are
set on the entrypoint class itself: workerd lists a Python entrypoint's RPC methods from the
class's own `__dict__` (inherited methods are not callable over RPC).

HTTP input: path parameters, plus the query string (GET, HEAD, and DELETE without a body) or the
JSON object body (POST, PUT, PATCH, DELETE with a body); a body field that contradicts a path
parameter is a 400.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict
from workers import Request, Response

from shared.errors import BadRequest, Forbidden, NotFound, Unauthorized
from shared.http import headers_of, method_of, query_of
from shared.mcp import McpServer, Tool, ToolRegistry, mcp_endpoint
from shared.middleware import AccessLogMiddleware, AuthenticationMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.middleware.authentication import Validate, validate_with_auth_service
from shared.oauth import METADATA_PATH, metadata_endpoint
from shared.openapi import openapi_document
from shared.permissions import allows
from shared.routing import Context, Router
from shared.rpc import rpc_method
from shared.validation import read_json_object, validate

Handler = Callable[["Call", Any], Awaitable[Any]]

_OPERATION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HTTP = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)$")
_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FACES = ("rpc", "http", "mcp")
#: The RPC methods every kit entrypoint gets for the MCP aggregator (`Service.entrypoint`).
LIST_TOOLS_METHOD, CALL_TOOL_METHOD = "mcp_list_tools", "mcp_call_tool"


#: The meta keys of a page made by `offset_page`: `@service.operation(..., page=OFFSET_PAGE)`.
OFFSET_PAGE = ("total", "limit", "offset", "has_more")


def offset_page(items: list[Any], *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """One page of a listing read by offset: `{"items", "total", "limit", "offset", "has_more"}`. Over HTTP
    the items are the envelope's `data` and the rest its `meta` (declare `page=OFFSET_PAGE`)."""
    return {"items": items, "total": total, "limit": limit, "offset": offset, "has_more": offset + len(items) < total}


class NoInput(BaseModel):
    """The input of an operation that takes none (unknown fields are refused like anywhere else)."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Call:
    """One call of an operation, whatever face it came through.

    `env`: the worker's bindings. `principal`: who the call acts for (None only for public
    operations called without one). `request_id`: the request's id, for logs. `worker_ctx`: the
    entrypoint's `self.ctx` (`wait_until`). `face`: "rpc", "http" or "mcp".
    """

    env: Any
    principal: dict[str, Any] | None
    request_id: str | None = None
    worker_ctx: Any = None
    face: str = "rpc"

    @property
    def actor(self) -> str | None:
        """The principal's id (what audit records name), or None."""
        return self.principal["id"] if self.principal else None


@dataclass(frozen=True)
class Operation:
    """One domain operation and how each face shows it (see `Service.operation`)."""

    name: str
    handler: Handler
    input: type[BaseModel]
    description: str
    permission: str | None = None
    public: bool = False
    #: The HTTP routes serving it: (method, path) pairs, usually one.
    http: tuple[tuple[str, str], ...] = ()
    tool: str | None = None
    status: int | Callable[[Any], int] = 200
    page: tuple[str, ...] | None = None
    event: str | None = None
    faces: tuple[str, ...] = _FACES

    @property
    def summary(self) -> str:
        """The description's first line."""
        return self.description.strip().splitlines()[0] if self.description.strip() else self.name

    def http_status(self, result: Any) -> int:
        return self.status(result) if callable(self.status) else self.status


class Service:
    """The operations of one service, and the faces derived from them."""

    def __init__(self, name: str, *, version: str = "0.1.0", description: str = "") -> None:
        self.name = name
        self.version = version
        self.description = description
        self.operations: dict[str, Operation] = {}

    # -- declaring ----------------------------------------------------------------------------------
    def operation(
        self,
        *,
        http: str | tuple[str, ...] | None = None,
        permission: str | None = None,
        public: bool = False,
        tool: str | None = None,
        status: int | Callable[[Any], int] = 200,
        page: tuple[str, ...] | None = None,
        event: str | None = None,
        rpc: bool = True,
        name: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare `async def handler(call: Call, args: Model) -> data` as an operation.

        `http`: "METHOD /path/{param}", or several (None: no route). `permission`: what the principal must hold
        (None: any authenticated principal; the handler may check finer rules). `public`: callable
        without a principal (sign-in, webhooks). `tool`: the MCP tool name (None: no tool).
        `status`: the HTTP status of a success, or a function of the result. `page`: the result is
        `{"items": [...], <keys>...}`: HTTP answers the items as data and these keys as `meta`.
        `event`: the queue event the operation emits, for the documentation. `rpc=False`: no RPC
        method. The model is the handler's `args` annotation (none: `NoInput`); the description
        its docstring.
        """

        def decorator(handler: Handler) -> Handler:
            self.add(
                Operation(
                    name=name or handler.__name__,
                    handler=handler,
                    input=_input_model(handler),
                    description=inspect.cleandoc(handler.__doc__ or ""),
                    permission=permission,
                    public=public,
                    http=tuple(_parse_http(spec) for spec in ((http,) if isinstance(http, str) else http or ())),
                    tool=tool,
                    status=status,
                    page=page,
                    event=event,
                    faces=tuple(face for face, on in zip(_FACES, (rpc, http, tool), strict=True) if on),
                )
            )
            return handler

        return decorator

    def add(self, operation: Operation) -> Operation:
        """Register an operation; its name, route and tool must be unique within the service."""
        if not _OPERATION_NAME.fullmatch(operation.name):
            raise ValueError(f"operation name {operation.name!r}: 1-64 of a-z, 0-9, _ starting with a letter")
        if operation.name in self.operations:
            raise ValueError(f"operation {operation.name!r} is declared twice in {self.name}")
        if not operation.description:
            raise ValueError(f"operation {operation.name!r} needs a docstring: it is every face's description")
        if operation.public and operation.permission:
            raise ValueError(f"operation {operation.name!r} is public: it cannot also need {operation.permission!r}")
        for other in self.operations.values():
            for route in set(operation.http) & set(other.http):
                raise ValueError(f"{route[0]} {route[1]} is served by {other.name!r} already")
            if operation.tool and other.tool and self.mcp_name(other.tool) == self.mcp_name(operation.tool):
                raise ValueError(f"MCP tool {operation.tool!r} is declared by {other.name!r} already")
        if operation.tool and len(self.mcp_name(operation.tool)) > 64:
            raise ValueError(
                f"MCP tool {operation.tool!r} is longer than 64 characters as {self.mcp_name(operation.tool)!r}"
            )
        for _, path in operation.http:
            missing = set(_PATH_PARAM.findall(path)) - set(operation.input.model_fields)
            if missing:
                raise ValueError(f"{operation.name}: path parameters {sorted(missing)} are not input fields")
        self.operations[operation.name] = operation
        return operation

    # -- the one wrapper ------------------------------------------------------------------------------
    async def invoke(self, operation: Operation, call: Call, args: Any) -> Any:
        """Run `operation` for `call`: authenticate, authorize, validate, then the handler."""
        _authorize(operation, call)
        model = args if isinstance(args, operation.input) else validate(operation.input, {} if args is None else args)
        return _plain(await operation.handler(call, model))

    # -- RPC ------------------------------------------------------------------------------------------
    def entrypoint(self, cls: type) -> type:
        """Class decorator: set an RPC method `name(principal, args=None)` on `cls` for each operation.

        The methods are `cls`'s own attributes (workerd reads `cls.__dict__`); a method the class
        defines itself by that name is an error, not silently replaced.
        """
        for operation in self.operations.values():
            if "rpc" not in operation.faces:
                continue
            if operation.name in cls.__dict__:
                raise TypeError(f"{cls.__name__}.{operation.name} is both written by hand and declared as an operation")
            if operation.name in (LIST_TOOLS_METHOD, CALL_TOOL_METHOD):
                raise TypeError(f"{operation.name} is the kit's own RPC method for the MCP aggregator")
            setattr(cls, operation.name, self._rpc_method(operation))
        for name, method in ((LIST_TOOLS_METHOD, self._rpc_list_tools()), (CALL_TOOL_METHOD, self._rpc_call_tool())):
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__}.{name} is the kit's own RPC method for the MCP aggregator")
            setattr(cls, name, method)
        return cls

    def _rpc_method(self, operation: Operation) -> Callable[..., Awaitable[Any]]:
        service = self

        async def method(self: Any, principal: Any = None, *values: Any, **named: Any) -> Any:
            call = Call(self.env, rpc_principal(principal), worker_ctx=getattr(self, "ctx", None), face="rpc")
            _authorize(operation, call)  # before the arguments are looked at (too many, given twice: 400)
            return await service.invoke(operation, call, _rpc_args(operation, values, named))

        method.__name__ = method.__qualname__ = operation.name
        method.__doc__ = operation.description
        return rpc_method(method)

    def _rpc_list_tools(self) -> Callable[..., Awaitable[Any]]:
        service = self

        async def mcp_list_tools(self: Any, principal: Any = None) -> list[dict[str, Any]]:
            """The MCP tools `principal` may call, named for the aggregator (`<service>_<tool>`)."""
            context = _tool_context(self, principal, None)
            return [tool | {"name": service.mcp_name(tool["name"])} for tool in service.tools().list(context)]

        mcp_list_tools.__name__ = mcp_list_tools.__qualname__ = LIST_TOOLS_METHOD
        return rpc_method(mcp_list_tools)

    def _rpc_call_tool(self) -> Callable[..., Awaitable[Any]]:
        service = self

        async def mcp_call_tool(
            self: Any, principal: Any = None, name: Any = None, arguments: Any = None, request_id: Any = None
        ) -> dict[str, Any]:
            """Call the tool `name` (as `mcp_list_tools` names it) for `principal`: its `tools/call` result."""
            context = _tool_context(self, principal, request_id)
            tool = service.tool_named(name)
            if tool is None:
                raise NotFound(f"No MCP tool {str(name)[:64]!r} in {service.name}", code="UNKNOWN_TOOL")
            arguments = _plain(arguments)
            if arguments is not None and not isinstance(arguments, dict):
                raise BadRequest("arguments must be an object", code="VALIDATION_ERROR")
            return await service.tools().call(tool, arguments, context)

        mcp_call_tool.__name__ = mcp_call_tool.__qualname__ = CALL_TOOL_METHOD
        return rpc_method(mcp_call_tool)

    def mcp_name(self, tool: str) -> str:
        """A tool's name outside the service: `<service>_<tool>`, or the name itself if it starts so already."""
        prefix = f"{self.name}_"
        return tool if tool.startswith(prefix) else prefix + tool

    def tool_named(self, name: Any) -> str | None:
        """The tool of this service an outside name (`mcp_name`) stands for, or None."""
        if not isinstance(name, str):
            return None
        names = self.tools().names()
        found = [tool for tool in names if self.mcp_name(tool) == name]
        return found[0] if found else None

    # -- HTTP -------------------------------------------------------------------------------------------
    def serve(self, router: Router, *, mcp: str | None = "/mcp", openapi: str | None = "/openapi.json") -> None:
        """Add a route for every operation with `http`, and the MCP endpoint and OpenAPI document."""
        routes = [(method, path, op) for op in self.operations.values() for method, path in op.http]
        for method, path, operation in sorted(routes, key=lambda route: _specificity(route[1])):
            router.add(method, path, self._route(operation))
        if openapi:
            document = self.openapi()

            async def openapi_document(request: Request, ctx: Context) -> Any:
                return Response.json(document)  # the document itself, not in an envelope: what OpenAPI tools read

            router.add("GET", openapi, openapi_document)
        if mcp and self.tools().names():
            server = McpServer(
                name=self.name, version=self.version, tools=self.tools(), instructions=self.description or None
            )
            router.route(mcp, ["POST", "GET", "DELETE"])(mcp_endpoint(server))

    def router(
        self,
        *,
        public: tuple[str, ...] = (),
        validate: Validate | None = None,
        health: bool = True,
    ) -> Router:
        """A router with every service's middleware stack, outermost first: request ids, access log, errors
        as envelopes, then authentication (every path but `/health`, the public operations', the OpenAPI
        document, the OAuth protected-resource metadata and `public` needs a bearer token; `validate` replaces
        the AUTH_SERVICE check, as auth's own does). `GET /.well-known/oauth-protected-resource` answers that
        metadata (`shared.oauth`); with `health`, `GET /health` answers `{"service", "status": "ok", "version"}`.

        Add hand-written routes, then `serve(router)` for the operations'.
        """
        router = Router()
        router.use(RequestIdMiddleware())
        router.use(AccessLogMiddleware(self.name))
        router.use(ErrorMiddleware(self.name))
        open_paths = ("/health", METADATA_PATH, *public, *self.public_paths())
        router.use(AuthenticationMiddleware(public=open_paths, validate=validate or validate_with_auth_service))
        router.get(METADATA_PATH)(metadata_endpoint(self.name))
        if health:
            name, version = self.name, self.version

            async def health_check(request: Request, ctx: Context) -> Any:
                return {"service": name, "status": "ok", "version": version}

            router.get("/health")(health_check)
        return router

    def public_paths(self) -> tuple[str, ...]:
        """The HTTP paths that need no bearer token: public operations' and the OpenAPI document."""
        return ("/openapi.json", *(path for op in self.operations.values() if op.public for _, path in op.http))

    def _route(self, operation: Operation) -> Callable[[Request, Context], Awaitable[Any]]:
        async def route(request: Request, ctx: Context) -> Any:
            call = Call(ctx.env, ctx.state.get("principal"), ctx.request_id, ctx.worker_ctx, face="http")
            _authorize(operation, call)  # before the body is read (malformed, contradicting the path: 400)
            args = await _http_args(request, ctx.params)
            result = await self.invoke(operation, call, args)
            if operation.page is not None:
                meta = {key: result[key] for key in operation.page if key in result}
                return ctx.json(result["items"], status=operation.http_status(result), meta=meta)
            return ctx.json(result, status=operation.http_status(result))

        route.__name__ = operation.name
        return route

    # -- MCP --------------------------------------------------------------------------------------------
    def tools(self) -> ToolRegistry:
        """The MCP tools: one per operation with a `tool` name (built once, then cached)."""
        registry = getattr(self, "_tools", None)
        if registry is None:
            registry = ToolRegistry()
            for operation in self.operations.values():
                if operation.tool:
                    registry.add(
                        Tool(
                            operation.tool,
                            operation.description,
                            operation.input,
                            self._tool_handler(operation),
                            permission=operation.permission,
                        )
                    )
            self._tools = registry
        return registry

    def _tool_handler(self, operation: Operation) -> Callable[[Any, Any], Awaitable[Any]]:
        async def handler(args: Any, ctx: Any) -> Any:
            call = Call(ctx.env, ctx.state.get("principal"), ctx.request_id, ctx.worker_ctx, face="mcp")
            return await self.invoke(operation, call, args)

        return handler

    # -- OpenAPI ----------------------------------------------------------------------------------------
    def openapi(self) -> dict[str, Any]:
        """The service's OpenAPI 3.1 document: every HTTP operation, its input, permission and success envelope."""
        return openapi_document(self)


def _tool_context(entrypoint: Any, principal: Any, request_id: Any) -> Context:
    """The request context a tool runs in when the aggregator calls it over RPC (401 without a principal)."""
    principal = rpc_principal(principal)
    if principal is None:
        raise Unauthorized("Authentication required", code="UNAUTHORIZED")
    state = {"principal": principal, "principal_id": principal["id"]}
    request_id = request_id if isinstance(request_id, str) and len(request_id) <= 128 else None
    return Context(env=entrypoint.env, worker_ctx=getattr(entrypoint, "ctx", None), request_id=request_id, state=state)


def _authorize(operation: Operation, call: Call) -> None:
    """401 without a principal (unless the operation is public), 403 without the operation's permission."""
    if call.principal is None and not operation.public:
        raise Unauthorized("Authentication required", code="UNAUTHORIZED")
    if operation.permission and not allows(call.principal.get("permissions") or (), operation.permission):
        raise Forbidden(
            f"This needs the permission {operation.permission!r}", details={"permission": operation.permission}
        )


def _specificity(path: str) -> tuple[int, ...]:
    """Sorts a literal segment before a parameter at the same place (`/items/count` before `/items/{id}`),
    so the router, which takes the first match, never hides a literal route behind a parameter."""
    return tuple(1 if "{" in segment else 0 for segment in path.strip("/").split("/"))


def _input_model(handler: Handler) -> type[BaseModel]:
    params = list(inspect.signature(handler).parameters)
    if len(params) != 2:
        raise TypeError(f"operation {handler.__name__}: write it as `async def {handler.__name__}(call, args: Model)`")
    hint = get_type_hints(handler).get(params[1])
    if hint is None:
        return NoInput
    if not (isinstance(hint, type) and issubclass(hint, BaseModel)):
        raise TypeError(f"operation {handler.__name__}: `{params[1]}` must be annotated with a pydantic model")
    return hint


def _parse_http(spec: str) -> tuple[str, str]:
    found = _HTTP.fullmatch(spec)
    if found is None:
        raise ValueError(f"http={spec!r}: write it as 'METHOD /path/{{param}}'")
    return found.group(1), found.group(2)


def rpc_principal(principal: Any) -> dict[str, Any] | None:
    """The principal an RPC caller names: None, or a dict with a string `id` and a list of `permissions`
    (else 400 `INVALID_PRINCIPAL`). Also for RPC methods written by hand (db's records): they take the
    principal first as the kit's methods do, and answer None with 401 as `_authorize` does."""
    if principal is None:
        return None
    principal = _plain(principal)
    if (
        not isinstance(principal, dict)
        or not isinstance(principal.get("id"), str)
        or not isinstance(principal.get("permissions"), list)
    ):
        raise BadRequest(
            "RPC callers pass the principal they act for first: an object with a string id and a list of permissions",
            code="INVALID_PRINCIPAL",
        )
    return principal


def _rpc_args(operation: Operation, values: tuple[Any, ...], named: dict[str, Any]) -> dict[str, Any]:
    """An RPC call's input: one object of named fields (`get_thing(p, {"ns": "a", "id": "b"})`), or the
    fields by position in the model's order and by name (`get_thing(p, "a", "b")`, `search(p, "x", limit=5)`)."""
    values = tuple(_plain(value) for value in values)
    if len(values) == 1 and not named and (values[0] is None or isinstance(values[0], dict)):
        return values[0] or {}
    fields = list(operation.input.model_fields)
    if len(values) > len(fields):
        raise BadRequest(
            f"{operation.name} takes at most {len(fields)} values after the principal", code="VALIDATION_ERROR"
        )
    args = dict(zip(fields, values, strict=False))
    for key, value in named.items():
        if key in args:
            raise BadRequest(f"{operation.name}: {key} is given twice", code="VALIDATION_ERROR")
        args[key] = _plain(value)
    return args


async def _http_args(request: Request, params: dict[str, Any]) -> dict[str, Any]:
    method = method_of(request)
    has_body = method in _BODY_METHODS or (method == "DELETE" and _declares_body(request))
    args: dict[str, Any] = await read_json_object(request) if has_body else dict(query_of(request))
    for key, value in params.items():
        if key in args and str(args[key]) != str(value):
            raise BadRequest(f"The {key} given differs from the path", code="VALIDATION_ERROR")
        args[key] = value
    return args


def _declares_body(request: Request) -> bool:
    """Whether a DELETE carries a body: a length above 0, a chunked body, or a declared Content-Type."""
    length = headers_of(request).get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return bool(headers_of(request).get("transfer-encoding") or headers_of(request).get("content-type"))


def _plain(data: Any) -> Any:
    """Models as JSON-ready data; JS objects that crossed an RPC boundary as Python values."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if hasattr(data, "to_py"):
        return data.to_py()
    return data
