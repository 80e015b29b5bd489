"""Service-binding RPC with typed errors on both sides.

Callee: decorate entrypoint methods with `@rpc_method`; an `AppError` they raise crosses the
binding as a message that `call` turns back into the same `AppError`. Anything else raised is
reported to the caller as a 502 `UPSTREAM_ERROR` without its internals.

    class Default(WorkerEntrypoint):
        @rpc_method
        async def get_item(self, id): ...

    item = await call(self.env.ORDERS_SERVICE.get_item, "itm_1", service="orders")
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shared.errors import AppError, from_rpc_exception, rpc_error, storage_error

T = TypeVar("T")


def rpc_method(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Let an `AppError` raised by an RPC method reach the caller with its code and status; a storage
    failure reaches it as 503 `STORAGE_UNAVAILABLE` (not a 502 that blames the callee's code)."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return await method(*args, **kwargs)
        except AppError as err:
            raise rpc_error(err) from None
        except Exception as exc:
            problem = storage_error(exc)
            if problem is None:
                raise
            raise rpc_error(problem) from None

    return wrapper


async def call(method: Callable[..., Awaitable[T]], *args: Any, service: str = "upstream", **kwargs: Any) -> T:
    """Call a bound service's RPC method; its errors come back as `AppError`s."""
    try:
        return await method(*args, **kwargs)
    except AppError:
        raise
    except Exception as exc:
        raise from_rpc_exception(exc, service=service) from None
