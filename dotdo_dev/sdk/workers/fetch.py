"""`fetch`: outbound HTTP from a worker. Locally it makes real HTTP requests through httpx."""

from __future__ import annotations

from http import HTTPMethod
from typing import Any, Unpack

from pyodide.http import fetch_failed

from .request import Request
from .response import Response
from .types import FetchKwargs

_client: Any = None
_client_loop: Any = None


def _http_client():
    """One pooled client per worker process and event loop, like the runtime's connection pool. A client
    made on another loop (a test's, since closed) holds connections that loop owned: it is not reused."""
    global _client, _client_loop
    import asyncio

    import httpx

    loop = asyncio.get_running_loop()
    if _client is None or _client.is_closed or _client_loop is not loop:
        _client = httpx.AsyncClient(timeout=httpx.Timeout(30.0), trust_env=False)
        _client_loop = loop
    return _client


async def fetch(resource: str | Request, **other_options: Unpack[FetchKwargs]) -> Response:
    """Send `resource` (a URL or a `Request`) and return the `Response`.

    `fetcher=` routes the request to a binding (a service binding or a dispatch-namespace worker)
    instead of the network, as the real SDK does.
    """
    if "method" in other_options and isinstance(other_options["method"], HTTPMethod):
        other_options["method"] = other_options["method"].value
    fetcher = other_options.pop("fetcher", None)
    request = resource if isinstance(resource, Request) and not other_options else Request(resource, **other_options)
    if fetcher is not None:
        return Response(await fetcher(request))
    if (request.headers.get("upgrade") or "").lower() == "websocket":
        return await _websocket(request)
    import httpx

    client = _http_client()
    follow = request.redirect != "manual"
    try:
        reply = await client.request(
            request.method.value,
            request.url,
            headers=list(request._headers),
            content=request.body,
            follow_redirects=follow,
        )
    except httpx.TransportError as error:  # Pyodide's pyfetch: `except JsException as e: raise AbortError(e) from None`
        raise fetch_failed(request.url, error) from None
    if request.redirect == "error" and reply.is_redirect:
        raise OSError(f"redirect mode is 'error' and {request.url} redirected")
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply.headers.raw]
    # httpx has already decoded the body, so the encoding headers no longer describe it.
    headers = [
        (k, v) for k, v in headers if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    return Response._from_parts(str(reply.url), reply.status_code, reply.reason_phrase, headers, reply.content)


async def _websocket(request: Request) -> Response:
    """A fetch carrying `Upgrade: websocket`, as workerd makes it: a 101 whose `js_object.webSocket` is the
    connection (to `accept()` before use); any other answer as it is; no connection: `fetch_failed`."""
    from urllib.parse import urlsplit

    from js._websocket import join_network

    from dotdo_dev.runtime.websocket_wire import HANDSHAKE_HEADERS, connect

    parts = urlsplit(request.url)
    tls = parts.scheme in ("https", "wss")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("host", parts.netloc), *((k, v) for k, v in request._headers if k != "host")]
    try:
        answer = await connect(path, headers, host=parts.hostname, port=parts.port or (443 if tls else 80), tls=tls)
    except (OSError, TimeoutError, ValueError) as error:
        raise fetch_failed(request.url, error) from None
    kept = [(k, v) for k, v in answer.headers if k not in HANDSHAKE_HEADERS]
    response = Response._from_parts(request.url, answer.status, answer.reason, kept, answer.body or None)
    if answer.connection is not None:
        protocol = dict(answer.headers).get("sec-websocket-protocol", "")
        response.js_response.webSocket = join_network(answer.connection, request.url, protocol)
    return response
