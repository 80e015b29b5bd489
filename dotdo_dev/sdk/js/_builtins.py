"""JavaScript's built-in globals that Python Workers reach through `js`: Object, Map, Array, JSON, Math,
Date, console, crypto.

A JavaScript constructor is called with `.new(...)` as under Pyodide (`js.Map.new()`,
`js.Date.new(0)`); static methods are plain calls (`js.Object.fromEntries(...)`, `js.Date.now()`).
Numbers that JavaScript would give back as integral doubles come back as `int`, as Pyodide converts them.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import secrets
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

from pyodide._local import NotProvidedError
from pyodide._values import JsArray, JsBuffer, JsException, JsMap, JsObject, JsProxy, JsSet, property_key

_MAX_RANDOM_BYTES = 65536


def _number(value: float) -> int | float:
    """A JavaScript number as Pyodide returns it: integral doubles are ints."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _pairs(entries: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    for entry in entries:
        key, value = entry
        yield key, value


class Object:
    """JavaScript's `Object` constructor and its static methods."""

    @staticmethod
    def new() -> JsObject:
        return JsObject()

    @staticmethod
    def fromEntries(entries: Iterable[Any]) -> JsObject:
        """An object from [key, value] pairs (keys become property names); what `dict_converter` expects."""
        result = JsObject()
        for key, value in _pairs(entries):
            dict.__setitem__(result, property_key(key), value)
        return result

    @staticmethod
    def _own(value: Any) -> list[tuple[str, Any]]:
        if value is None:
            raise JsException("TypeError", "Cannot convert undefined or null to object")
        if isinstance(value, JsMap | JsSet):
            return []  # a Map's entries are not properties
        if isinstance(value, dict):
            return [(property_key(k), v) for k, v in dict.items(value)]
        if isinstance(value, list | tuple | str):
            return [(str(i), v) for i, v in enumerate(value)]
        return []

    @staticmethod
    def keys(value: Any) -> JsArray:
        return JsArray(k for k, _ in Object._own(value))

    @staticmethod
    def values(value: Any) -> JsArray:
        return JsArray(v for _, v in Object._own(value))

    @staticmethod
    def entries(value: Any) -> JsArray:
        return JsArray(JsArray(pair) for pair in Object._own(value))

    @staticmethod
    def assign(target: JsObject, *sources: Any) -> JsObject:
        for source in sources:
            for key, value in Object._own(source) if source is not None else []:
                dict.__setitem__(target, key, value)
        return target


class Map:
    """JavaScript's `Map` constructor (`js.Map.new(entries)`; `dict_converter=js.Map.new` makes Maps)."""

    @staticmethod
    def new(entries: Iterable[Any] | None = None) -> JsMap:
        return JsMap(_pairs(entries or []))


class Array:
    """JavaScript's `Array` constructor (`Array.from_` is `Array.from`, as in Pyodide)."""

    @staticmethod
    def new(*items: Any) -> JsArray:
        return JsArray(items)

    @staticmethod
    def from_(iterable: Iterable[Any]) -> JsArray:
        return JsArray(iterable)

    @staticmethod
    def isArray(value: Any) -> bool:
        return isinstance(value, JsArray)


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return JsArray(_from_json(v) for v in value)
    if isinstance(value, dict):
        result = JsObject()
        for k, v in dict.items(value):
            dict.__setitem__(result, k, _from_json(v))
        return result
    return value


def _to_json(value: Any, top: bool = False) -> Any:
    if isinstance(value, JsDate):
        return value.toJSON()
    if isinstance(value, JsMap | JsSet):
        return {}  # JSON.stringify(new Map([[1, 2]])) is "{}" in JavaScript
    if isinstance(value, bytes):
        return {str(i): b for i, b in enumerate(value)}
    if isinstance(value, dict):
        return {property_key(k): _to_json(v) for k, v in dict.items(value)}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise JsException("TypeError", f"the local JSON.stringify cannot serialise a {type(value).__name__}")


