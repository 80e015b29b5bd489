"""Turn every exception into an error envelope: `AppError` as itself, anything else a generic 500."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable

from workers import Request, Response

from shared.envelope import app_error_response, error_response
from shared.errors import AppError, storage_error
from shared.logs import write_line
from shared.routing import Context, Next


class ErrorMiddleware:
    """Nothing of an unexpected exception reaches the client: it gets a 500 `INTERNAL_ERROR` envelope
    with a generic message and the request id, to quote when reporting it.

    The exception (type, message, a short traceback) is written to `sink` as one JSON line with
    that request id, for the operator. `AppError`s become their own envelope. A storage failure
    (read-only, full or failing storage, a query out of time: `shared.errors.storage_error`) is a
    503 `STORAGE_UNAVAILABLE` naming the problem, since the request itself may be fine.
    """

    def __init__(self, service: str, *, sink: Callable[[str], None] = write_line) -> None:
        if not service:
            raise ValueError("ErrorMiddleware needs the service name")
        self.service = service
        self.sink = sink

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        try:
            return await call_next(request, ctx)
        except AppError as err:
            return app_error_response(err, request_id=ctx.request_id)
        except Exception as exc:
            line = {
                "type": "error",
                "service": self.service,
                "request_id": ctx.request_id,
                "error": type(exc).__name__,
                "message": str(exc)[:500],
                "trace": traceback.format_exc(limit=8),
            }
            problem = storage_error(exc)
            if problem is not None:
                line["type"] = "storage_error"
                self.sink(json.dumps(line))
                return app_error_response(problem, request_id=ctx.request_id)
            self.sink(json.dumps(line))
            return error_response("INTERNAL_ERROR", "Internal server error", status=500, request_id=ctx.request_id)
