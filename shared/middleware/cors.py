"""CORS for configured origins. Preflights are answered here, before authentication and routing."""

from __future__ import annotations

from collections.abc import Sequence

from workers import Request, Response

from shared.envelope import error_response
from shared.http import headers_of, method_of, with_headers
from shared.routing import METHODS, Context, Next

DEFAULT_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_HEADERS = ("authorization", "content-type", "x-request-id", "mcp-protocol-version")


class CORSMiddleware:
    """Cross-origin access for a list of exact origins (`https://app.example.com`), or `["*"]`.

    A request from an allowed origin gets `Access-Control-Allow-Origin` with that one origin and
    `Vary: Origin`: never several origins joined (browsers accept exactly one, and reject the
    response otherwise). A request from any other origin gets no CORS headers at all.

    A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered right here with 204
    and the allowed methods, headers and max-age, so put this middleware before authentication:
    browsers never send credentials on a preflight. A preflight from an origin that is not
    allowed gets a 403 envelope, without CORS headers.

    `origins` may also be one comma-separated string (e.g. from a `CORS_ORIGINS` variable).
    `"*"` cannot be combined with `credentials=True`.
    """

    def __init__(
        self,
        origins: Sequence[str] | str,
        *,
        methods: Sequence[str] = DEFAULT_METHODS,
        headers: Sequence[str] = DEFAULT_HEADERS,
        max_age: int = 600,
        credentials: bool = False,
        expose: Sequence[str] = ("x-request-id",),
    ) -> None:
        if isinstance(origins, str):
            origins = [o.strip() for o in origins.split(",") if o.strip()]
        origins = list(origins)
        if not origins:
            raise ValueError("CORSMiddleware needs at least one origin (or ['*'])")
        for origin in origins:
            if origin == "*":
                continue
            scheme, sep, host = origin.partition("://")
            if not sep or scheme not in ("http", "https") or not host or any(c in host for c in "/ ,*?#"):
                raise ValueError(
                    f"invalid CORS origin {origin!r}: use scheme://host[:port], without path or trailing slash"
                )
        if "*" in origins and credentials:
            raise ValueError("CORS: '*' cannot be combined with credentials; list the origins")
        unknown = {m.upper() for m in methods} - set(METHODS)
        if unknown:
            raise ValueError(f"unknown CORS methods {sorted(unknown)}: use {', '.join(METHODS)}")
        if not 0 <= max_age <= 86400:
            raise ValueError(f"CORS max_age must be 0-86400 seconds, not {max_age}")
        self.any_origin = "*" in origins
        self.origins = frozenset(o.lower() for o in origins)
        self.methods = ", ".join(m.upper() for m in methods)
        self.allow_headers = ", ".join(h.lower() for h in headers)
        self.max_age = str(max_age)
        self.credentials = credentials
        self.expose = ", ".join(h.lower() for h in expose)

    def allows(self, origin: str | None) -> bool:
        """Whether `origin` (the request's `Origin` header) may read responses."""
        return bool(origin) and (self.any_origin or origin.lower() in self.origins)

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        origin = headers_of(request).get("origin")
        if method_of(request) == "OPTIONS" and headers_of(request).get("access-control-request-method"):
            return self._preflight(origin, ctx)
        response = await call_next(request, ctx)
        if not origin:
            return response
        extra: dict[str, str] = {}
        if not self.any_origin:  # the answer depends on Origin: caches must key on it
            extra["vary"] = _vary_with_origin(response.headers.get("vary"))
        if self.allows(origin):
            extra |= self._allow(origin)
            if self.expose:
                extra["access-control-expose-headers"] = self.expose
        return await with_headers(response, extra) if extra else response

    def _preflight(self, origin: str | None, ctx: Context) -> Response:
        if not self.allows(origin):
            return error_response(
                "CORS_FORBIDDEN",
                "Origin not allowed",
                status=403,
                request_id=ctx.request_id,
                headers={"vary": "Origin"},
            )
        headers = self._allow(origin) | {
            "access-control-allow-methods": self.methods,
            "access-control-allow-headers": self.allow_headers,
            "access-control-max-age": self.max_age,
            "vary": "Origin",
        }
        return Response(None, status=204, headers=headers)

    def _allow(self, origin: str) -> dict[str, str]:
        headers = {"access-control-allow-origin": "*" if self.any_origin else origin}
        if self.credentials:
            headers["access-control-allow-credentials"] = "true"
        return headers


def _vary_with_origin(current: str | None) -> str:
    if not current:
        return "Origin"
    if any(part.strip().lower() in ("origin", "*") for part in current.split(",")):
        return current
    return f"{current}, Origin"
