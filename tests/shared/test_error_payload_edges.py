"""Errors across RPC at their edges: the status range a payload may carry, a broken marker before a good
one, and Retry-After never negative.

Written against the mutants that survived `make mutate TARGET=shared/errors.py` (docs/mutation.md).
"""

import json

import pytest

from shared.errors import RPC_MARKER, AppError, BadRequest, RateLimited, UpstreamError, from_rpc_exception


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
