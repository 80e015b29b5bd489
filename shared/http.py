"""Small helpers on `workers.Request`/`Response` that behave the same under CPython and Pyodide."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from workers import Request, Response

#: Statuses whose responses have no body (a Response with one, even empty, cannot be made).
NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})


def path_of(request: Request) -> str:
    return urlsplit(request.url).path or "/"


def query_of(request: Request) -> dict[str, str]:
    """Query parameters (the last value wins for repeated names)."""
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def headers_of(request: Request) -> Any:
    """The request's headers (an `HTTPMessage`: `.get(name)`, case-insensitive), made once per request.

    The SDK builds them from the JavaScript headers on every `request.headers` access under Pyodide; the
    middleware of one request asks three or four times. The first answer is kept on the request."""
    try:
        return request._dotdo_headers  # type: ignore[attr-defined]
    except AttributeError:
        pass
    headers = request.headers
    with contextlib.suppress(AttributeError):  # a Request that takes no attributes: converted each time
        request._dotdo_headers = headers  # type: ignore[attr-defined]
    return headers


def method_of(request: Request) -> str:
    method = request.method
    return method.value if hasattr(method, "value") else str(method).upper()


async def with_headers(response: Response, headers: dict[str, str]) -> Response:
    """`response` with `headers` set: in place when its headers can change (a response this worker built),
    else (a response from `fetch`, whose headers are immutable) one new `Response` made by `merged`."""
    target = response.js_object.headers
    try:
        for name, value in headers.items():
            target.set(name, value)
    except Exception:  # immutable headers (a fetched response): the first `set` refuses, nothing was changed
        return merged(response, headers)
    return response


def merged(response: Response, headers: dict[str, str]) -> Response:
    """One new `Response` with `response`'s status, headers and body, and `headers` set over its headers.

    For a response from `fetch` (a service binding's, say), whose headers cannot change: the body is passed on
    as it is (its stream under Pyodide), neither read nor copied. A 101 keeps its WebSocket."""
    replaced = {name.lower() for name in headers}
    pairs = [(name, value) for name, value in response.headers.items() if name.lower() not in replaced]
    pairs += headers.items()
    extra = {"web_socket": response.js_object.webSocket} if response.status == 101 else {}
    body = None if response.status in NULL_BODY_STATUSES else response.body  # locally an empty body is b""
    return Response(body, status=response.status, status_text=response.status_text, headers=pairs, **extra)
