"""A small router with Hono-style middleware.

    router = Router()
    router.use(RequestIdMiddleware())            # first `use`d runs outermost

    @router.get("/items/{id}")                   # {name}, {name:int}, {name:path}
    async def get_item(request, ctx):
        return await items.get_item(ctx.env, ctx.params["id"])   # data -> success envelope

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await router.handle(request, self.env, self.ctx)

A handler is `async def handler(request, ctx)`; it returns a `Response`, or plain data (dict,
list, pydantic model, None) that becomes the success envelope with status 200. A middleware is
`async def mw(request, ctx, call_next) -> Response`, or an object with that `__call__`.

Whatever a middleware's `call_next` gives back is a `Response`: an `AppError` raised below it
(404 for an unknown path, 405 with `Allow` for a wrong method, a handler's `NotFound`...) has
already become its error envelope. Other exceptions pass up to `ErrorMiddleware`, and
`Router.handle` itself never lets one escape (a generic 500 envelope, the details logged).
HEAD is served by GET routes, without the body.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from workers import Request, Response

from shared.envelope import app_error_response, error_response, success_response
from shared.errors import AppError, MethodNotAllowed, NotFound
from shared.http import method_of, path_of
from shared.ids import new_request_id
from shared.logs import log

Handler = Callable[[Request, "Context"], Awaitable[Any]]
Next = Callable[[Request, "Context"], Awaitable[Response]]
Middleware = Callable[[Request, "Context", Next], Awaitable[Response]]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PARAM = re.compile(r"{([^{}]*)}")
_PARAM_BODY = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?$")
_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": (r"[^/]+", str),
    "int": (r"-?[0-9]{1,18}", int),
    "path": (r".*", str),
}


@dataclass
class Context:
    """Per-request context handed to middleware and handlers.

    `env`: the worker's bindings. `params`: path parameters of the matched route. `request_id`:
    this request's id (a fresh one; `RequestIdMiddleware` may adopt the caller's). `worker_ctx`:
    the entrypoint's `self.ctx` (for `wait_until`). `state`: what middleware leave for later
    ones and the handler (by convention `state["principal_id"]` is set by authentication and
    logged by `AccessLogMiddleware`).
    """

    env: Any
    worker_ctx: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Keep `awaitable` running after the response is sent (the worker's `ctx.waitUntil`)."""
        if self.worker_ctx is None:
            raise RuntimeError("no worker context: pass the entrypoint's self.ctx to Router.handle")
        self.worker_ctx.waitUntil(awaitable)

    def json(self, data: Any, *, status: int = 200, meta: dict[str, Any] | None = None) -> Response:
        """A success envelope with this request's id (for a status other than 200, or extra `meta`)."""
        return success_response(data, status=status, request_id=self.request_id, meta=meta)


@dataclass(frozen=True)
class Route:
    """One method and path pattern, and its handler."""

    method: str
    pattern: str
    handler: Handler
    regex: re.Pattern[str]
    converters: dict[str, Callable[[str], Any]]

    @classmethod
    def build(cls, method: str, pattern: str, handler: Handler) -> Route:
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"unknown HTTP method {method!r}: one of {', '.join(METHODS)}")
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern must start with '/': {pattern!r}")
        converters: dict[str, Callable[[str], Any]] = {}
        regex, last = "^", 0
        for match in _PARAM.finditer(pattern):
            body = _PARAM_BODY.match(match.group(1))
            if body is None or (body.group(2) or "str") not in _CONVERTERS:
                raise ValueError(
                    f"bad parameter {match.group(0)!r} in {pattern!r}: use {{name}} or {{name:str|int|path}}"
                )
            name, kind = body.group(1), body.group(2) or "str"
            if name in converters:
                raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
            regex += _literal(pattern[last : match.start()], pattern) + f"(?P<{name}>{_CONVERTERS[kind][0]})"
            converters[name] = _CONVERTERS[kind][1]
            last = match.end()
        regex += _literal(pattern[last:], pattern) + "$"
        return cls(method, pattern, handler, re.compile(regex), converters)

    def match(self, path: str) -> dict[str, Any] | None:
        """The parameters (percent-decoded, converted) if `path` matches, else None."""
        found = self.regex.match(path)
        if found is None:
            return None
        return {k: self.converters[k](unquote(v)) for k, v in found.groupdict().items()}


def _literal(text: str, pattern: str) -> str:
    if "{" in text or "}" in text:
        raise ValueError(f"unbalanced braces in route pattern {pattern!r}")
    return re.escape(text)


