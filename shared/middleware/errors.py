"""Turn every exception into an error envelope: `AppError` as itself, anything else a generic 500."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable

from workers import Request, Response

from shared.envelope import app_error_response, error_response
from shared.errors import AppError
from shared.routing import Context, Next


class ErrorMiddleware:
    """Nothing of an unexpected exception reaches the client; it is logged with the request id."""

    def __init__(self, service: str, *, sink: Callable[[str], None] = print) -> None:
        self.service = service
        self.sink = sink

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        try:
            return await call_next(request, ctx)
        except AppError as err:
            return app_error_response(err, request_id=ctx.request_id)
        except Exception as exc:
            self.sink(
                json.dumps(
                    {
                        "type": "error",
                        "service": self.service,
                        "request_id": ctx.request_id,
                        "error": type(exc).__name__,
                        "message": str(exc)[:500],
                        "trace": traceback.format_exc(limit=8),
                    }
                )
            )
            return error_response("INTERNAL_ERROR", "Internal server error", status=500, request_id=ctx.request_id)
