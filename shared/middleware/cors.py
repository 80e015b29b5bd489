"""CORS for configured origins. Preflights are answered here, before authentication and routing."""

from __future__ import annotations

from workers import Request, Response

from shared.envelope import error_response
from shared.http import method_of, with_headers
from shared.routing import Context, Next

DEFAULT_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_HEADERS = ("authorization", "content-type", "x-request-id")


class CORSMiddleware:
    """`origins` is a list of exact origins (`https://app.example.com`) or `["*"]`.

    A request from an allowed origin gets `Access-Control-Allow-Origin` with that one origin and
    `Vary: Origin` (never a list: browsers accept exactly one). `*` cannot be combined with
    credentials.
    """

    def __init__(
        self,
        origins: list[str],
        *,
        methods: tuple[str, ...] = DEFAULT_METHODS,
        headers: tuple[str, ...] = DEFAULT_HEADERS,
        max_age: int = 600,
        credentials: bool = False,
        expose: tuple[str, ...] = ("x-request-id",),
    ) -> None:
        if not origins:
            raise ValueError("CORSMiddleware needs at least one origin (or ['*'])")
        for origin in origins:
            if origin != "*" and ("://" not in origin or origin.endswith("/")):
                raise ValueError(f"invalid CORS origin {origin!r}: use scheme://host[:port] without a trailing slash")
        if "*" in origins and credentials:
            raise ValueError("CORS: '*' cannot be combined with credentials")
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)
        self.methods = ", ".join(m.upper() for m in methods)
        self.allow_headers = ", ".join(h.lower() for h in headers)
        self.max_age = str(max_age)
        self.credentials = credentials
        self.expose = ", ".join(expose)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (self.any_origin or origin in self.origins)

    def _base(self, origin: str) -> dict[str, str]:
        headers = {"access-control-allow-origin": "*" if self.any_origin else origin}
        if not self.any_origin:
            headers["vary"] = "Origin"
        if self.credentials:
            headers["access-control-allow-credentials"] = "true"
        return headers

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        origin = request.headers.get("origin")
        preflight = method_of(request) == "OPTIONS" and request.headers.get("access-control-request-method")
        if preflight:
            if not self.allows(origin):
                return error_response("CORS_FORBIDDEN", "Origin not allowed", status=403, request_id=ctx.request_id)
            headers = self._base(origin) | {
                "access-control-allow-methods": self.methods,
                "access-control-allow-headers": self.allow_headers,
                "access-control-max-age": self.max_age,
            }
            return Response(None, status=204, headers=headers)
        response = await call_next(request, ctx)
        if not self.allows(origin):
            return response
        extra = self._base(origin)
        if self.expose:
            extra["access-control-expose-headers"] = self.expose
        return await with_headers(response, extra)
