"""Outbound fetch failures raise what Pyodide raises: `workers.fetch` (Pyodide's `pyfetch`) an `OSError`
(`pyodide.http.AbortError`), `js.fetch` a `JsException` "TypeError" (JavaScript's fetch, not an OSError).
Measured under npm `pyodide@314.0.7`: pyfetch of a refused port raised AbortError("fetch failed")."""

import asyncio
import socket
import traceback

import js
import pytest
import workers
from pyodide.ffi import JsException, to_js
from pyodide.http import AbortError, BodyUsedError, HttpStatusError, describe_failure


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


# -- offline: the message names the host and the network, and no httpx error shows --------------------------
UNKNOWN = "https://no-such-host.invalid/page"  # .invalid never resolves (RFC 6761), with or without a network


def traceback_text(error):
    return "".join(traceback.format_exception(error))


async def test_an_unreachable_host_is_named_with_the_network_and_no_httpx_error_shows():
    with pytest.raises(AbortError) as caught:
        await workers.fetch(UNKNOWN)
    message = str(caught.value)
    assert message.startswith(f"fetch failed: {UNKNOWN}: cannot reach no-such-host.invalid: ")
    assert "the network is unreachable or the host unknown" in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True  # as Pyodide's `raise AbortError(e) from None`
    assert "ConnectError" not in traceback_text(caught.value)


async def test_js_fetch_of_an_unreachable_host_is_only_a_js_type_error():
    with pytest.raises(JsException) as caught:
        await js.fetch(UNKNOWN)
    assert caught.value.name == "TypeError"
    assert "cannot reach no-such-host.invalid" in caught.value.message
    assert "ConnectError" not in traceback_text(caught.value)
    assert "AbortError" not in traceback_text(caught.value)


async def test_a_refused_connection_names_the_host(closed_url):
    with pytest.raises(AbortError, match=r"127\.0\.0\.1 refused the connection"):
        await workers.fetch(closed_url)


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (TimeoutError("timed out"), "no answer from example.com in time (timed out)"),
        (OSError("[Errno 101] Network is unreachable"), "cannot reach example.com: the network is unreachable"),
        (OSError("[Errno -3] Temporary failure in name resolution"), "the network is unreachable or the host unknown"),
        (OSError("something else"), "cannot reach example.com (something else)"),
    ],
)
def test_failures_are_described_in_words(detail, expected):
    assert expected in describe_failure("https://example.com/x", detail)


def test_a_fetch_on_a_new_event_loop_does_not_reuse_connections_of_a_closed_one(closed_url):
    """Each test (and each `asyncio.run`) has its loop: a keep-alive connection pooled on a loop since
    closed must not be reused, or the next fetch fails with 'Event loop is closed' instead of its error."""
    import http.server
    import threading

    class KeepAlive(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"

        async def text():
            return await (await workers.fetch(url)).text()

        assert asyncio.run(text()) == "ok"
        assert asyncio.run(text()) == "ok"
        with pytest.raises(AbortError):
            asyncio.run(workers.fetch(closed_url))
    finally:
        server.shutdown()
        server.server_close()
