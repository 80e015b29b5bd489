"""The local stand-in for Pyodide's `pyodide.ffi`: `to_js`, proxies and the `JsProxy` classes.

`to_js` converts as Pyodide 314 does (measured with npm `pyodide@314.0.7`; Pyodide's own docstring
of `to_js` says the same):

* `int`, `float`, `bool`, `None`, `str` and JavaScript values are returned unchanged;
* a `dict` becomes a JavaScript object (keys become property names: `1` -> `"1"`; locally a `dict`
  subclass, see `pyodide._values`), or `dict_converter(entries)` when given one (`js.Object.fromEntries`
  gives an object too, `js.Map.new` a Map, `js.Array.from_` an array of [key, value] pairs). Earlier
  Pyodide versions made a Map by default, and many texts still say so; Pyodide 314, which Cloudflare
  runs at our compatibility date, makes an object;
* a `list` or `tuple` becomes an Array (`JsArray`), a `set` a Set, `bytes`/`bytearray`/
  `memoryview` a Uint8Array (`JsBuffer`);
* anything else (a class instance, a datetime, a function) becomes a `JsDoubleProxy` of the Python
  object, or `ConversionError` with `create_pyproxies=False`; `default_converter` and
  `eager_converter` are honoured; `depth` limits how deep containers are converted (below it, values
  stay Python objects, as they come back from JavaScript under Pyodide).

Names of Pyodide's `pyodide.ffi` that are not here raise `NotProvidedError` (an `ImportError`) naming
them; `IN_PYODIDE` is False, as Pyodide itself computes it outside Pyodide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyodide import _values
from pyodide._local import missing
from pyodide._run_sync import can_run_sync, run_sync
from pyodide._values import ConversionError, JsArray, JsBuffer, JsDoubleProxy, JsException, JsMap, JsProxy

IN_PYODIDE = False

JsCallableDoubleProxy = JsDoubleProxy
JsMutableMap = JsMap
JsTypedArray = JsBuffer
JsOnceCallable = JsDoubleProxy


class JsNull(JsProxy):
    """The type of `jsnull`, Pyodide's JavaScript `null`. Locally every `null` a binding or `js` gives is
    None; `jsnull` exists so that code written for Pyodide (`value is None or value is jsnull`) runs."""

    _instance: JsNull | None = None

    def __new__(cls) -> JsNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "jsnull"

    @property
    def typeof(self) -> str:
        return "object"


jsnull = JsNull()

_NOT_PROVIDED = {
    "register_js_module": "the local runtime has no JavaScript modules",
    "unregister_js_module": "the local runtime has no JavaScript modules",
    "JsPromise": "JavaScript calls of the local stand-ins return Python awaitables",
    "JsFetchResponse": "js.fetch returns the local `workers` Response",
    "JsCallable": "local JavaScript functions are Python callables",
    "JsIterable": "local JavaScript values are Python containers",
    "JsIterator": "local JavaScript values are Python containers",
    "JsAsyncIterable": "local JavaScript values are Python containers",
    "JsAsyncIterator": "local JavaScript values are Python containers",
    "JsGenerator": "the local runtime has no JavaScript generators",
    "JsAsyncGenerator": "the local runtime has no JavaScript generators",
    "JsDomElement": "there is no DOM in Workers",
    "JsWeakRef": "the local runtime has no JavaScript weak references",
    "JsBigInt": "large integers stay Python ints locally",
    "ToJsConverter": "a type-checking protocol only; any callable (value, convert, cache) works",
}

_Converter = Callable[[Any, Callable[[Any], Any], Callable[[Any, Any], None]], Any]


def to_js(
    obj: Any,
    /,
    *,
    depth: int = -1,
    pyproxies: list[Any] | None = None,
    create_pyproxies: bool = True,
    dict_converter: Callable[[Iterable[JsArray]], Any] | None = None,
    default_converter: _Converter | None = None,
    eager_converter: _Converter | None = None,
) -> Any:
    """Convert `obj` to a (local) JavaScript value, as Pyodide's `to_js` does; see the module docstring."""
    return _Conversion(pyproxies, create_pyproxies, dict_converter, default_converter, eager_converter).convert(
        obj, depth
    )


