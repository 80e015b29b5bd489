"""The local `pyodide.ffi`: `to_js` converts as Pyodide 314 does, proxies behave like Pyodide's, and what
is missing says so. Expected values were measured with npm `pyodide@314.0.7` under Node."""

import datetime

import pytest
from js import JSON, Array, Map, Object
from pyodide.ffi import (
    IN_PYODIDE,
    ConversionError,
    JsArray,
    JsBuffer,
    JsDoubleProxy,
    JsException,
    JsMap,
    JsProxy,
    create_once_callable,
    create_proxy,
    destroy_proxies,
    to_js,
)
from workers import Response, python_to_rpc

from dotdo_dev.runtime import wire


def test_a_dict_becomes_a_js_object_read_by_attribute():
    obj = to_js({"k": "v", 1: 2, "n": {"a": [1]}})
    assert isinstance(obj, JsProxy)
    assert obj.k == "v"
    assert getattr(obj, "1") == 2  # keys become property names
    assert obj.n.a == [1]
    assert obj.hasOwnProperty("k")
    assert not obj.hasOwnProperty("missing")
    assert not hasattr(obj, "missing")
    assert JSON.stringify(obj) == '{"k":"v","1":2,"n":{"a":[1]}}'


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda o: o["k"], "not subscriptable"),
        (lambda o: list(o), "not iterable"),
        (lambda o: "k" in o, "not a container"),
        (lambda o: len(o), "no len()"),
        (lambda o: o.__setitem__("k", 1), "item assignment"),
    ],
)
def test_a_js_object_refuses_what_pyodide_refuses(operation, message):
    with pytest.raises(TypeError, match=message):
        operation(to_js({"k": "v"}))


def test_a_js_object_has_pyodides_helpers():
    obj = to_js({"k": "v", "n": {"a": (1, 2)}})
    assert bool(obj) is True
    assert obj.to_py() == {"k": "v", "n": {"a": [1, 2]}}
    assert type(obj.to_py()) is dict
    assert obj.object_keys() == ["k", "n"]
    assert obj.object_entries()[0] == ["k", "v"]
    view = obj.as_object_map()
    view["x"] = 1
    assert obj.x == 1
    assert view["k"] == "v"
    assert len(view) == 3
    obj.y = 2
    del obj.x
    assert Object.keys(obj) == ["k", "n", "y"]


def test_dict_converter_chooses_object_map_or_entries():
    as_object = to_js({"k": "v"}, dict_converter=Object.fromEntries)
    assert as_object.k == "v"
    as_map = to_js({"k": "v", 1: 2}, dict_converter=Map.new)
    assert isinstance(as_map, JsMap)
    assert as_map["k"] == "v"
    assert as_map.get(1) == 2
    assert as_map.size == 2
    assert as_map.has("k")
    assert list(as_map) == ["k", 1]
    assert JSON.stringify(as_map) == "{}"  # as JavaScript stringifies a Map
    assert to_js({"k": "v"}, dict_converter=Array.from_) == [["k", "v"]]


def test_sequences_sets_and_bytes():
    array = to_js([1, (2, 3)])
    assert isinstance(array, JsArray)
    assert array == [1, [2, 3]]
    assert array.length == 2
    assert array.push(4) == 3
    buffer = to_js(b"ab")
    assert isinstance(buffer, JsBuffer)
    assert buffer.to_bytes() == b"ab"
    assert buffer.byteLength == 2
    assert bytes(buffer.to_py()) == b"ab"
    assert to_js(bytearray(b"x")).to_bytes() == b"x"
    js_set = to_js({1, 2})
    assert js_set.size == 2
    assert js_set.has(1)


async def test_a_buffers_array_buffer_is_a_response_body():
    response = Response(to_js(b"\x89PNG").buffer, headers={"Content-Type": "image/png"})
    assert await response.bytes() == b"\x89PNG"


@pytest.mark.parametrize("value", [None, True, 3, 2**60, 1.5, "s"])
def test_primitives_are_unchanged(value):
    assert to_js(value) is value


def test_what_cannot_be_converted_becomes_a_proxy_or_a_conversion_error():
    when = datetime.datetime(2020, 1, 1)
    proxy = to_js(when)
    assert isinstance(proxy, JsDoubleProxy)
    assert proxy.unwrap() is when
    collected = []
    to_js({"f": len}, pyproxies=collected)
    assert len(collected) == 1
    assert collected[0](["a"]) == 1
    with pytest.raises(ConversionError, match="datetime"):
        to_js({"when": when}, create_pyproxies=False)


