"""`workers.wsgi` serves a WSGI callable as the SDK's bridge does (PEP 3333 environ, status, headers, body)."""

import sys

import pytest
from workers import Request, WorkerEntrypoint, wsgi


class Env:
    DB = "the-db"


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    keys = ["REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT", "CONTENT_TYPE"]
    lines = [f"{key}={environ.get(key)}" for key in keys]
    lines += [f"HTTP_X_CUSTOM={environ.get('HTTP_X_CUSTOM')}", f"CONTENT_LENGTH={environ.get('CONTENT_LENGTH')}"]
    lines += [f"scheme={environ['wsgi.url_scheme']}", f"env={environ['workers.env'].DB}", f"body={body.decode()}"]
    return [line.encode() + b"\n" for line in lines]


async def test_the_environ_and_the_response_follow_pep_3333():
    request = Request(
        "https://api.do/caf%C3%A9/x?q=1&r=2",
        method="POST",
        headers={"X-Custom": "yes", "Content-Type": "text/plain"},
        body="hello",
    )
    response = await wsgi.fetch(echo_app, request, Env())
    assert (response.status, response.status_text) == (201, "Created")
    assert response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    lines = (await response.text()).splitlines()
    assert lines == [
        "REQUEST_METHOD=POST",
        "PATH_INFO=" + "/café/x".encode().decode("latin-1"),  # a WSGI native string
        "QUERY_STRING=q=1&r=2",
        "SERVER_NAME=api.do",
        "SERVER_PORT=443",
        "CONTENT_TYPE=text/plain",
        "HTTP_X_CUSTOM=yes",
        "CONTENT_LENGTH=5",
        "scheme=https",
        "env=the-db",
        "body=hello",
    ]


async def test_write_output_comes_first_and_the_iterable_is_closed():
    closed = []

    class Body:
        def __iter__(self):
            yield b""
            yield b"-iterable"

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        write = start_response("200 OK", [])
        write(b"written")
        return Body()

    response = await wsgi.fetch(app, Request("http://api.do:8080/"), {})
    assert await response.text() == "written-iterable"
    assert closed == [True]


async def test_a_null_body_status_has_no_body():
    def app(environ, start_response):
        start_response("204 No Content", [])
        return [b""]

    response = await wsgi.fetch(app, Request("http://api.do/"), {})
    assert (response.status, response.body) == (204, None)


async def test_an_app_that_never_starts_the_response_is_an_error():
    def app(environ, start_response):
        return [b"body"]

    with pytest.raises(RuntimeError, match="did not call start_response"):
        await wsgi.fetch(app, Request("http://api.do/"), {})


async def test_start_response_twice_without_exc_info_is_an_error():
    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("500 Oops", [])
        return []

    with pytest.raises(AssertionError, match="more than once"):
        await wsgi.fetch(app, Request("http://api.do/"), {})


async def test_exc_info_after_a_start_re_raises_as_in_the_sdk():
    # The SDK counts the response as started once start_response was called, so a second call with
    # exc_info re-raises the original error (PEP 3333's rule for headers already sent).
    def app(environ, start_response):
        start_response("200 OK", [("x-a", "1")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [("x-b", "2")], sys.exc_info())
        return [b"error page"]

    with pytest.raises(ValueError, match="late"):
        await wsgi.fetch(app, Request("http://api.do/"), {})


async def test_exc_info_before_any_start_is_accepted():
    def app(environ, start_response):
        try:
            raise ValueError("early")
        except ValueError:
            start_response("500 Internal Server Error", [("x-b", "2")], sys.exc_info())
        return [b"error page"]

    response = await wsgi.fetch(app, Request("http://api.do/"), {})
    assert (response.status, response.headers.get("x-b"), await response.text()) == (500, "2", "error page")


async def test_an_exception_in_the_app_reaches_the_caller_and_the_iterable_is_closed(caplog):
    closed = []

    class Failing:
        def __iter__(self):
            yield b"a"
            raise KeyError("mid-body")

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Failing()

    with pytest.raises(KeyError, match="mid-body"):
        await wsgi.fetch(app, Request("http://api.do/"), {})
    assert closed == [True]
    assert "WSGI request failed" in caplog.text


async def test_a_status_without_a_number_is_an_error():
    def app(environ, start_response):
        start_response("OK", [])
        return []

    with pytest.raises(ValueError, match="WSGI status must start with a number"):
        await wsgi.fetch(app, Request("http://api.do/"), {})


async def test_entrypoint_makes_a_default_class_serving_the_app():
    Default = wsgi.entrypoint(echo_app)
    assert issubclass(Default, WorkerEntrypoint)
    response = await Default(None, Env()).fetch(Request("http://api.do/"))
    assert "env=the-db" in await response.text()
