"""The lean HTTP/1.1 client of the platform's own hops (dotdo_dev/runtime/http1.py), against real uvicorn
on a Unix socket and a raw asyncio server for what uvicorn never sends."""

import asyncio
import contextlib

import pytest
import uvicorn

from dotdo_dev.runtime.http1 import ConnectFailed, ConnectionLost, Pool


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
    path = scope["path"]
    if path == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-kind", b"chunked")]})
        for piece in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    echo = repr((scope["method"], scope["raw_path"], scope["query_string"], body, headers)).encode()
    await send(
        {"type": "http.response.start", "status": 201, "headers": [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]}
    )
    await send({"type": "http.response.body", "body": echo})


@contextlib.asynccontextmanager
async def serving(path, **options):
    server = uvicorn.Server(uvicorn.Config(app, uds=str(path), log_level="warning", lifespan="off", **options))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def test_requests_bodies_headers_and_reuse_of_one_connection(tmp_path):
    async with serving(tmp_path / "w.sock"):
        pool = Pool(str(tmp_path / "w.sock"))
        reply = await pool.request("POST", "/a%2Fb?x=1&y=%20", [("x-one", "1"), ("Host", "ignored")], b"\x00body")
        assert (reply.status, reply.reason) == (201, "Created")
        method, raw_path, query, body, headers = eval(reply.body)  # our own repr, above
        assert (method, raw_path, query, body) == ("POST", b"/a%2Fb", b"x=1&y=%20", b"\x00body")
        assert ("x-one", "1") in headers
        assert ("host", "worker") in headers
        assert ("content-length", "5") in headers
        assert [v for k, v in reply.headers if k == "set-cookie"] == ["a=1", "b=2"]  # repeated headers kept
        assert reply.header("transfer-encoding") == "chunked"  # no length given: uvicorn chunks, read whole
        chunked = await pool.request("GET", "/chunked")
        assert (chunked.status, chunked.body, chunked.header("x-kind")) == (200, b"one two three", "chunked")
        empty = await pool.request("DELETE", "/empty")
        assert (empty.status, empty.body) == (204, b"")
        assert len(pool._idle) == 1  # one connection carried all three
        many = await asyncio.gather(*(pool.request("GET", f"/n{n}") for n in range(20)))
        assert [eval(r.body)[1] for r in many] == [f"/n{n}".encode() for n in range(20)]
        await pool.aclose()
        assert pool._idle == []


async def test_a_connection_closed_while_idle_is_replaced_without_losing_the_request(tmp_path):
    async with serving(tmp_path / "w.sock", timeout_keep_alive=0.2):
        pool = Pool(str(tmp_path / "w.sock"))
        assert (await pool.request("GET", "/first")).status == 201
        await asyncio.sleep(0.6)  # uvicorn closes the idle connection
        assert eval((await pool.request("POST", "/second", body=b"x")).body)[1] == b"/second"


async def test_nothing_listening_is_connect_failed(tmp_path):
    with pytest.raises(ConnectFailed, match="cannot connect"):
        await Pool(str(tmp_path / "absent.sock")).request("GET", "/")
    with pytest.raises(ConnectFailed):
        await Pool(host="127.0.0.1", port=1).request("GET", "/")
    assert issubclass(ConnectFailed, OSError)
    assert issubclass(ConnectionLost, OSError)


async def raw_server(path, answer):
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await answer(reader, writer)

    return await asyncio.start_unix_server(handle, str(path))


async def test_a_server_dying_mid_answer_is_connection_lost(tmp_path):
    async def half(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.close()

    server = await raw_server(tmp_path / "half.sock", half)
    async with server:
        with pytest.raises(ConnectionLost, match="went away"):
            await Pool(str(tmp_path / "half.sock")).request("GET", "/")


async def test_a_fresh_connection_closed_without_an_answer_is_connection_lost(tmp_path):
    async def silent(reader, writer):
        writer.close()

    async with await raw_server(tmp_path / "silent.sock", silent):
        with pytest.raises(ConnectionLost, match="without answering"):
            await Pool(str(tmp_path / "silent.sock")).request("POST", "/", body=b"x")


async def test_http_1_0_and_close_answers_read_to_the_end_and_are_not_kept(tmp_path):
    async def old(reader, writer):
        writer.write(b"HTTP/1.0 200 OK\r\nconnection: close\r\n\r\nto the end")
        await writer.drain()
        writer.close()

    async with await raw_server(tmp_path / "old.sock", old):
        pool = Pool(str(tmp_path / "old.sock"))
        reply = await pool.request("GET", "/")
        assert (reply.status, reply.body) == (200, b"to the end")
        assert pool._idle == []


async def test_garbage_is_connection_lost_and_header_injection_is_refused(tmp_path):
    async def garbage(reader, writer):
        writer.write(b"SSH-2.0-nope\r\n\r\n")
        await writer.drain()
        writer.close()

    async with await raw_server(tmp_path / "g.sock", garbage):
        with pytest.raises(ConnectionLost, match=r"not an HTTP/1\.1 answer"):
            await Pool(str(tmp_path / "g.sock")).request("GET", "/")
    with pytest.raises(ValueError, match="line break"):
        await Pool(str(tmp_path / "g.sock")).request("GET", "/", [("x", "a\r\nx-evil: 1")])


async def test_the_answer_to_a_head_request_has_no_body_whatever_its_length_says(tmp_path):
    async def head_answer(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n")  # a HEAD answer: the length a GET would get
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request on the same connection
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    async with await raw_server(tmp_path / "head.sock", head_answer):
        pool = Pool(str(tmp_path / "head.sock"))
        reply = await asyncio.wait_for(pool.request("HEAD", "/"), 5)
        assert (reply.status, reply.header("content-length"), reply.body) == (200, "1234", b"")
        after = await asyncio.wait_for(pool.request("GET", "/"), 5)  # the connection is still in step
        assert after.body == b"ok"