class JSON:
    """JavaScript's `JSON`: `parse` gives local JavaScript values, `stringify` takes them."""

    @staticmethod
    def parse(text: str) -> Any:
        try:
            parsed = json.loads(text, parse_float=lambda s: _number(float(s)))
        except (json.JSONDecodeError, TypeError) as error:
            raise JsException("SyntaxError", f"JSON.parse: {error}") from None
        return _from_json(parsed)

    @staticmethod
    def stringify(value: Any, replacer: Any = None, space: int | str | None = None) -> str | None:
        """JSON text, or None for `undefined`; `replacer` functions are not provided locally."""
        if replacer is not None:
            raise NotProvidedError("js", "JSON.stringify(value, replacer)", "replacers are not emulated")
        if value is None:
            return None  # JSON.stringify(undefined) is undefined
        indent = space if isinstance(space, str) else (min(space, 10) if space else None)
        separators = (",", ": ") if indent else (",", ":")
        return json.dumps(_to_json(value), indent=indent, separators=separators, ensure_ascii=False)


def _round(x: float) -> int | float:
    return _number(float(math.floor(x + 0.5))) if math.isfinite(x) else x


class Math:
    """JavaScript's `Math` basics (`round` rounds halves up, as JavaScript does)."""

    PI = math.pi
    E = math.e

    @staticmethod
    def floor(x: float) -> int | float:
        return _number(float(math.floor(x))) if math.isfinite(x) else x

    @staticmethod
    def ceil(x: float) -> int | float:
        return _number(float(math.ceil(x))) if math.isfinite(x) else x

    round = staticmethod(_round)

    @staticmethod
    def trunc(x: float) -> int | float:
        return _number(float(math.trunc(x))) if math.isfinite(x) else x

    @staticmethod
    def abs(x: float) -> int | float:
        return _number(float(abs(x)))

    @staticmethod
    def sign(x: float) -> int | float:
        return x if x == 0 or math.isnan(x) else (1 if x > 0 else -1)

    @staticmethod
    def max(*values: float) -> int | float:
        return _number(float(max(values))) if values else -math.inf

    @staticmethod
    def min(*values: float) -> int | float:
        return _number(float(min(values))) if values else math.inf

    @staticmethod
    def pow(x: float, y: float) -> int | float:
        return _number(float(x) ** y)

    @staticmethod
    def sqrt(x: float) -> int | float:
        return _number(math.sqrt(x)) if x >= 0 else math.nan

    @staticmethod
    def random() -> float:
        return random.random()


_UTC = datetime.UTC


class JsDate(JsProxy, datetime.datetime):
    """A JavaScript Date (UTC, whole milliseconds). A `datetime`, so it crosses bindings as one."""

    def getTime(self) -> int:
        return round(self.timestamp() * 1000)

    valueOf = getTime

    def toISOString(self) -> str:
        return self.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.microsecond // 1000:03d}Z"

    toJSON = toISOString

    def toString(self) -> str:
        """JavaScript's `String(date)` in a Worker (UTC): `Wed Dec 02 2026 15:13:12 GMT+0000 (Coordinated
        Universal Time)`; under Pyodide `str()` of a Date gives this too."""
        return self.astimezone(_UTC).strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")

    __str__ = toString

    def getFullYear(self) -> int:
        return self.year

    def getMonth(self) -> int:
        return self.month - 1  # JavaScript months count from 0

    def getDate(self) -> int:
        return self.day

    def getDay(self) -> int:
        return (self.weekday() + 1) % 7  # JavaScript weeks start on Sunday (0)

    def getHours(self) -> int:
        return self.hour

    def getMinutes(self) -> int:
        return self.minute

    def getSeconds(self) -> int:
        return self.second

    def getMilliseconds(self) -> int:
        return self.microsecond // 1000


def _date_from_ms(ms: float) -> JsDate:
    if not math.isfinite(ms):
        raise JsException("RangeError", "Invalid time value")
    return JsDate.fromtimestamp(math.trunc(ms) / 1000, tz=_UTC)


