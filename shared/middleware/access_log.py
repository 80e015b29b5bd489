"""One JSON line per request: method, path, status, duration, request id, principal. No secrets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from workers import Request, Response

from shared.http import method_of, path_of
from shared.logs import write_line
from shared.routing import Context, Next


class AccessLogMiddleware:
    """Writes one line per request to `sink` (default: the worker's log, `shared.logs.write_line`).

        {"type":"access","service":"orders","request_id":"req_...","method":"GET","path":"/items",
         "status":200,"duration_ms":3.2,"principal":"usr_..."}

    `principal` is `ctx.state["principal_id"]` when authentication set it; `client_request_id` is
    the client's own `X-Request-ID` when it was refused as an id (see `RequestIdMiddleware`). The path is logged
    without its query string (queries can carry tokens); headers (Authorization, Cookie) and
    bodies are never logged. Put it after `RequestIdMiddleware` and before `ErrorMiddleware`,
    so the line has the request id and the final status (500 included).
    """

    def __init__(self, service: str, *, sink: Callable[[str], None] = write_line) -> None:
        if not service:
            raise ValueError("AccessLogMiddleware needs the service name")
        self.service = service
        self.sink = sink

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        started = time.perf_counter()
        status = 500  # if call_next raises, the client gets a 500 from further out
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
            if "client_request_id" in ctx.state:  # a client id RequestIdMiddleware refused to adopt
                line["client_request_id"] = ctx.state["client_request_id"]
            self.sink(json.dumps(line, separators=(",", ":")))
