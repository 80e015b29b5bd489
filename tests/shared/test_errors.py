"""AppErrors keep their code and status across a service-binding RPC call."""

import time

import pytest

from shared.errors import AppError, NotFound, RateLimited, from_rpc_exception, rpc_error, to_rpc_message
from shared.ids import new_id, new_request_id, valid_request_id
from shared.rpc import call, rpc_method


def test_round_trip_through_a_message():
    err = NotFound("No thing x", details={"id": "x"})
    back = from_rpc_exception(Exception(to_rpc_message(err)))
    assert (back.code, back.status, back.message, back.details) == ("NOT_FOUND", 404, "No thing x", {"id": "x"})


@pytest.mark.parametrize(
    "wrap",
    [
        lambda m: f"Error: {m}",
        lambda m: f"PythonError: Traceback (most recent call last):\n  File x, line 1\nException: {m}",
        lambda m: f"ValueError: {m}",
    ],
)
def test_round_trip_survives_what_the_runtime_adds(wrap):
    message = to_rpc_message(AppError("quota", code="QUOTA", status=429))
    back = from_rpc_exception(Exception(wrap(message)))
    assert (back.code, back.status) == ("QUOTA", 429)


def test_unknown_exceptions_become_502_without_internals():
    back = from_rpc_exception(RuntimeError("connection string postgres://user:pw@host"), service="db")
    assert (back.code, back.status) == ("UPSTREAM_ERROR", 502)
    assert "pw@host" not in back.message
    assert "db" in back.message


def test_corrupt_marker_is_treated_as_unknown():
    assert from_rpc_exception(Exception("dotdo-error:{not json")).status == 502


async def test_rpc_method_and_call():
    class Service:
        @rpc_method
        async def find(self, key):
            raise RateLimited("slow down", retry_after=3)

    with pytest.raises(Exception) as info:  # noqa: PT011 - a plain Exception is what crosses the binding
        await Service().find("k")
    assert not isinstance(info.value, AppError)
    with pytest.raises(AppError) as info:
        await call(Service().find, "k", service="svc")
    assert (info.value.code, info.value.status) == ("RATE_LIMITED", 429)
    assert rpc_error(NotFound("x")).args[0].startswith("dotdo-error:")


def test_ids():
    a, b = new_id("usr"), new_id("usr")
    assert a != b
    assert a.startswith("usr_")
    assert len(a) == 4 + 25
    earlier = new_id()
    time.sleep(0.002)
    assert earlier < new_id()  # the millisecond prefix makes ids sort by creation time
    with pytest.raises(ValueError, match="prefix"):
        new_id("Bad Prefix")
    assert valid_request_id(new_request_id())
    assert not valid_request_id("")
    assert not valid_request_id("has space")
    assert not valid_request_id("x" * 129)
