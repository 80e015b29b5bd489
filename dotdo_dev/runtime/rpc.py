"""One RPC call performed locally: `target.<method>(*args, **kwargs)` under workerd's rules.

The isolate calls a worker entrypoint's methods with it (a service binding's RPC, after the
arguments crossed the process boundary), and a Durable Object stub its object's methods.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["RESERVED_METHODS", "invoke_rpc"]

#: Handler names that are not callable over RPC (as in workerd).
RESERVED_METHODS = frozenset({"fetch", "queue", "scheduled", "tail", "trace", "alarm", "connect", "constructor"})


async def invoke_rpc(
    target: Any, method: str, args: list[Any], kwargs: dict[str, Any], *, reserved: frozenset[str] = RESERVED_METHODS
) -> Any:
    """Call `target.<method>(*args, **kwargs)` as an RPC: private names and the `reserved` handlers
    cannot be called, and a missing method fails with workerd's message."""
    found = None if method.startswith("_") or method in reserved else getattr(target, method, None)
    if found is None or not callable(found):
        raise TypeError(f'The RPC receiver does not implement the method "{method}".')
    result = found(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
