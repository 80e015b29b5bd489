"""One RPC call performed locally: `target.<method>(*args, **kwargs)` under workerd's rules.

The isolate calls a worker entrypoint's methods with it (a service binding's RPC, after the
arguments crossed the process boundary), and a Durable Object stub its object's methods.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["RESERVED_METHODS", "invoke_rpc", "rpc_methods"]

#: Handler names that are not callable over RPC (as in workerd).
RESERVED_METHODS = frozenset({"fetch", "queue", "scheduled", "tail", "trace", "alarm", "connect", "constructor"})


def rpc_methods(cls: type) -> frozenset[str]:
    """The names workerd exposes over RPC for a Python entrypoint or Durable Object class: what the
    class's own `__dict__` holds that is public and neither a classmethod nor a staticmethod.

    Inherited methods are not among them: workerd's Python introspection (`collect_methods` in its
    `introspection.py`) reads `class_val.__dict__` only, so a method defined on a base class answers
    "does not implement the method" on Cloudflare, and does here too.
    """
    return frozenset(
        name
        for name, value in vars(cls).items()
        if not name.startswith("_") and not isinstance(value, classmethod | staticmethod)
    )


async def invoke_rpc(
    target: Any, method: str, args: list[Any], kwargs: dict[str, Any], *, reserved: frozenset[str] = RESERVED_METHODS
) -> Any:
    """Call `target.<method>(*args, **kwargs)` as an RPC: private names and the `reserved` handlers
    cannot be called, nor a method the class does not define itself (see `rpc_methods`), and a
    missing method fails with workerd's message."""
    found = None if method in reserved or method not in rpc_methods(type(target)) else getattr(target, method, None)
    if found is None or not callable(found):
        raise TypeError(f'The RPC receiver does not implement the method "{method}".')
    result = found(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
