"""Small helpers on `workers.Request`/`Response` that behave the same under CPython and Pyodide."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from workers import Request, Response


def path_of(request: Request) -> str:
    return urlsplit(request.url).path or "/"


def query_of(request: Request) -> dict[str, str]:
    """Query parameters (the last value wins for repeated names)."""
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def method_of(request: Request) -> str:
    method = request.method
    return method.value if hasattr(method, "value") else str(method).upper()


async def with_headers(response: Response, headers: dict[str, str]) -> Response:
    """`response` with `headers` set. Responses from `fetch` have immutable headers: those are copied."""
    try:
        target = response.js_object.headers
        for name, value in headers.items():
            target.set(name, value)
        return response
    except Exception:  # immutable headers (a fetched response): build a copy
        merged = [(k, v) for k, v in response.headers.items() if k.lower() not in {h.lower() for h in headers}]
        merged += list(headers.items())
        body = await response.bytes()
        return Response(body or None, status=response.status, headers=merged)