class Router:
    """Routes and middleware of one worker (or of a part `mount`ed into another router)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.middleware: list[Middleware] = []
        self._mounts: list[tuple[str, Router]] = []

    # -- declaring ------------------------------------------------------------------------------
    def use(self, middleware: Middleware) -> None:
        """Add a middleware; the first one added runs outermost."""
        if not callable(middleware):
            raise TypeError(f"middleware must be callable (request, ctx, call_next), not {middleware!r}")
        self.middleware.append(middleware)

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve `method` requests for `pattern` with `handler` (first matching route wins)."""
        self.routes.append(Route.build(method, pattern, handler))

    def route(self, pattern: str, methods: list[str]) -> Callable[[Handler], Handler]:
        """Decorator: serve several methods with one handler."""

        def decorator(handler: Handler) -> Handler:
            for method in methods:
                self.add(method, pattern, handler)
            return handler

        return decorator

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route(pattern, ["GET"])

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route(pattern, ["POST"])

    def put(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route(pattern, ["PUT"])

    def patch(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route(pattern, ["PATCH"])

    def delete(self, pattern: str) -> Callable[[Handler], Handler]:
        return self.route(pattern, ["DELETE"])

    def mount(self, prefix: str, other: Router) -> None:
        """Serve `other`'s routes under `prefix` (e.g. "/admin"); `other`'s middleware wraps only its routes.

        Routes and middleware added to `other` later are served too. Own routes are tried first.
        """
        if not prefix.startswith("/") or prefix.endswith("/") or "{" in prefix:
            raise ValueError(f"mount prefix must look like '/name' (no trailing slash, no parameters): {prefix!r}")
        if other is self:
            raise ValueError("a router cannot be mounted into itself")
        self._mounts.append((prefix, other))

    # -- serving ----------------------------------------------------------------------------------
    async def handle(self, request: Request, env: Any, worker_ctx: Any = None) -> Response:
        """Answer `request`: middleware, then the matching route. Always a `Response`, never an exception."""
        ctx = Context(env=env, worker_ctx=worker_ctx, request_id=new_request_id())
        try:
            return await _chain(self.middleware, self._endpoint)(request, ctx)
        except Exception as exc:  # no ErrorMiddleware caught it: still no internals for the client
            line = {
                "type": "error",
                "request_id": ctx.request_id,
                "error": type(exc).__name__,
                "message": str(exc)[:500],
            }
            log(line)
            return error_response("INTERNAL_ERROR", "Internal server error", status=500, request_id=ctx.request_id)

    async def _endpoint(self, request: Request, ctx: Context) -> Response:
        method, path = method_of(request), path_of(request)
        found, allowed = self._find(method, path)
        if found is None:
            if allowed:
                if "GET" in allowed:
                    allowed.add("HEAD")
                raise MethodNotAllowed(f"{method} is not allowed on {path}", allowed=sorted(allowed))
            raise NotFound(f"No route for {method} {path}")
        call, ctx.params = found
        response = await call(request, ctx)
        if method == "HEAD":  # the GET route's status and headers, no body
            return Response(None, status=response.status, headers=list(response.headers.items()))
        return response

    def _find(self, method: str, path: str) -> tuple[tuple[Next, dict[str, Any]] | None, set[str]]:
        """The handler chain and parameters for `method path`, else None and the methods the path allows."""
        allowed: set[str] = set()
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return (_as_response_handler(route.handler), params), allowed
            allowed.add(route.method)
        for prefix, sub in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                found, sub_allowed = sub._find(method, path[len(prefix) :] or "/")
                if found is not None:
                    return (_chain(sub.middleware, found[0]), found[1]), allowed
                allowed |= sub_allowed
        return None, allowed


def _as_response_handler(handler: Handler) -> Next:
    async def call(request: Request, ctx: Context) -> Response:
        return to_response(await handler(request, ctx), ctx)

    return call


def _chain(middleware: list[Middleware], endpoint: Next) -> Next:
    """`endpoint` wrapped in `middleware` (first outermost); an `AppError` below any layer becomes its envelope."""
    call = _catching(endpoint)
    for mw in reversed(middleware):
        call = _catching(_bind(mw, call))
    return call


def _bind(mw: Middleware, call_next: Next) -> Next:
    async def step(request: Request, ctx: Context) -> Response:
        return await mw(request, ctx, call_next)

    return step


def _catching(call: Next) -> Next:
    async def step(request: Request, ctx: Context) -> Response:
        try:
            return await call(request, ctx)
        except AppError as err:
            return app_error_response(err, request_id=ctx.request_id)

    return step


def to_response(result: Any, ctx: Context) -> Response:
    """A handler's result as a `Response`: responses pass through, data becomes the success envelope."""
    if isinstance(result, Response) or (hasattr(result, "js_object") and hasattr(result, "status")):
        return result
    return success_response(result, request_id=ctx.request_id)
