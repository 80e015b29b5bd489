"""The local `js` module: JavaScript's globals as Python Workers reach them, with Pyodide 314's behaviour
(expected values measured with npm `pyodide@314.0.7` under Node), and clear errors for what is missing."""

import io
import json
import re
import uuid
from contextlib import redirect_stderr

import js
import pytest
import workers
from js import JSON, URL, Array, Date, Headers, Map, Math, Object, Request, Response, URLSearchParams, console, crypto
from pyodide.ffi import JsArray, JsException, JsMap, to_js
from workers import python_to_rpc

# -- Object, Map, Array, JSON -----------------------------------------------------------------------


def test_object_statics():
    obj = Object.fromEntries([("a", 1), ["b", [2]], (3, "x")])
    assert obj.a == 1
    assert obj.b == [2]
    assert getattr(obj, "3") == "x"
    assert Object.keys(obj) == ["a", "b", "3"]
    assert Object.values(obj) == [1, [2], "x"]
    assert Object.entries(obj)[0] == ["a", 1]
    assert Object.keys({"plain": 1}) == ["plain"]  # Pyodide 314 lets JavaScript read a dict's keys
    assert Object.keys(to_js({"k": 1}, dict_converter=Map.new)) == []  # a Map's entries are not properties
    assert Object.assign(Object.new(), {"a": 1}, to_js({"b": 2})).b == 2
    with pytest.raises(JsException, match="undefined or null"):
        Object.keys(None)


def test_map_and_array():
    m = Map.new([["a", 1]])
    assert isinstance(m, JsMap)
    assert m.set("b", 2) is m
    assert m.size == 2
    assert m.delete("a")
    assert not m.has("a")
    assert Array.from_("ab") == ["a", "b"]
    assert Array.isArray(Array.new(1))
    assert not Array.isArray([1])


def test_json_parse_gives_js_values_and_stringify_takes_them():
    parsed = JSON.parse('{"a": [1, 2.0, 2.5, {"b": null}], "t": true}')
    assert parsed.a[3].b is None
    assert parsed.t is True
    assert isinstance(parsed.a, JsArray)
    assert type(parsed.a[1]) is int
    assert parsed.a[2] == 2.5
    with pytest.raises(TypeError, match="not subscriptable"):
        parsed["a"]
    assert JSON.parse("3") == 3
    assert JSON.stringify(parsed) == '{"a":[1,2,2.5,{"b":null}],"t":true}'
    assert JSON.stringify(None) is None  # undefined
    assert JSON.stringify({"x": float("nan")}) == '{"x":null}'
    assert json.loads(JSON.stringify({"a": [1]}, None, 2)) == {"a": [1]}
    with pytest.raises(JsException, match="SyntaxError"):
        JSON.parse("{nope")
    with pytest.raises(JsException, match="cannot serialise"):
        JSON.stringify({"o": object()})
    with pytest.raises(ImportError, match="replacer"):
        JSON.stringify({}, lambda k, v: v)


# -- Math, Date, console, crypto --------------------------------------------------------------------


def test_math_rounds_halves_up_and_gives_ints():
    assert (Math.round(2.5), Math.round(-2.5), Math.round(0.49)) == (3, -2, 0)
    assert type(Math.floor(1.5)) is int
    assert Math.ceil(1.2) == 2
    assert Math.trunc(-1.7) == -1
    assert Math.max(1, 3, 2) == 3
    assert Math.min() == float("inf")
    assert Math.sqrt(-1) != Math.sqrt(-1)
    assert 0 <= Math.random() < 1
    assert Math.sign(-3) == -1
    assert Math.pow(2, 10) == 1024


def test_date():
    assert isinstance(Date.now(), int)
    assert Date.new(0).toISOString() == "1970-01-01T00:00:00.000Z"
    day = Date.new("2020-01-01T00:00:00Z")
    assert day.getTime() == 1577836800000
    assert day.getDay() == 3
    assert day.getMonth() == 0
    assert Date.new(2020, 1, 29, 23, 59, 58, 7).toISOString() == "2020-02-29T23:59:58.007Z"
    assert Date.new(2020, 12, 1).toISOString().startswith("2021-01-01")  # months overflow as in JavaScript
    assert Date.parse("2020-01-01T00:00:00.123Z") == 1577836800123
    assert python_to_rpc(day).timestamp() == day.timestamp()  # a Date crosses bindings as a datetime
    with pytest.raises(JsException, match="RangeError"):
        Date.new("not a date")


def test_a_date_reads_as_javascripts_string_of_it():
    """`str()` of a Date under Pyodide is JavaScript's `String(date)`; Workers run in UTC."""
    day = Date.new(1700000000000)
    assert str(day) == day.toString() == "Tue Nov 14 2023 22:13:20 GMT+0000 (Coordinated Universal Time)"
    assert f"{day}" == str(day)


def test_console_writes_each_call_as_one_line_to_stderr():
    err = io.StringIO()
    with redirect_stderr(err):
        console.log("hello", to_js({"a": 1}), 2, None)
        console.error("bad")
        console.warn("careful")
    assert err.getvalue().splitlines() == ['hello {"a":1} 2 undefined', "error: bad", "warn: careful"]


