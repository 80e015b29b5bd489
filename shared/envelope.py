"""The one response envelope every service speaks.

Success: `{"success": true, "data": ..., "meta": {"request_id", "timestamp", ...}}`
Error:   `{"success": false, "error": {"code", "message", "details"}, "meta": {"request_id", "timestamp"}}`
"""

from __future__ import annotations

import datetime
from typing import Any

from workers import Response

from shared.errors import AppError


def _meta(request_id: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if extra:
        meta.update(extra)
    return meta


def success(data: Any, *, request_id: str | None = None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": _meta(request_id, meta)}


def failure(
    code: str, message: str, *, details: Any = None, request_id: str | None = None, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details},
        "meta": _meta(request_id, meta),
    }


def pagination_meta(
    *, page: int, limit: int, total: int | None, has_more: bool, next_cursor: str | None = None
) -> dict[str, Any]:
    return {"page": page, "limit": limit, "total": total, "has_more": has_more, "next_cursor": next_cursor}


def success_response(
    data: Any,
    *,
    status: int = 200,
    request_id: str | None = None,
    meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response.json(success(data, request_id=request_id, meta=meta), status=status, headers=_headers(headers))


def error_response(
    code: str,
    message: str,
    *,
    status: int,
    details: Any = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = failure(code, message, details=details, request_id=request_id)
    return Response.json(body, status=status, headers=_headers(headers))


def app_error_response(err: AppError, *, request_id: str | None = None) -> Response:
    """The envelope for an `AppError`, with the headers its kind calls for (Allow, Retry-After)."""
    headers: dict[str, str] = {}
    allowed = getattr(err, "allowed", None)
    if allowed:
        headers["allow"] = ", ".join(allowed)
    retry_after = getattr(err, "retry_after", None)
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return error_response(
        err.code, err.message, status=err.status, details=err.details, request_id=request_id, headers=headers
    )


def _headers(extra: dict[str, str] | None) -> dict[str, str]:
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    if extra:
        headers.update({k.lower(): v for k, v in extra.items()})
    return headers