class Date:
    """JavaScript's `Date`. Workers run in UTC, so local-time getters are UTC ones here too."""

    @staticmethod
    def now() -> int:
        return time.time_ns() // 1_000_000

    @staticmethod
    def parse(text: str) -> int:
        return Date.new(text).getTime()

    @staticmethod
    def new(*args: Any) -> JsDate:
        """`Date.new()` now; `Date.new(ms)`; `Date.new(iso_string)`; `Date.new(year, month0, day, ...)`."""
        if not args:
            return _date_from_ms(Date.now())
        if len(args) == 1 and isinstance(args[0], int | float) and not isinstance(args[0], bool):
            return _date_from_ms(args[0])
        if len(args) == 1 and isinstance(args[0], str):
            try:
                parsed = datetime.datetime.fromisoformat(args[0])
            except ValueError:
                raise JsException("RangeError", f"Invalid time value: {args[0]!r}") from None
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)
            return _date_from_ms(parsed.timestamp() * 1000)
        if len(args) == 1 and isinstance(args[0], datetime.datetime):
            return _date_from_ms(args[0].timestamp() * 1000)
        year, month, *rest = (int(a) for a in args)
        defaults = [1, 0, 0, 0, 0]  # day, hours, minutes, seconds, milliseconds
        day, hour, minute, second, ms = [*rest, *defaults[len(rest) :]][:5]
        start = datetime.datetime(year, 1, 1, tzinfo=_UTC)
        months = month + (start.month - 1)
        first = start.replace(year=year + months // 12, month=months % 12 + 1)
        delta = datetime.timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second, milliseconds=ms)
        return _date_from_ms((first + delta).timestamp() * 1000)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "undefined"
    if isinstance(value, JsProxy | list | dict):
        try:
            return JSON.stringify(value) or "undefined"
        except JsException:
            return repr(value)
    return str(value)


class console:
    """JavaScript's `console`: every level writes one line to stderr (the worker's log locally)."""

    @staticmethod
    def _write(level: str, args: tuple[Any, ...]) -> None:
        prefix = "" if level in ("log", "info", "debug") else f"{level}: "
        print(prefix + " ".join(_show(a) for a in args), file=sys.stderr, flush=True)

    @staticmethod
    def log(*args: Any) -> None:
        console._write("log", args)

    @staticmethod
    def info(*args: Any) -> None:
        console._write("info", args)

    @staticmethod
    def debug(*args: Any) -> None:
        console._write("debug", args)

    @staticmethod
    def warn(*args: Any) -> None:
        console._write("warn", args)

    @staticmethod
    def error(*args: Any) -> None:
        console._write("error", args)


class _CryptoType(type):
    """Names `crypto.subtle` as not provided."""

    def __getattr__(cls, name: str) -> Any:
        if name == "subtle":
            raise NotProvidedError("js", "crypto.subtle", "Web Crypto's subtle API is not emulated locally")
        raise AttributeError(name)


class crypto(metaclass=_CryptoType):
    """Web Crypto's `crypto`: `randomUUID` and `getRandomValues` (into a `bytearray`); no `subtle` locally."""

    @staticmethod
    def randomUUID() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def getRandomValues(array: bytearray | memoryview) -> bytearray | memoryview:
        """Fill `array` with random bytes in place and return it (at most 65536 bytes, as on Workers)."""
        if isinstance(array, JsBuffer | bytes) or not isinstance(array, bytearray | memoryview):
            raise JsException(
                "TypeError",
                "the local crypto.getRandomValues fills a bytearray or writable memoryview in place "
                f"(got {type(array).__name__}); Uint8Array is not provided locally",
            )
        if len(array) > _MAX_RANDOM_BYTES:
            raise JsException("QuotaExceededError", f"getRandomValues: {len(array)} bytes is over 65536")
        memoryview(array).cast("B")[:] = secrets.token_bytes(len(array))
        return array
