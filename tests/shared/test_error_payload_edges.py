"""Errors across RPC at their edges: the status range a payload may carry, a broken marker before a good
one, a known code with another status, keyword-only options, Retry-After never negative, and how long a
storage problem is reported.

Written against the mutants that survived `make mutate TARGET=shared/errors.py` (docs/mutation.md).
"""

import json

import pytest

import shared.errors as errors
from shared.errors import (
    RPC_MARKER,
    AppError,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    RateLimited,
    UpstreamError,
    from_rpc_exception,
)


def payload(status, code="SOMETHING_ODD"):
    return RPC_MARKER + json.dumps({"code": code, "status": status, "message": "m", "details": None})


@pytest.mark.parametrize("status", [400, 401, 598, 599])
def test_a_payload_with_a_4xx_or_5xx_status_is_rebuilt(status):
    back = from_rpc_exception(Exception(payload(status)))
    assert (back.code, back.status, back.message) == ("SOMETHING_ODD", status, "m")
    assert not isinstance(back, UpstreamError)


def test_a_400_payload_comes_back_as_a_bad_request():
    assert isinstance(from_rpc_exception(Exception(payload(400))), BadRequest)


@pytest.mark.parametrize("status", [200, 399, 600, 999])
def test_a_payload_with_a_status_outside_4xx_and_5xx_is_an_upstream_error(status):
    back = from_rpc_exception(Exception(payload(status)), service="db")
    assert isinstance(back, UpstreamError)
    assert (back.code, back.status) == ("UPSTREAM_ERROR", 502)


def test_a_broken_marker_before_a_good_one_on_the_same_line_is_skipped():
    line = f"Error: {RPC_MARKER}{{not json}} then {payload(404, 'NOT_FOUND')}"
    back = from_rpc_exception(Exception(line))
    assert (back.code, back.status) == ("NOT_FOUND", 404)


@pytest.mark.parametrize(("given", "kept"), [(0, 0), (-5, 0), (2.9, 2), (30, 30)])
def test_retry_after_is_whole_seconds_and_never_negative(given, kept):
    err = RateLimited("slow down", retry_after=given)
    assert err.retry_after == kept
    assert err.headers() == {"retry-after": str(kept)}


def test_an_app_error_keeps_its_own_class_when_rebuilt_from_its_status():
    back = from_rpc_exception(Exception(payload(418, "TEAPOT")))
    assert type(back) is AppError
    assert (back.code, back.status) == ("TEAPOT", 418)


@pytest.mark.parametrize(("code", "status"), [("NOT_FOUND", 400), ("NOT_FOUND", 500), ("RATE_LIMITED", 400)])
def test_a_known_code_with_another_status_keeps_the_status_it_came_with(code, status):
    data = {"code": code, "status": status, "message": "m", "retry_after": 5}
    back = from_rpc_exception(Exception(RPC_MARKER + json.dumps(data)))
    assert (back.code, back.status) == (code, status)
    assert type(back) is (BadRequest if status == 400 else InternalError)


def test_an_allowed_list_sent_as_a_string_is_not_taken_letter_by_letter():
    data = {"code": "METHOD_NOT_ALLOWED", "status": 405, "message": "m", "allowed": "GET"}
    back = from_rpc_exception(Exception(RPC_MARKER + json.dumps(data)))
    assert not isinstance(back, MethodNotAllowed)
    assert (back.code, back.status, back.headers()) == ("METHOD_NOT_ALLOWED", 405, {})


def test_the_options_of_errors_are_keyword_only():
    with pytest.raises(TypeError):
        AppError("m", "CODE")
    with pytest.raises(TypeError):
        MethodNotAllowed("m", ["GET"])
    with pytest.raises(TypeError):
        RateLimited("m", 5)
    with pytest.raises(TypeError):
        from_rpc_exception(Exception("x"), "db")


@pytest.fixture
def storage_clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(errors.time, "time", lambda: now[0])
    monkeypatch.setattr(errors, "_LAST_STORAGE_PROBLEM", [])
    assert errors.storage_error(RuntimeError("SQLITE_FULL")) is not None  # remembered at 1_000_000.0
    return now


@pytest.mark.parametrize(
    ("ago", "reported"),
    [(0.0, 0.0), (12.34, 12.3), (60.0, 60.0), (60.01, None), (-0.5, None)],
)
def test_a_storage_problem_is_reported_from_0_to_60_seconds_after_it_to_a_tenth(storage_clock, ago, reported):
    storage_clock[0] += ago
    expected = None if reported is None else {"problem": "The storage is full", "seconds_ago": reported}
    assert errors.recent_storage_problem() == expected
