"""The error hierarchy, and AppErrors crossing a service-binding RPC call as a message."""

import json

import pytest

from shared.errors import (
    RPC_MARKER,
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    InternalError,
    InvalidJSON,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamError,
    ValidationError,
    from_rpc_exception,
    rpc_error,
    to_rpc_message,
)


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (BadRequest, 400, "BAD_REQUEST"),
        (ValidationError, 400, "VALIDATION_ERROR"),
        (InvalidJSON, 400, "INVALID_JSON"),
        (Unauthorized, 401, "UNAUTHORIZED"),
        (Forbidden, 403, "FORBIDDEN"),
        (NotFound, 404, "NOT_FOUND"),
        (Conflict, 409, "CONFLICT"),
        (PayloadTooLarge, 413, "PAYLOAD_TOO_LARGE"),
        (UnsupportedMediaType, 415, "UNSUPPORTED_MEDIA_TYPE"),
        (InternalError, 500, "INTERNAL_ERROR"),
        (UpstreamError, 502, "UPSTREAM_ERROR"),
        (ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_each_kind_has_its_status_and_code(cls, status, code):
    err = cls("message", details={"k": 1})
    assert isinstance(err, AppError)
    assert (err.status, err.code, err.message, err.details) == (status, code, "message", {"k": 1})
    assert err.to_dict() == {"code": code, "message": "message", "details": {"k": 1}}
    assert str(err) == "message"
    assert err.headers() == ({"www-authenticate": 'Bearer realm="dotdo"'} if cls is Unauthorized else {})


def test_code_and_status_can_be_overridden_per_raise():
    err = NotFound("No order", code="ORDER_NOT_FOUND")
    assert (err.status, err.code) == (404, "ORDER_NOT_FOUND")
    assert AppError("quota", code="QUOTA", status=429).status == 429
    assert AppError("boom").status == 500


def test_errors_with_headers():
    assert RateLimited("slow", retry_after=12).headers() == {"retry-after": "12"}
    assert MethodNotAllowed("no", allowed=["PUT", "GET"]).headers() == {"allow": "GET, PUT"}


# -- across RPC --------------------------------------------------------------------------------------


def test_the_message_is_one_line_marker_and_json():
    message = to_rpc_message(NotFound("No thing\nx", details={"id": "x"}))
    assert message.startswith(RPC_MARKER)
    assert "\n" not in message
    assert json.loads(message[len(RPC_MARKER) :]) == {
        "code": "NOT_FOUND",
        "status": 404,
        "message": "No thing\nx",
        "details": {"id": "x"},
    }


def test_round_trip_rebuilds_the_same_class():
    back = from_rpc_exception(Exception(to_rpc_message(NotFound("No thing x", details={"id": "x"}))))
    assert type(back) is NotFound
    assert (back.code, back.status, back.message, back.details) == ("NOT_FOUND", 404, "No thing x", {"id": "x"})


def test_round_trip_keeps_retry_after_and_allow():
    limited = from_rpc_exception(rpc_error(RateLimited("slow down", retry_after=7)))
    assert type(limited) is RateLimited
    assert limited.headers() == {"retry-after": "7"}
    wrong = from_rpc_exception(rpc_error(MethodNotAllowed("no", allowed=["GET"])))
    assert type(wrong) is MethodNotAllowed
    assert wrong.allowed == ["GET"]


def test_custom_codes_come_back_as_app_errors():
    back = from_rpc_exception(rpc_error(AppError("quota", code="QUOTA_EXCEEDED", status=429, details=[1])))
    assert type(back) is AppError
    assert (back.code, back.status, back.details) == ("QUOTA_EXCEEDED", 429, [1])
    overridden = from_rpc_exception(rpc_error(NotFound("x", code="ORDER_NOT_FOUND")))
    assert (overridden.code, overridden.status) == ("ORDER_NOT_FOUND", 404)
    assert isinstance(overridden, NotFound)  # a service's own code keeps the kind of its status


def test_a_401_with_its_own_code_still_asks_for_credentials():
    back = from_rpc_exception(rpc_error(Unauthorized("expired", code="TOKEN_EXPIRED")))
    assert isinstance(back, Unauthorized)
    assert back.code == "TOKEN_EXPIRED"
    assert back.headers() == {"www-authenticate": 'Bearer realm="dotdo", error="invalid_token"'}


PYODIDE_TRACEBACK = """PythonError: Traceback (most recent call last):
  File "/lib/python3.14/site-packages/workers/_workers.py", line 1012, in wrapper
    return await method(*args, **kwargs)
  File "/session/metadata/shared/rpc.py", line 31, in wrapper
    raise rpc_error(err) from None
Exception: {message}
"""


@pytest.mark.parametrize(
    "wrap",
    [
        lambda m: m,
        lambda m: f"Error: {m}",
        lambda m: f"Exception: {m}",
        lambda m: f"Error: Exception: {m}",
        lambda m: PYODIDE_TRACEBACK.format(message=m),
        lambda m: "Error: " + PYODIDE_TRACEBACK.format(message=m),
        lambda m: f"{m}\n    at Object.fetch (worker.js:12:3)",
    ],
    ids=["bare", "js-error", "python-exception", "both", "pyodide", "js-wrapped-pyodide", "js-stack-after"],
)
def test_round_trip_survives_what_the_runtime_adds(wrap):
    message = to_rpc_message(Conflict("already exists", details={"id": "itm_1"}))
    back = from_rpc_exception(Exception(wrap(message)))
    assert (back.code, back.status, back.message, back.details) == ("CONFLICT", 409, "already exists", {"id": "itm_1"})


def test_the_last_line_wins_over_a_marker_earlier_in_a_traceback():
    earlier = to_rpc_message(NotFound("inner"))
    text = f"PythonError: Traceback ...\n  raise Exception('{earlier}')\nException: {to_rpc_message(Conflict('outer'))}"
    assert from_rpc_exception(Exception(text)).code == "CONFLICT"


def test_a_message_that_quotes_another_error_still_parses():
    inner = to_rpc_message(NotFound("inner"))
    outer = to_rpc_message(UpstreamError(f"db said: {inner}"))
    back = from_rpc_exception(Exception(f"Error: {outer}"))
    assert (back.code, back.message) == ("UPSTREAM_ERROR", f"db said: {inner}")


def test_unknown_exceptions_become_502_without_internals():
    back = from_rpc_exception(RuntimeError("connection string postgres://user:pw@host"), service="db")
    assert type(back) is UpstreamError
    assert (back.code, back.status) == ("UPSTREAM_ERROR", 502)
    assert "pw@host" not in back.message
    assert "postgres" not in back.message
    assert back.message == "The db service failed"
    assert back.details is None


@pytest.mark.parametrize(
    "text",
    [
        RPC_MARKER + "{not json",
        RPC_MARKER + "[1, 2]",
        RPC_MARKER + '{"code": "X", "status": 404}',
        RPC_MARKER + '{"code": "X", "status": 200, "message": "m"}',
        RPC_MARKER + '{"code": "X", "status": "404", "message": "m"}',
        RPC_MARKER + '{"code": "lower case", "status": 404, "message": "m"}',
        RPC_MARKER + '{"code": "X", "status": true, "message": "m"}',
        "",
    ],
)
def test_corrupt_payloads_are_treated_as_unknown(text):
    back = from_rpc_exception(Exception(text))
    assert (back.code, back.status) == ("UPSTREAM_ERROR", 502)


def test_malformed_extra_fields_fall_back_to_a_plain_app_error():
    text = RPC_MARKER + '{"code": "RATE_LIMITED", "status": 429, "message": "m", "retry_after": "soon"}'
    back = from_rpc_exception(Exception(text))
    assert (type(back), back.code, back.status) == (AppError, "RATE_LIMITED", 429)


def test_an_app_error_is_returned_as_is():
    err = NotFound("x")
    assert from_rpc_exception(err) is err


def test_a_storage_problem_is_remembered_for_a_minute(monkeypatch):
    import shared.errors as errors

    now = [1_000_000.0]
    monkeypatch.setattr(errors.time, "time", lambda: now[0])
    monkeypatch.setattr(errors, "_LAST_STORAGE_PROBLEM", [])
    assert errors.recent_storage_problem() is None
    assert errors.storage_error(ValueError("no such column: x")) is None  # not a storage problem
    assert errors.recent_storage_problem() is None
    assert errors.storage_error(RuntimeError("D1_ERROR: database or disk is full: SQLITE_FULL")) is not None
    now[0] += 59
    assert errors.recent_storage_problem() == {"problem": "The storage is full", "seconds_ago": 59.0}
    now[0] += 2
    assert errors.recent_storage_problem() is None