class _Conversion:
    """One `to_js` call: its options and the values already converted (shared and cyclic ones stay so)."""

    def __init__(
        self,
        pyproxies: list[Any] | None,
        create_pyproxies: bool,
        dict_converter: Callable[[Iterable[JsArray]], Any] | None,
        default_converter: _Converter | None,
        eager_converter: _Converter | None,
    ) -> None:
        self.pyproxies = pyproxies
        self.create_pyproxies = create_pyproxies
        self.dict_converter = dict_converter
        self.default_converter = default_converter
        self.eager_converter = eager_converter
        self.done: dict[int, Any] = {}

    def cache(self, obj: Any, result: Any) -> None:
        self.done[id(obj)] = result

    def convert(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float | JsProxy):
            return value
        if depth == 0:
            return value
        if id(value) in self.done:
            return self.done[id(value)]
        if self.eager_converter is not None:
            return self.eager_converter(value, lambda v: self.builtin(v, depth), self.cache)
        return self.builtin(value, depth)

    def builtin(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | int | float | str | JsProxy):
            return value
        below = depth - 1
        if isinstance(value, dict):
            return self.mapping(value, below)
        if isinstance(value, list | tuple):
            array = JsArray()
            self.cache(value, array)
            array.extend(self.convert(v, below) for v in value)
            return array
        if isinstance(value, set | frozenset):
            return _values.JsSet(self.convert(v, below) for v in value)
        if isinstance(value, bytes | bytearray | memoryview):
            return JsBuffer(bytes(value))
        if self.default_converter is not None:
            return self.default_converter(value, lambda v: self.convert(v, below), self.cache)
        if not self.create_pyproxies:
            raise ConversionError(f"No conversion known for {type(value).__name__} (create_pyproxies=False).")
        proxy = JsDoubleProxy(value)
        if self.pyproxies is not None:
            self.pyproxies.append(proxy)
        return proxy

    def mapping(self, value: dict[Any, Any], below: int) -> Any:
        if self.dict_converter is None:
            result = _values.JsObject()
            self.cache(value, result)
            for k, v in value.items():
                dict.__setitem__(result, _values.property_key(k), self.convert(v, below))
            return result
        entries = JsArray(JsArray([k, self.convert(v, below)]) for k, v in value.items())
        return self.dict_converter(entries)


def create_proxy(obj: Any, /, *, capture_this: bool = False, roundtrip: bool = True) -> JsDoubleProxy:
    """A proxy of `obj` that JavaScript may keep and call until it is `destroy()`ed."""
    return JsDoubleProxy(obj)


def create_once_callable(obj: Callable[..., Any], /, *, _may_syncify: bool = False) -> JsDoubleProxy:
    """A proxy of `obj` that can be called once; a second call raises `JsException` as under Pyodide."""
    return JsDoubleProxy(obj, once=True)


def destroy_proxies(pyproxies: Iterable[Any], /) -> None:
    """Destroy every proxy in `pyproxies` (the list given to `to_js(..., pyproxies=...)`)."""
    for proxy in pyproxies:
        proxy.destroy()


def __getattr__(name: str) -> Any:
    raise missing("pyodide.ffi", name, _NOT_PROVIDED)


__all__ = [
    "IN_PYODIDE",
    "ConversionError",
    "JsArray",
    "JsBuffer",
    "JsCallableDoubleProxy",
    "JsDoubleProxy",
    "JsException",
    "JsMap",
    "JsMutableMap",
    "JsNull",
    "JsOnceCallable",
    "JsProxy",
    "JsTypedArray",
    "can_run_sync",
    "create_once_callable",
    "create_proxy",
    "destroy_proxies",
    "jsnull",
    "run_sync",
    "to_js",
]
