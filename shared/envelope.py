"""The one response envelope every service speaks.

Success: `{"success": true, "data": ..., "meta": {"request_id", "timestamp", ...extra}}`
Error:   `{"success": false, "error": {"code", "message", "details"}, "meta": {"request_id", "timestamp"}}`

`success()` / `failure()` build the dicts (for RPC results, tests, logs); `success_response()` /
`error_response()` / `app_error_response()` build the `workers.Response` (JSON, status,
`Cache-Control: no-store`: an envelope is per-request data and never cached by default).
A list endpoint adds `pagination_meta(...)` to `meta`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from workers import Response

from shared.clock import now_iso
from shared.errors import AppError

JSON_HEADERS = {"content-type": "application/json", "cache-control": "no-store"}

if sys.platform == "emscripten":  # Pyodide: the JS Response is made from one converted init object
    import js
    from pyodide.ffi import to_js as _to_js
else:  # the local runtime's Response is a Python object: Response.json as it is
    js = _to_js = None

#: JS ResponseInit objects with JSON_HEADERS, by status, made once per isolate (the Response copies them).
_INITS: dict[int, Any] = {}


def _meta(request_id: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"request_id": request_id, "timestamp": now_iso()}
    if extra:
        result.update({k: v for k, v in extra.items() if k not in result})  # request_id/timestamp are ours
    return result


def success(data: Any, *, request_id: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The success envelope as a dict. A pydantic model (or a list of them) as `data` is dumped to JSON types."""
    return {"success": True, "data": _plain(data), "meta": _meta(request_id, meta)}


def failure(
    code: str, message: str, *, details: Any = None, request_id: str | None = None, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The error envelope as a dict."""
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details},
        "meta": _meta(request_id, meta),
    }


def pagination_meta(
    *, page: int, limit: int, total: int | None = None, has_more: bool, next_cursor: str | None = None
) -> dict[str, Any]:
    """The `meta` keys of a list: `{"page", "limit", "total", "has_more", "next_cursor"}`."""
    return {"page": page, "limit": limit, "total": total, "has_more": has_more, "next_cursor": next_cursor}


def success_response(
    data: Any,
    *,
    status: int = 200,
    request_id: str | None = None,
    meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The success envelope as a JSON `Response` (200 unless `status` says otherwise)."""
    return json_response(success(data, request_id=request_id, meta=meta), status=status, headers=headers)


def error_response(
    code: str,
    message: str,
    *,
    status: int,
    details: Any = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error envelope as a JSON `Response` with `status` (4xx/5xx)."""
    if not 400 <= status <= 599:
        raise ValueError(f"an error response needs a 4xx or 5xx status, not {status}")
    body = failure(code, message, details=details, request_id=request_id)
    return json_response(body, status=status, headers=headers)


def app_error_response(err: AppError, *, request_id: str | None = None) -> Response:
    """The envelope for an `AppError`, with its status and the headers its kind calls for (Allow, Retry-After)."""
    headers = err.headers() | err.extra_headers
    return error_response(
        err.code, err.message, status=err.status, details=err.details, request_id=request_id, headers=headers
    )


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`Response.json(body, status=status, headers=JSON_HEADERS + headers)`: the same status, headers and body.

    Under Pyodide the SDK's `Response.json` converts the headers into a JS `Headers` pair by pair and its
    options into a JS object on every call (a fifth of a db read's time); here the JS `Response` is made from
    one init object, converted at once (and made once per status when no headers are added)."""
    all_headers = _headers(headers)
    if js is None:
        return Response.json(body, status=status, headers=all_headers)
    init = _INITS.get(status) if not headers else None
    try:
        if init is None:
            init = _to_js({"status": status, "headers": all_headers}, dict_converter=js.Object.fromEntries)
            if not headers:
                _INITS[status] = init
        return Response(js.Response.new(json.dumps(body), init))
    except Exception:  # what the SDK does with such a response (an impossible status, say) is what happens
        return Response.json(body, status=status, headers=all_headers)


def _plain(data: Any) -> Any:
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json")
    if isinstance(data, list) and data and hasattr(data[0], "model_dump"):
        return [item.model_dump(mode="json") if hasattr(item, "model_dump") else item for item in data]
    return data


def _headers(extra: dict[str, str] | None) -> dict[str, str]:
    headers = dict(JSON_HEADERS)
    if extra:
        headers.update({k.lower(): v for k, v in extra.items()})
    return headers
