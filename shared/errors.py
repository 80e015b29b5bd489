"""Errors a service raises on purpose: each carries an HTTP status and a machine-readable code.

    raise NotFound(f"No item {id}", details={"id": id})       # -> 404 {"code": "NOT_FOUND", ...}
    raise AppError("Quota used up", code="QUOTA_EXCEEDED", status=429)

Across a service-binding RPC call only an exception's message survives (Cloudflare turns the
exception into a JS `Error`, and the caller sees an exception whose text contains that message).
`to_rpc_message` packs the error into that message as a fixed marker followed by one line of JSON:

    dotdo-error:{"code":"NOT_FOUND","status":404,"message":"No item x","details":{"id":"x"}}

(plus `retry_after` / `allowed` for the errors that carry them). `from_rpc_exception` finds it
again on the caller's side, whatever the runtime wrapped around it ("Error: ...", or Pyodide's
"PythonError: Traceback ... <ExcType>: <message>", where the last line holds the message), and
rebuilds the same class (`NotFound` stays `NotFound`). Anything else becomes a 502
`UPSTREAM_ERROR` whose message names the service but carries none of the original text.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

RPC_MARKER = "dotdo-error:"
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class AppError(Exception):
    """An error with a status and a code, answered as the error envelope.

    Subclasses fix `status` and `code`; `code=`/`status=` override them for one raise.
    `details` is JSON-serialisable data for the client (field errors, ids): never internals.
    """

    status: int = 500
    code: str = "INTERNAL_ERROR"
    #: Extra attributes that travel across RPC with the error (set by subclasses that have them).
    rpc_fields: tuple[str, ...] = ()

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details
        #: Headers for this one answer (e.g. X-RateLimit-*), besides those of its kind. Not sent over RPC.
        self.extra_headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.status}, {self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """The `error` object of the envelope: `{"code", "message", "details"}`."""
        return {"code": self.code, "message": self.message, "details": self.details}

    def headers(self) -> dict[str, str]:
        """HTTP headers this error calls for (`Allow`, `Retry-After`); none by default."""
        return {}


class BadRequest(AppError):
    status, code = 400, "BAD_REQUEST"


class ValidationError(AppError):
    """Input that parsed but is not valid; `details` lists `{"field", "message", "type"}`."""

    status, code = 400, "VALIDATION_ERROR"


class InvalidJSON(AppError):
    status, code = 400, "INVALID_JSON"


class Unauthorized(AppError):
    """401 with `WWW-Authenticate: Bearer ...` (RFC 6750), which every 401 must carry."""

    status, code = 401, "UNAUTHORIZED"

    def headers(self) -> dict[str, str]:
        if self.code in ("INVALID_TOKEN", "TOKEN_EXPIRED", "INVALID_API_KEY"):
            return {"www-authenticate": 'Bearer realm="dotdo", error="invalid_token"'}
        return {"www-authenticate": 'Bearer realm="dotdo"'}


class Forbidden(AppError):
    status, code = 403, "FORBIDDEN"


class NotFound(AppError):
    status, code = 404, "NOT_FOUND"


class MethodNotAllowed(AppError):
    status, code = 405, "METHOD_NOT_ALLOWED"
    rpc_fields = ("allowed",)

    def __init__(self, message: str, *, allowed: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.allowed = sorted(allowed)

    def headers(self) -> dict[str, str]:
        return {"allow": ", ".join(self.allowed)} if self.allowed else {}


class Conflict(AppError):
    status, code = 409, "CONFLICT"


class PayloadTooLarge(AppError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(AppError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(AppError):
    """429 with `Retry-After: <retry_after seconds>`."""

    status, code = 429, "RATE_LIMITED"
    rpc_fields = ("retry_after",)

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = max(0, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


class InternalError(AppError):
    status, code = 500, "INTERNAL_ERROR"


class UpstreamError(AppError):
    """A service this one depends on failed (502)."""

    status, code = 502, "UPSTREAM_ERROR"


class ServiceUnavailable(AppError):
    status, code = 503, "SERVICE_UNAVAILABLE"


class StorageUnavailable(AppError):
    """The storage behind a service cannot take the operation (read-only, full, failing, too slow): 503."""

    status, code = 503, "STORAGE_UNAVAILABLE"


#: How SQLite (local D1, Durable Object storage, KV and Queues on SQLite files) and D1 name storage
#: failures that are the operator's to fix, not the request's: markers searched in the error's text.
STORAGE_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("SQLITE_READONLY", "readonly database", "read-only file system"), "The storage is read-only"),
    (("SQLITE_FULL", "database or disk is full", "No space left on device"), "The storage is full"),
    (
        ("SQLITE_IOERR", "disk I/O error", "SQLITE_CANTOPEN", "unable to open database file"),
        "The storage cannot be read or written",
    ),
    (("Query timed out", "SQLITE_INTERRUPT"), "A storage query ran out of time"),
)


def storage_error(exc: BaseException) -> StorageUnavailable | None:
    """A 503 `STORAGE_UNAVAILABLE` naming the problem when `exc` is a storage failure, else None.

    The problem is also remembered (per isolate) for `recent_storage_problem`: a full disk shows
    only when a write needs space, so a health check reports the last failure it did not see itself.
    """
    text = str(exc)
    for markers, message in STORAGE_PROBLEMS:
        if any(marker in text for marker in markers):
            _LAST_STORAGE_PROBLEM[:] = [time.time(), message]
            return StorageUnavailable(message)
    return None


_LAST_STORAGE_PROBLEM: list[Any] = []


def recent_storage_problem(within: float = 60.0) -> dict[str, Any] | None:
    """The last storage problem this isolate met in the past `within` seconds: `{problem, seconds_ago}`."""
    if not _LAST_STORAGE_PROBLEM:
        return None
    at, message = _LAST_STORAGE_PROBLEM
    ago = time.time() - at
    return {"problem": message, "seconds_ago": round(ago, 1)} if 0 <= ago <= within else None


_CLASSES: dict[str, type[AppError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        ValidationError,
        InvalidJSON,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        InternalError,
        UpstreamError,
        ServiceUnavailable,
        StorageUnavailable,
    )
}


_BY_STATUS: dict[int, type[AppError]] = {}
for _cls in _CLASSES.values():
    if not _cls.rpc_fields:
        _BY_STATUS.setdefault(_cls.status, _cls)


def to_rpc_message(err: AppError) -> str:
    """The message an RPC method raises so that the caller can rebuild `err` (one line: marker + JSON)."""
    payload: dict[str, Any] = {"code": err.code, "status": err.status, "message": err.message, "details": err.details}
    for name in err.rpc_fields:
        payload[name] = getattr(err, name, None)
    return RPC_MARKER + json.dumps(payload, separators=(",", ":"), default=str)


def rpc_error(err: AppError) -> Exception:
    """An exception to raise from an RPC method in place of `err` (its message carries `err`)."""
    return Exception(to_rpc_message(err))


def from_rpc_exception(exc: BaseException, *, service: str = "upstream") -> AppError:
    """Rebuild the `AppError` a called service raised; anything else becomes a 502 without internals.

    The message is searched from its last line up, so a traceback above it (Pyodide's
    "PythonError: Traceback ...") or a prefix ("Error: ", "Exception: ") does not matter.
    """
    if isinstance(exc, AppError):
        return exc
    for line in reversed(str(exc).splitlines()):
        payload = _payload(line)
        if payload is not None:
            return _rebuild(payload)
    return UpstreamError(f"The {service} service failed")


def _payload(line: str) -> dict[str, Any] | None:
    """The first well-formed error payload on `line`, if any."""
    decoder = json.JSONDecoder()
    start = line.find(RPC_MARKER)
    while start != -1:
        try:
            data, _ = decoder.raw_decode(line, start + len(RPC_MARKER))
        except ValueError:
            data = None
        if (
            isinstance(data, dict)
            and isinstance(data.get("code"), str)
            and _CODE.match(data["code"])
            and type(data.get("status")) is int
            and 400 <= data["status"] <= 599
            and isinstance(data.get("message"), str)
        ):
            return data
        start = line.find(RPC_MARKER, start + 1)
    return None


def _rebuild(data: dict[str, Any]) -> AppError:
    code, status, message, details = data["code"], data["status"], data["message"], data.get("details")
    cls = _CLASSES.get(code)
    if cls is not None and cls.status == status:
        extra = {name: data[name] for name in cls.rpc_fields if data.get(name) is not None}
        if len(extra) == len(cls.rpc_fields) and not isinstance(extra.get("allowed", []), str):
            try:
                return cls(message, details=details, **extra)
            except (TypeError, ValueError):
                pass  # a malformed extra field: fall back to the plain error below
    # A code of the service's own (INVALID_TOKEN): the class of its status, so that `isinstance`
    # and the headers of that kind (WWW-Authenticate on a 401) still apply.
    by_status = _BY_STATUS.get(status, AppError)
    return by_status(message, code=code, status=status, details=details)