def test_crypto():
    assert uuid.UUID(crypto.randomUUID()).version == 4
    buffer = bytearray(16)
    assert crypto.getRandomValues(buffer) is buffer
    assert buffer != bytearray(16)
    with pytest.raises(JsException, match="bytearray"):
        crypto.getRandomValues(to_js(b"1234"))
    with pytest.raises(JsException, match="QuotaExceededError"):
        crypto.getRandomValues(bytearray(65537))
    with pytest.raises(ImportError, match=r"js\.crypto\.subtle is not provided"):
        crypto.subtle  # noqa: B018


# -- Headers, URL, Request, Response ----------------------------------------------------------------


def test_headers():
    headers = Headers.new(to_js({"X-A": "1"}))
    headers.append("x-a", "2")
    headers.append("Set-Cookie", "a=1")
    headers.append("set-cookie", "b=2")
    assert headers.get("x-a") == "1, 2"
    assert headers.has("X-A")
    assert headers.get("missing") is None
    assert headers.getSetCookie() == ["a=1", "b=2"]
    headers.set("x-a", "3")
    headers.delete("set-cookie")
    assert [list(pair) for pair in headers] == [["x-a", "3"]]
    assert Headers.new([["a", "1"], ["a", "2"]]).get("a") == "1, 2"
    with pytest.raises(JsException, match="Invalid header name"):
        Headers.new({"bad name": "x"})


def test_url():
    url = URL.new("https://User:pw@X.dev:443/p/q?a=1&a=2#h")
    assert (url.protocol, url.hostname, url.port, url.host, url.pathname) == ("https:", "x.dev", "", "x.dev", "/p/q")
    assert (url.search, url.hash, url.origin, url.username) == ("?a=1&a=2", "#h", "https://x.dev", "User")
    assert url.searchParams.getAll("a") == ["1", "2"]
    assert URL.new("/z?q=1", "https://x.dev/a/b").href == "https://x.dev/z?q=1"
    assert URL.new("http://x.dev:8080").href == "http://x.dev:8080/"
    assert str(URL.new("https://[::1]:9/")) == "https://[::1]:9/"
    url.searchParams.set("a", "z")
    url.searchParams.append("b", "c d")
    assert url.href == "https://User:pw@x.dev/p/q?a=z&b=c+d#h"  # searchParams changes show in the URL
    assert not URL.canParse("nope")
    assert URL.canParse("/x", "https://x.dev")
    with pytest.raises(JsException, match="Invalid URL"):
        URL.new("https://")


def test_url_search_params():
    params = URLSearchParams.new("?a=1&b=&a=3")
    assert params.get("a") == "1"
    assert params.get("b") == ""
    assert params.get("c") is None
    assert params.size == 3
    params.delete("a")
    assert params.toString() == "b="
    assert URLSearchParams.new({"k": "v w"}).toString() == "k=v+w"


@pytest.mark.parametrize(
    "init", [{"status": 201, "headers": {"X-A": "1"}}, to_js({"status": 201, "headers": {"X-A": "1"}})]
)
async def test_response_new_reads_a_dict_or_an_object_init(init):
    response = Response.new("made", init)
    assert isinstance(response, workers.Response)
    assert response.status == 201
    assert response.headers.get("x-a") == "1"
    assert await response.text() == "made"


def test_response_new_ignores_a_map_init_as_javascript_does():
    assert Response.new("x", to_js({"status": 404}, dict_converter=Map.new)).status == 200


async def test_response_statics_and_errors():
    reply = Response.json(to_js({"a": [1]}), {"status": 202})
    assert reply.status == 202
    assert reply.headers.get("content-type") == "application/json"
    assert await reply.json() == {"a": [1]}
    assert Response.redirect("https://x.dev/", 301).headers.get("location") == "https://x.dev/"
    with pytest.raises(JsException, match="RangeError"):
        Response.new("x", {"status": 99})
    with pytest.raises(JsException, match="RangeError"):
        Response.redirect("https://x.dev/", 200)
    with pytest.raises(JsException, match="TypeError"):
        Response.new("x", "not an init")


async def test_request_new():
    request = Request.new(URL.new("https://x.dev/p"), {"method": "POST", "headers": {"A": "1"}, "body": "b"})
    assert isinstance(request, workers.Request)
    assert (request.url, request.method, request.headers.get("a")) == ("https://x.dev/p", "POST", "1")
    assert await request.text() == "b"
    with pytest.raises(JsException, match="TypeError"):
        Request.new("https://x.dev/", {"method": "GET", "body": "no"})


# -- what is not provided ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ReadableStream", "TransformStream", "setTimeout", "AbortController"])
def test_js_globals_not_provided_say_so(name):
    with pytest.raises(ImportError, match=rf"js\.{name} is not provided by the local runtime"):
        exec(f"from js import {name}")
    with pytest.raises(ImportError, match=re.escape("docs/local-runtime.md")):
        getattr(js, name)


def test_a_name_that_is_no_javascript_global_is_an_attribute_error():
    assert not hasattr(js, "NoSuchThing")
    assert not hasattr(js, "__wrapped__")