def test_depth_and_converters():
    shallow = to_js({"a": {"b": 1}}, depth=1)
    assert type(shallow.a) is dict  # below the depth, values stay Python objects

    def eager(value, convert, cache):
        return "E" if isinstance(value, tuple) else convert(value)

    assert JSON.stringify(to_js({"a": (1, 2)}, eager_converter=eager)) == '{"a":"E"}'

    class Thing:
        pass

    assert to_js({"t": Thing()}, default_converter=lambda value, convert, cache: "D").t == "D"


def test_a_cycle_is_converted_to_a_cycle():
    items: list = [1]
    items.append(items)
    converted = to_js(items)
    assert converted[1] is converted


def test_proxies_can_be_destroyed_and_once_callables_called_once():
    proxy = create_proxy(lambda x: x + 1)
    assert proxy(1) == 2
    assert proxy.typeof == "function"
    proxy.destroy()
    with pytest.raises(JsException, match="already been destroyed"):
        proxy(1)
    once = create_once_callable(lambda: "done")
    assert once() == "done"
    with pytest.raises(JsException, match="OnceProxy can only be called once"):
        once()
    many = [create_proxy(print), create_proxy(len)]
    destroy_proxies(many)
    with pytest.raises(JsException):
        many[1]("x")


def test_js_exception_is_an_exception_but_not_an_oserror():
    error = JsException("TypeError", "boom")
    assert str(error) == "TypeError: boom"
    assert error.name == "TypeError"
    assert error.message == "boom"
    assert isinstance(error, Exception)
    assert isinstance(error, JsProxy)
    assert not isinstance(error, OSError)


def test_in_pyodide_is_false_locally():
    assert IN_PYODIDE is False


def test_jsnull_exists_for_pyodide_code_and_local_nulls_are_none():
    """Code written for Pyodide tests `value is None or value is jsnull` (Cloudflare's 17-r2 does)."""
    from pyodide.ffi import JsNull, jsnull

    assert jsnull is JsNull()
    assert not jsnull
    assert repr(jsnull) == "jsnull"
    assert jsnull is not None
    assert isinstance(jsnull, JsProxy)


@pytest.mark.parametrize("name", ["JsGenerator", "JsPromise", "JsBigInt", "register_js_module"])
def test_pyodide_names_not_provided_say_so(name):
    with pytest.raises(ImportError, match=rf"pyodide\.ffi\.{name} is not provided by the local runtime"):
        exec(f"from pyodide.ffi import {name}")


def test_names_pyodide_does_not_have_stay_attribute_errors():
    import pyodide.ffi

    assert not hasattr(pyodide.ffi, "no_such_name")
    with pytest.raises(ImportError, match="JsObject"):
        exec("from pyodide.ffi import JsObject")  # a local class, not a Pyodide name


def test_pyodide_package_names_what_it_lacks():
    import pyodide

    assert pyodide.__version__.startswith("314.")
    assert pyodide.ffi.to_js is to_js  # the submodules are attributes of the package, as in Pyodide
    with pytest.raises(ImportError, match=r"pyodide\.webloop is not provided"):
        exec("from pyodide import webloop")
    with pytest.raises(ImportError, match=r"pyodide\.http\.pyfetch is not provided.*workers\.fetch"):
        exec("from pyodide.http import pyfetch")


# -- what the local bindings receive ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "received"),
    [
        (to_js({"k": "v", "n": [1, {"x": None}]}), {"k": "v", "n": [1, {"x": None}]}),
        (to_js({"k": "v"}, dict_converter=Object.fromEntries), {"k": "v"}),
        (to_js({"k": 1}, dict_converter=Map.new), {"k": 1}),
        (to_js([1, (2, 3)]), [1, [2, 3]]),
        (to_js(b"\x00\x01"), b"\x00\x01"),
        (to_js({1, 2}), {1, 2}),
    ],
)
def test_converted_values_cross_rpc_like_plain_ones(value, received):
    assert python_to_rpc(value) == received
    arrived = wire.loads(wire.dumps(value))
    assert arrived == received
    if isinstance(received, dict):
        assert arrived.k == received["k"]  # a dict with attribute access, as Cloudflare's SDK gives


def test_a_proxy_cannot_cross_rpc():
    with pytest.raises(TypeError, match="RPC"):
        python_to_rpc(to_js({"when": datetime.datetime(2020, 1, 1)}))
    with pytest.raises(TypeError, match="RPC"):
        python_to_rpc(create_proxy(len))
