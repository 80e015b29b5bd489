"""The local `workers.Request`/`Response` behave like the Fetch API objects the real SDK wraps."""

from http import HTTPMethod

import pytest
from workers import Request, Response


async def test_request_basics():
    req = Request(
        "https://db.do/things?x=1", method="post", headers={"X-Test": "a", "Content-Type": "text/plain"}, body="hi"
    )
    assert req.method is HTTPMethod.POST
    assert req.url == "https://db.do/things?x=1"
    assert req.headers.get("x-test") == "a"
    assert req.headers.get("X-TEST") == "a"
    assert await req.text() == "hi"
    assert req.body_used
    with pytest.raises(OSError, match="Body already used"):
        await req.text()


async def test_request_json_and_clone():
    req = Request("https://db.do/", method=HTTPMethod.PUT, body=b'{"a": 1}')
    copy = req.clone()
    assert await req.json() == {"a": 1}
    assert await copy.bytes() == b'{"a": 1}'


def test_request_rejects_body_on_get_and_bad_input():
    with pytest.raises(TypeError, match="GET or HEAD"):
        Request("https://x.do/", body="x")
    with pytest.raises(TypeError, match="Invalid URL"):
        Request("/relative")
    with pytest.raises(TypeError, match="method"):
        Request("https://x.do/", method="FETCH")
    with pytest.raises(TypeError):
        Request("https://x.do/", headers={"bad header": "x"})
    with pytest.raises(TypeError):
        Request("https://x.do/", headers={"x": "a\r\nInjected: 1"})


def test_repeated_headers_are_combined_except_set_cookie():
    req = Request("https://x.do/", headers=[("Accept", "a"), ("accept", "b"), ("Set-Cookie", "1"), ("set-cookie", "2")])
    assert req.headers.get("accept") == "a, b"
    assert req.headers.get_all("set-cookie") == ["1", "2"]


async def test_response_text_default_content_type():
    resp = Response("hello", status=201, headers={"X-A": "1"})
    assert resp.status == 201
    assert resp.ok
    assert resp.headers.get("content-type") == "text/plain;charset=UTF-8"
    assert resp.headers.get("x-a") == "1"
    assert await resp.text() == "hello"


async def test_response_json_static_and_instance():
    resp = Response.json({"a": [1, 2]}, status=404, headers={"x-b": "2"})
    assert resp.status == 404
    assert not resp.ok
    assert resp.headers.get("content-type") == "application/json"
    assert await resp.json() == {"a": [1, 2]}


def test_response_json_keeps_an_explicit_content_type():
    resp = Response.json({"a": 1}, headers={"Content-Type": "application/problem+json"})
    assert resp.headers.get("content-type") == "application/problem+json"


def test_response_redirect():
    resp = Response.redirect("https://x.do/next", 301)
    assert resp.status == 301
    assert resp.headers.get("location") == "https://x.do/next"
    with pytest.raises(ValueError, match="redirect"):
        Response.redirect("https://x.do/", 200)


def test_response_rejects_what_the_fetch_api_rejects():
    with pytest.raises(TypeError, match="Unsupported type"):
        Response({"a": 1})
    with pytest.raises(ValueError, match="200 to 599"):
        Response("x", status=99)
    with pytest.raises(TypeError, match="null body status"):
        Response("x", status=204)
    assert Response(None, status=204).status == 204


async def test_wrapping_a_response_copies_it():
    original = Response("x", status=202)
    wrapped = Response(original)
    assert wrapped.status == 202
    assert await wrapped.text() == "x"
    with pytest.raises(ValueError, match="no options"):
        Response(original, status=200)


def test_request_attributes_workerd_does_not_implement_read_as_none():
    req = Request("https://x.do/")
    assert (req.cache, req.credentials, req.destination, req.mode) == (None, None, None, None)
    assert (req.referrer, req.referrer_policy, req.is_history_navigation) == (None, None, None)
    assert (req.integrity, req.keepalive) == ("", False)


async def test_unpack_archive_extracts_the_body(tmp_path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner/a.txt", "hello")
    response = Response(buffer.getvalue())
    await response.unpack_archive(extract_dir=str(tmp_path), format="zip")
    assert (tmp_path / "inner" / "a.txt").read_text() == "hello"
    with pytest.raises(OSError, match="Body already used"):
        await response.unpack_archive(extract_dir=str(tmp_path), format="zip")
