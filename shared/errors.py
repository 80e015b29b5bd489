"""Errors a service raises on purpose: each carries an HTTP status and a machine-readable code.

Across a service-binding RPC call only an exception's message survives (Cloudflare turns the
exception into a JS Error). `to_rpc_message` packs code, status, message and details into that
message; `from_rpc_exception` unpacks it on the caller's side, so an `AppError` raised by the
db service is the same `AppError` in the gateway.
"""

from __future__ import annotations

import json
from typing import Any

RPC_MARKER = "dotdo-error:"


class AppError(Exception):
    """An error with a status and a code, answered as the error envelope."""

    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.status}, {self.message!r})"


class BadRequest(AppError):
    status, code = 400, "BAD_REQUEST"


class ValidationError(AppError):
    status, code = 400, "VALIDATION_ERROR"


class InvalidJSON(AppError):
    status, code = 400, "INVALID_JSON"


class Unauthorized(AppError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(AppError):
    status, code = 403, "FORBIDDEN"


class NotFound(AppError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowed(AppError):
    status, code = 405, "METHOD_NOT_ALLOWED"

    def __init__(self, message: str, *, allowed: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.allowed = sorted(allowed)


class Conflict(AppError):
    status, code = 409, "CONFLICT"


class PayloadTooLarge(AppError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(AppError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalError(AppError):
    status, code = 500, "INTERNAL_ERROR"


class UpstreamError(AppError):
    status, code = 502, "UPSTREAM_ERROR"


class ServiceUnavailable(AppError):
    status, code = 503, "SERVICE_UNAVAILABLE"


def to_rpc_message(err: AppError) -> str:
    """The message an RPC method raises so that the caller can rebuild the `AppError`."""
    payload = {"code": err.code, "status": err.status, "message": err.message, "details": err.details}
    return RPC_MARKER + json.dumps(payload, separators=(",", ":"), default=str)


def rpc_error(err: AppError) -> Exception:
    """An exception to raise from an RPC method in place of `err` (its message carries `err`)."""
    return Exception(to_rpc_message(err))


def from_rpc_exception(exc: BaseException, *, service: str = "upstream") -> AppError:
    """Rebuild the `AppError` a called service raised; anything else becomes a 502 without internals.

    Tolerates what the message gains on its way: an "Error: " prefix, or Pyodide's
    "PythonError: Traceback ... <ExcType>: <message>" (the last line is taken).
    """
    if isinstance(exc, AppError):
        return exc
    text = str(exc)
    start = text.rfind(RPC_MARKER)
    if start != -1:
        raw = text[start + len(RPC_MARKER) :].strip().splitlines()[0] if text[start:].strip() else ""
        try:
            data = json.loads(raw)
            return AppError(
                str(data["message"]), code=str(data["code"]), status=int(data["status"]), details=data.get("details")
            )
        except (ValueError, KeyError, TypeError):
            pass
    return UpstreamError(f"The {service} service failed")
