"""What crosses a Workers RPC boundary, and how it looks on the other side.

Cloudflare converts Python values to JavaScript (`python_to_rpc`), sends them with the structured
clone algorithm, and converts them back (`python_from_rpc`). The local runtime applies the same
rules so that code which works locally also works on Cloudflare:

* sendable: None, bool, int, float, str, bytes, list, dict (string keys), set, datetime,
  exceptions (as their message), `Request` and `Response`;
* refused with `TypeError`: tuples, bytearrays, awaitables and any other object
  (a class instance, a pydantic model, a Decimal ...);
* on arrival, a float with an integral value is an `int` (JavaScript has one number type), a dict
  allows attribute access (`JsDict`), a datetime is naive local time, and an exception is
  `Exception("Error: <message>")`.
"""

from __future__ import annotations

import datetime
import inspect
import math
from typing import Any

from .request import Request
from .response import FetchResponse, Response

_MAX_DEPTH = 256


class JsDict(dict):
    """A dict received over RPC; keys can also be read as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


def _refuse(value: Any) -> TypeError:
    if isinstance(value, tuple | bytearray):
        return TypeError(f"{type(value)} cannot be sent over RPC.")
    if inspect.isawaitable(value):
        return TypeError(f"Awaitable {type(value)} cannot be sent over RPC.")
    if callable(value):
        return TypeError(
            f"{type(value).__name__} cannot be sent over RPC by the local runtime (functions are not supported)."
        )
    return TypeError(
        f"Could not serialize object of type {type(value).__name__!r} over RPC: send plain data "
        "(None, bool, int, float, str, bytes, list, dict, set, datetime) instead."
    )


def python_to_rpc(value: Any) -> Any:
    """Check that `value` can be sent over RPC and return the copy the other side will receive."""
    return _clone(value, 0, set())


def _clone(value: Any, depth: int, seen: set[int]) -> Any:
    if depth > _MAX_DEPTH:
        raise TypeError("Value is nested too deeply to be sent over RPC.")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else float(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        # A JavaScript Date holds whole milliseconds.
        return datetime.datetime.fromtimestamp(math.trunc(value.timestamp() * 1000) / 1000)
    if isinstance(value, BaseException):
        return Exception(f"Error: {value}")
    if isinstance(value, FetchResponse):
        return value.clone() if not value.body_used else value
    if isinstance(value, Request):
        return value.clone()
    marker = id(value)
    if isinstance(value, list | dict | set | frozenset):
        if marker in seen:
            raise TypeError("Circular references cannot be sent over RPC by the local runtime.")
        seen = seen | {marker}
    if isinstance(value, list):
        return [_clone(v, depth + 1, seen) for v in value]
    if isinstance(value, dict):
        out = JsDict()
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, str | int):
                raise TypeError(f"Dict keys sent over RPC must be strings, not {type(k).__name__}.")
            dict.__setitem__(out, str(k), _clone(v, depth + 1, seen))
        return out
    if isinstance(value, set | frozenset):
        return {_clone(v, depth + 1, seen) for v in value}
    raise _refuse(value)


def python_from_rpc(obj: Any) -> Any:
    """Convert a value received over RPC to Python objects (dicts become `JsDict`)."""
    if isinstance(obj, dict) and not isinstance(obj, JsDict):
        return JsDict({k: python_from_rpc(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [python_from_rpc(v) for v in obj]
    return obj


__all__ = ["JsDict", "Request", "Response", "python_from_rpc", "python_to_rpc"]
