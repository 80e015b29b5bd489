"""Small helpers on `workers.Request`/`Response` that behave the same under CPython and Pyodide."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from workers import Request, Response

if sys.platform == "emscripten":  # Pyodide: requests and responses made from one converted init object
    import js
    from pyodide.ffi import to_js as _to_js
else:  # the local runtime's Request and Response are Python objects, used as they are
    js = _to_js = None

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


def new_request(url: str, *, method: str, headers: Iterable[tuple[str, str]], body: bytes | None = None) -> Request:
    """`Request(url, method=method, headers=list(headers), body=body)`: the same request.

    Under Pyodide the SDK makes a JS `Headers` from the Python list, which JS walks pair by pair through
    proxies; a request without a body is made here from one init object converted at once instead."""
    if js is None or body is not None:
        return Request(url, method=method, headers=list(headers), body=body)
    pairs = [[name, value] for name, value in headers]
    return Request(
        js.Request.new(url, _to_js({"method": method, "headers": pairs}, dict_converter=js.Object.fromEntries))
    )


def merged(response: Response, headers: dict[str, str]) -> Response:
    """One new `Response` with `response`'s status, headers and body, and `headers` set over its headers.

    For a response from `fetch` (a service binding's, say), whose headers cannot change: the body is passed on
    as it is (its stream under Pyodide), neither read nor copied. A 101 keeps its WebSocket."""
    if js is not None and response.status != 101:
        return _merged_js(response, headers)
    replaced = {name.lower() for name in headers}
    pairs = [(name, value) for name, value in response.headers.items() if name.lower() not in replaced]
    pairs += headers.items()
    extra = {"web_socket": response.js_object.webSocket} if response.status == 101 else {}
    body = None if response.status in NULL_BODY_STATUSES else response.body  # locally an empty body is b""
    return Response(body, status=response.status, status_text=response.status_text, headers=pairs, **extra)


def _merged_js(response: Response, headers: dict[str, str]) -> Response:
    """`merged` under Pyodide: the JS headers copied in JS and `headers` set over them, no Python conversion
    of either (the SDK builds an `HTTPMessage` of the response's headers, then a `Headers` from a list)."""
    source = response.js_object
    copy = js.Headers.new(source.headers)
    for name, value in headers.items():
        copy.set(name, value)
    body = None if response.status in NULL_BODY_STATUSES else source.body
    init = {"status": response.status, "statusText": source.statusText, "headers": copy}
    return Response(js.Response.new(body, _to_js(init, dict_converter=js.Object.fromEntries)))
