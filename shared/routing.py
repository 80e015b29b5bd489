"""A small router with Hono-style middleware: `router.get("/things/{id}")`, `router.use(mw)`.

A handler is `async def handler(request, ctx)`; it returns a `Response`, or plain data that is
wrapped into the success envelope. A middleware is `async def mw(request, ctx, call_next)` (or an
object with that `__call__`); the first one `use`d runs outermost. Unknown paths answer 404 and
wrong methods 405 (with `Allow`), both as error envelopes; HEAD is served by GET routes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from workers import Request, Response

from shared.envelope import app_error_response, success_response
from shared.errors import AppError, MethodNotAllowed, NotFound
from shared.http import method_of, path_of

Handler = Callable[[Request, "Context"], Awaitable[Any]]
Next = Callable[[Request, "Context"], Awaitable[Response]]
Middleware = Callable[[Request, "Context", Next], Awaitable[Response]]

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::(str|int|path))?}")
_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": (r"[^/]+", str),
    "int": (r"-?[0-9]+", int),
    "path": (r".*", str),
}


@dataclass
class Context:
    """Per-request context handed to middleware and handlers."""

    env: Any
    worker_ctx: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        """Keep `awaitable` running after the response (the worker's `ctx.waitUntil`)."""
        if self.worker_ctx is None:
            raise RuntimeError("no worker context: pass the entrypoint's self.ctx to Router.handle")
        self.worker_ctx.waitUntil(awaitable)

    def json(self, data: Any, *, status: int = 200, meta: dict[str, Any] | None = None) -> Response:
        """A success envelope with this request's id."""
        return success_response(data, status=status, request_id=self.request_id, meta=meta)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    regex: re.Pattern[str]
    converters: dict[str, Callable[[str], Any]]

    @classmethod
    def build(cls, method: str, pattern: str, handler: Handler) -> Route:
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern must start with '/': {pattern!r}")
        converters: dict[str, Callable[[str], Any]] = {}
        regex, last = "^", 0
        for match in _PARAM.finditer(pattern):
            name, kind = match.group(1), match.group(2) or "str"
            if name in converters:
                raise ValueError(f"parameter {name!r} appears twice in {pattern!r}")
            regex += re.escape(pattern[last : match.start()]) + f"(?P<{name}>{_CONVERTERS[kind][0]})"
            converters[name] = _CONVERTERS[kind][1]
            last = match.end()
        regex += re.escape(pattern[last:]) + "$"
        return cls(method.upper(), pattern, handler, re.compile(regex), converters)

    def match(self, path: str) -> dict[str, Any] | None:
        found = self.regex.match(path)
        if found is None:
            return None
        return {k: self.converters[k](v) for k, v in found.groupdict().items()}


class Router:
    """Routes declared in one place, read top to bottom."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.middleware: list[Middleware] = []

    def use(self, middleware: Middleware) -> None:
        self.middleware.append(middleware)

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append(Route.build(method, pattern, handler))

    def route(self, pattern: str, methods: list[str]) -> Callable[[Handler], Handler]:
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
        """Serve `other`'s routes under `prefix` (its own middleware wraps only its routes)."""
        prefix = prefix.rstrip("/")
        for route in other.routes:
            handler = _wrap(route.handler, other.middleware)
            self.add(route.method, prefix + route.pattern, handler)

    def _endpoint(self) -> Next:
        async def endpoint(request: Request, ctx: Context) -> Response:
            path = path_of(request)
            method = method_of(request)
            allowed: set[str] = set()
            for route in self.routes:
                params = route.match(path)
                if params is None:
                    continue
                if route.method == method or (method == "HEAD" and route.method == "GET"):
                    ctx.params = params
                    return _to_response(await route.handler(request, ctx), ctx)
                allowed.add(route.method)
            if allowed:
                if "GET" in allowed:
                    allowed.add("HEAD")
                raise MethodNotAllowed(f"{method} is not allowed on {path}", allowed=sorted(allowed))
            raise NotFound(f"No route for {method} {path}")

        return endpoint

    async def handle(self, request: Request, env: Any, worker_ctx: Any = None) -> Response:
        """Run the middleware chain and the matching handler; `AppError`s become their envelope."""
        ctx = Context(env=env, worker_ctx=worker_ctx)
        chain = _wrap(self._endpoint(), self.middleware)
        try:
            return await chain(request, ctx)
        except AppError as err:
            return app_error_response(err, request_id=ctx.request_id)


def _wrap(endpoint: Callable[..., Awaitable[Any]], middleware: list[Middleware]) -> Any:
    call = endpoint
    for mw in reversed(middleware):
        call = _bind(mw, call)
    return call


def _bind(mw: Middleware, call_next: Next) -> Next:
    async def step(request: Request, ctx: Context) -> Response:
        return await mw(request, ctx, call_next)

    return step


def _to_response(result: Any, ctx: Context) -> Response:
    if isinstance(result, Response) or (hasattr(result, "js_object") and hasattr(result, "status")):
        return result
    return success_response(result, request_id=ctx.request_id)
