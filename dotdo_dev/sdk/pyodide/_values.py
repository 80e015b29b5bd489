"""JavaScript values as the local runtime hands them to Python (what `JsProxy` wraps under Pyodide).

Under Pyodide a JavaScript value seen from Python is a `JsProxy`. Locally there is no JavaScript, so
each kind of value is a class deriving from `JsProxy` and from the Python type that holds its data: a
JS object is a `dict`, an Array a `list`, a Set a `set`, a Uint8Array `bytes`. That is what lets the
local bindings (Queues `send`, KV, D1 `bind`, Durable Object and service RPC) accept them exactly as
they accept plain values: they check what may cross with `workers.python_to_rpc`, which sees a dict,
a list, a set or bytes, and the other side receives what Cloudflare's SDK gives it (a dict with
attribute access for an object or a Map, a list for an Array, ...).

Where Python code can tell the difference, each class behaves as Pyodide 314's proxy does (measured
with npm `pyodide@314.0.7`):

* `JsObject` (a plain JS object; what `to_js(dict)` gives): properties are attributes (`obj.k`);
  subscripting, iteration, `in` and `len()` raise `TypeError` as under Pyodide; `to_py()`,
  `as_object_map()` and `object_keys()`/`object_values()`/`object_entries()` as in Pyodide. The
  `dict` methods (`keys`, `items`, `get`, ...) stay callable locally; under Pyodide they would be
  looked up as JS properties, so code should not rely on them.
* `JsMap` (a JS Map): a mapping (`m["k"]`, `m.get`, `len`, iteration over keys) plus `size`, `has`,
  `set`, `delete`, like Pyodide's `JsMap`.
* `JsArray`, `JsSet`, `JsBuffer` (Uint8Array): the Python sequence/set/bytes plus `length`/`size`
  and `to_py()`; `JsBuffer.to_bytes()`.
* `JsDoubleProxy`: a Python object handed to JavaScript (`create_proxy`, or `to_js` of something it
  cannot convert): callable if the object is, `unwrap()`, `destroy()`. It is not data, so it cannot
  be sent over a binding (as on Cloudflare, where structured clone refuses it).
* `JsException`: a JavaScript error (`name`, `message`, `stack`); like Pyodide's, it is an
  `Exception` but not an `OSError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, NoReturn


class JsProxy:
    """Base class of every JavaScript value the local runtime gives to Python (Pyodide's `JsProxy`)."""

    @property
    def typeof(self) -> str:
        """What JavaScript's `typeof` would say of the value."""
        return "object"

    def to_py(self, *, depth: int = -1, default_converter: Callable[..., Any] | None = None) -> Any:
        """A plain Python copy of the value (dicts, lists, sets, memoryviews); `depth` < 0 is unlimited."""
        return to_py(self, depth)


class JsException(JsProxy, Exception):
    """A JavaScript error raised into Python. Not an `OSError`, as under Pyodide."""

    def __init__(self, name: str = "Error", message: str = "", stack: str = "") -> None:
        super().__init__(name, message)
        self.name = name
        self.message = message
        self.stack = stack or f"{name}: {message}"

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class ConversionError(Exception):
    """A Python value that `to_js` cannot convert (with `create_pyproxies=False`)."""


def property_key(key: Any) -> str:
    """The string a JavaScript object uses as property name for `key` (as `Object.fromEntries` does)."""
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and math.isfinite(key) and key.is_integer():
        return str(int(key))
    if isinstance(key, list | tuple):
        return ",".join("" if k is None else property_key(k) for k in key)
    return str(key)


def _not_supported(what: str, hint: str) -> NoReturn:
    raise TypeError(f"'pyodide.ffi.JsProxy' object {what} (a JavaScript object, as under Pyodide): {hint}")


class JsObject(JsProxy, dict):
    """A plain JavaScript object: properties are attributes; not subscriptable, not iterable."""

    def __getattr__(self, name: str) -> Any:
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        dict.__setitem__(self, name, value)

    def __delattr__(self, name: str) -> None:
        try:
            dict.__delitem__(self, name)
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: Any) -> NoReturn:
        _not_supported("is not subscriptable", f"read obj.{key} or obj.as_object_map()[{key!r}]")

    def __setitem__(self, key: Any, value: Any) -> NoReturn:
        _not_supported("does not support item assignment", f"set obj.{key} = value")

    def __delitem__(self, key: Any) -> NoReturn:
        _not_supported("does not support item deletion", f"use del obj.{key}")

    def __iter__(self) -> NoReturn:
        _not_supported("is not iterable", "use obj.object_keys() or js.Object.keys(obj)")

    def __contains__(self, key: Any) -> NoReturn:
        _not_supported("is not a container", "use obj.hasOwnProperty(name)")

    def __len__(self) -> NoReturn:
        _not_supported("has no len()", "use len(obj.object_keys())")

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"JsObject({dict.__repr__(self)})"

    def hasOwnProperty(self, name: str) -> bool:
        """Whether the object has its own property `name`."""
        return dict.__contains__(self, property_key(name))

    def object_keys(self) -> JsArray:
        """The property names (`Object.keys`)."""
        return JsArray(dict.keys(self))

    def object_values(self) -> JsArray:
        """The property values (`Object.values`)."""
        return JsArray(dict.values(self))

    def object_entries(self) -> JsArray:
        """The [name, value] pairs (`Object.entries`)."""
        return JsArray(JsArray(pair) for pair in dict.items(self))

    def as_object_map(self) -> MutableMapping[str, Any]:
        """A live mapping view of the properties (`obj.as_object_map()["k"]` works)."""
        return _ObjectMap(self)


