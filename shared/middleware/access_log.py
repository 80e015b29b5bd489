"""One JSON line per request: method, path, status, duration, request id, principal. No secrets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from workers import Request, Response

from shared.http import method_of, path_of
from shared.routing import Context, Next


class AccessLogMiddleware:
    """Writes to `sink` (default: `print`, which Workers Logs and the local platform collect).

    The path is logged without its query string (queries can carry tokens); headers and bodies
    are never logged.
    """

    def __init__(self, service: str, *, sink: Callable[[str], None] = print) -> None:
        self.service = service
        self.sink = sink

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request, ctx)
            status = response.status
            return response
        finally:
            line = {
                "type": "access",
                "service": self.service,
                "request_id": ctx.request_id,
                "method": method_of(request),
                "path": path_of(request),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "principal": ctx.state.get("principal_id"),
            }
            self.sink(json.dumps(line, separators=(",", ":")))
