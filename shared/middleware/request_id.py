"""Request ids: honour a valid incoming `X-Request-ID`, else keep the fresh one; echo it in the response."""

from __future__ import annotations

from workers import Request, Response

from shared.http import headers_of, with_headers
from shared.ids import new_request_id, valid_request_id
from shared.routing import Context, Next

HEADER = "x-request-id"
MAX_LOGGED = 128  # of a refused client id, in the access log


class RequestIdMiddleware:
    """Sets `ctx.request_id` and the response's `X-Request-ID`.

    An incoming id is adopted only if it looks like one (1-128 of `[A-Za-z0-9._:-]`): anything
    else (too long, spaces, markup, CR/LF) is replaced by a fresh `req_...` id, never echoed; the
    client's value (its first 128 characters) is kept in `ctx.state["client_request_id"]` for the
    access log, which writes it JSON-escaped. Put it first, so that every later middleware, log
    line and envelope carries the same id.
    """

    async def __call__(self, request: Request, ctx: Context, call_next: Next) -> Response:
        incoming = headers_of(request).get(HEADER)
        if valid_request_id(incoming):
            ctx.request_id = incoming
        else:
            if incoming:
                ctx.state["client_request_id"] = incoming[:MAX_LOGGED]
            if ctx.request_id is None:
                ctx.request_id = new_request_id()
        response = await call_next(request, ctx)
        return await with_headers(response, {HEADER: ctx.request_id})