class _ObjectMap(MutableMapping[str, Any]):
    """The mapping view `JsObject.as_object_map()` returns."""

    def __init__(self, target: JsObject) -> None:
        self._target = target

    def __getitem__(self, key: str) -> Any:
        return dict.__getitem__(self._target, key)

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self._target, property_key(key), value)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self._target, key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.keys(self._target))

    def __len__(self) -> int:
        return dict.__len__(self._target)


class JsMap(JsProxy, dict):
    """A JavaScript Map: a Python mapping, plus the Map methods."""

    @property
    def size(self) -> int:
        return len(self)

    def has(self, key: Any) -> bool:
        return key in self

    def set(self, key: Any, value: Any) -> JsMap:
        self[key] = value
        return self

    def delete(self, key: Any) -> bool:
        return self.pop(key, _ABSENT) is not _ABSENT

    def __repr__(self) -> str:
        return f"JsMap({dict.__repr__(self)})"


_ABSENT = object()


class JsArray(JsProxy, list):
    """A JavaScript Array: a Python list, plus `length` and `push`."""

    @property
    def length(self) -> int:
        return len(self)

    def push(self, *items: Any) -> int:
        self.extend(items)
        return len(self)

    def __repr__(self) -> str:
        return f"JsArray({list.__repr__(self)})"


class JsSet(JsProxy, set):
    """A JavaScript Set: a Python set, plus `size`, `has` and `delete`."""

    @property
    def size(self) -> int:
        return len(self)

    def has(self, value: Any) -> bool:
        return value in self

    def delete(self, value: Any) -> bool:
        present = value in self
        self.discard(value)
        return present


class JsBuffer(JsProxy, bytes):
    """A JavaScript Uint8Array (what `to_js(bytes)` gives): immutable bytes locally."""

    @property
    def length(self) -> int:
        return len(self)

    @property
    def byteLength(self) -> int:
        return len(self)

    @property
    def buffer(self) -> JsBuffer:
        """The underlying ArrayBuffer (locally the same bytes): `Response(to_js(data).buffer)` works."""
        return JsBuffer(self)

    def to_bytes(self) -> bytes:
        return bytes(self)

    def to_memoryview(self) -> memoryview:
        return memoryview(bytes(self))

    def to_string(self, encoding: str | None = None) -> str:
        return bytes(self).decode(encoding or "utf-8")


class JsDoubleProxy(JsProxy):
    """A Python object handed to JavaScript (`create_proxy`): call it, `unwrap()` it, `destroy()` it."""

    def __init__(self, obj: Any, *, once: bool = False) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_once", once)
        object.__setattr__(self, "_destroyed", False)

    @property
    def typeof(self) -> str:
        return "function" if callable(self._obj) else "object"

    def unwrap(self) -> Any:
        """The Python object behind the proxy."""
        self._check_alive()
        return self._obj

    def destroy(self) -> None:
        """Release the Python object; calling the proxy afterwards raises `JsException`."""
        object.__setattr__(self, "_destroyed", True)

    def _check_alive(self) -> None:
        if self._destroyed:
            if self._once:
                raise JsException("Error", "OnceProxy can only be called once")
            raise JsException("Error", "Object has already been destroyed")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._check_alive()
        if not callable(self._obj):
            raise JsException("TypeError", f"{type(self._obj).__name__} object is not a function")
        if self._once:
            self.destroy()
        return self._obj(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        self._check_alive()
        return getattr(self._obj, name)

    def __repr__(self) -> str:
        return f"JsDoubleProxy({self._obj!r})"


def to_py(value: Any, depth: int = -1) -> Any:
    """Plain Python data for a local JavaScript value (Pyodide's `JsProxy.to_py`)."""
    if depth == 0:
        return value
    below = depth - 1
    if isinstance(value, JsDoubleProxy):
        return value.unwrap()
    if isinstance(value, JsBuffer):
        return value.to_memoryview()
    if isinstance(value, dict):
        return {k: to_py(v, below) for k, v in dict.items(value)}
    if isinstance(value, list):
        return [to_py(v, below) for v in value]
    if isinstance(value, JsSet):
        return set(value)
    return value
