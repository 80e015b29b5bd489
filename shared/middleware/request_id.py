"""Request ids: honour a valid incoming `X-Request-ID`, else create one; echo it in the response."""

from __future__ import annotations

from workers import Request, Response

from shared.http import with_headers
from shared.ids import new_request_id, valid_request_id
from shared.routing import Context, Next

HEADER = "x-request-id"


class RequestIdMiddleware:
    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        incoming = request.headers.get(HEADER)
        ctx.request_id = incoming if valid_request_id(incoming) else new_request_id()
        response = await call_next(request, ctx)
        return await with_headers(response, {HEADER: ctx.request_id})
