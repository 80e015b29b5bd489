"""Request/Response helpers that behave alike under CPython and Pyodide."""

from http import HTTPMethod

from workers import Response

from shared.http import merged, method_of, path_of, query_of, with_headers


def test_path_query_and_method(request_for):
    request = request_for("/a/b%20c?x=1&y=&x=2", "POST", body="{}")
    assert path_of(request) == "/a/b%20c"
    assert query_of(request) == {"x": "2", "y": ""}
    assert method_of(request) == "POST"
    assert isinstance(request.method, HTTPMethod)  # what the SDK gives; method_of gives the plain name


def test_root_path(request_for):
    assert path_of(request_for("")) == "/"


async def test_with_headers_sets_headers_in_place():
    response = Response("x", headers={"a": "1"})
    same = await with_headers(response, {"b": "2", "A": "3"})
    assert same is response
    assert (same.headers.get("a"), same.headers.get("b")) == ("3", "2")


async def test_with_headers_copies_a_response_with_immutable_headers():
    class Immutable:
        def set(self, name, value):
            raise TypeError("Can't modify immutable headers.")

    class Fetched:
        """A response from `fetch`: its JS headers cannot be changed."""

        status = 201
        headers = Response("", headers={"a": "1", "set-cookie": "s=1"}).headers

        status_text = "Created"
        body = b"body"  # a ReadableStream under Pyodide

        class js_object:  # mirrors the SDK attribute
            headers = Immutable()

    copy = await with_headers(Fetched(), {"x-request-id": "r1", "a": "2"})
    assert (copy.status, copy.status_text) == (201, "Created")
    assert (copy.headers.get("x-request-id"), copy.headers.get("a"), copy.headers.get("set-cookie")) == (
        "r1",
        "2",
        "s=1",
    )
    assert await copy.bytes() == b"body"


async def test_merged_keeps_a_fetched_no_content_answer_without_a_body():
    class Fetched:
        """A 204 from a service binding: locally its body is empty bytes, under Pyodide null."""

        status, status_text, body = 204, "", b""
        headers = Response(None, status=204, headers={"x-a": "1"}).headers

        class js_object:
            headers = None

    copy = merged(Fetched(), {"x-ratelimit-remaining": "5"})
    assert copy.status == 204
    assert (copy.headers.get("x-a"), copy.headers.get("x-ratelimit-remaining")) == ("1", "5")
    assert await copy.bytes() == b""


def test_headers_of_converts_once_per_request():
    from shared.http import headers_of

    class CountingRequest:
        """A request whose headers, as the SDK's under Pyodide, are made anew on every access."""

        made = 0

        @property
        def headers(self):
            type(self).made += 1
            return {"authorization": "Bearer x", "x-made": str(type(self).made)}

    request = CountingRequest()
    first = headers_of(request)
    assert headers_of(request) is first
    assert headers_of(request).get("authorization") == "Bearer x"
    assert CountingRequest.made == 1
    other = CountingRequest()
    assert headers_of(other).get("x-made") == "2"  # each request its own

    class Slotted:
        __slots__ = ()

        @property
        def headers(self):
            return {"a": "1"}

    assert headers_of(Slotted()).get("a") == "1"  # no attribute to keep it on: converted each time, still right
