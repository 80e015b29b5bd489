"""Outbound fetch failures raise what Pyodide raises: `workers.fetch` (Pyodide's `pyfetch`) an `OSError`
(`pyodide.http.AbortError`), `js.fetch` a `JsException` "TypeError" (JavaScript's fetch, not an OSError).
Measured under npm `pyodide@314.0.7`: pyfetch of a refused port raised AbortError("fetch failed")."""

import asyncio
import socket

import js
import pytest
import workers
from pyodide.ffi import JsException, to_js
from pyodide.http import AbortError, BodyUsedError, HttpStatusError


@pytest.fixture
def closed_url():
    """A URL on a local port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/path"


@pytest.fixture
async def echo_url():
    """A tiny HTTP server answering with the method, a header and the body it received."""

    async def answer(reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        lines = head.split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        text = f"{lines[0].split()[0]} {headers.get('x-test', '-')} {body.decode()}".encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(text), text))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    server.close()
    await server.wait_closed()


async def test_workers_fetch_failure_is_an_oserror(closed_url):
    with pytest.raises(OSError, match="fetch failed") as caught:
        await workers.fetch(closed_url)
    assert isinstance(caught.value, AbortError)
    assert closed_url in str(caught.value)
    assert isinstance(caught.value.reason, JsException)
    assert caught.value.reason.name == "TypeError"


async def test_except_oserror_catches_it_as_on_cloudflare(closed_url):
    async def fetch_or_none():
        try:
            return await workers.fetch(closed_url, method="POST", body="x")
        except OSError:
            return None

    assert await fetch_or_none() is None


async def test_js_fetch_failure_is_a_js_type_error_not_an_oserror(closed_url):
    with pytest.raises(JsException, match="TypeError: fetch failed") as caught:
        await js.fetch(closed_url)
    assert not isinstance(caught.value, OSError)


async def test_js_fetch_sends_the_init_and_returns_a_response(echo_url):
    init = to_js({"method": "POST", "headers": {"X-Test": "yes"}, "body": "hello"})
    response = await js.fetch(echo_url, init)
    assert isinstance(response, workers.Response)
    assert response.status == 200
    assert await response.text() == "POST yes hello"
    plain = await js.fetch(js.URL.new(echo_url))
    assert await plain.text() == "GET - "


def test_pyodide_http_errors_are_oserrors_with_pyodides_messages():
    assert (
        str(HttpStatusError(404, "Not Found", "https://x.dev/"))
        == "404 Client Error: Not Found for url: https://x.dev/"
    )
    assert str(HttpStatusError(503, "Unavailable", "u")).startswith("503 Server Error")
    assert isinstance(BodyUsedError(), OSError)
    assert str(BodyUsedError()) == "Response body is already used"
