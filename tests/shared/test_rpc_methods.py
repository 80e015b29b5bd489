"""`rpc_method` on the callee and `call` on the caller: typed errors on both sides of a binding."""

import pytest

from shared.errors import AppError, NotFound, RateLimited, UpstreamError
from shared.rpc import call, rpc_method


class Service:
    @rpc_method
    async def find(self, key):
        if key == "slow":
            raise RateLimited("slow down", retry_after=3)
        if key == "missing":
            raise NotFound(f"No {key}")
        if key == "bug":
            raise KeyError("secret-internal-key")
        return {"key": key}


def across_the_binding(method):
    """What a service binding does: only the exception's message crosses, as a plain Exception."""

    async def bound(*args, **kwargs):
        try:
            return await method(*args, **kwargs)
        except Exception as exc:
            raise Exception(f"Error: {exc}") from None

    return bound


async def test_results_pass_through():
    assert await call(across_the_binding(Service().find), "k") == {"key": "k"}


async def test_the_callee_raises_a_plain_exception_carrying_the_error():
    with pytest.raises(Exception) as info:  # noqa: PT011 - a plain Exception is what crosses the binding
        await Service().find("slow")
    assert not isinstance(info.value, AppError)
    assert "RATE_LIMITED" in str(info.value)


async def test_the_caller_gets_the_same_error_back():
    with pytest.raises(RateLimited) as info:
        await call(across_the_binding(Service().find), "slow", service="svc")
    assert (info.value.code, info.value.status, info.value.retry_after) == ("RATE_LIMITED", 429, 3)
    with pytest.raises(NotFound):
        await call(across_the_binding(Service().find), "missing")


async def test_unexpected_errors_reach_the_caller_as_502_without_internals():
    with pytest.raises(UpstreamError) as info:
        await call(across_the_binding(Service().find), "bug", service="orders")
    assert info.value.status == 502
    assert "secret-internal-key" not in info.value.message
    assert "orders" in info.value.message


async def test_a_local_app_error_is_not_rewrapped():
    async def local():
        raise NotFound("here")

    with pytest.raises(NotFound):
        await call(local)


async def test_a_storage_failure_reaches_the_caller_as_a_503():
    from shared.errors import StorageUnavailable

    class Store:
        @rpc_method
        async def put(self):
            raise RuntimeError("D1_ERROR: attempt to write a readonly database: SQLITE_READONLY")

    with pytest.raises(StorageUnavailable) as info:
        await call(across_the_binding(Store().put), service="db")
    assert (info.value.status, info.value.code) == (503, "STORAGE_UNAVAILABLE")
    assert info.value.message == "The storage is read-only"
