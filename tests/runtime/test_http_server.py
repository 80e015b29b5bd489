"""One write per answer (runtime/http_server.py): what the servers of the local platform send on a connection."""

from __future__ import annotations

import asyncio

import pytest

from dotdo_dev.runtime.http_server import OneWriteTransport


class Recorder:
    """A transport that records each write it is given."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


@pytest.mark.asyncio
async def test_writes_within_one_turn_of_the_loop_leave_in_one_write_in_order():
    raw = Recorder()
    transport = OneWriteTransport(raw, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(memoryview(b"ok"))
    transport.write(b"")
    assert raw.writes == []  # nothing until the turn ends
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    transport.writelines([b"a", b"b"])
    await asyncio.sleep(0)
    assert raw.writes[1:] == [b"ab"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the wrapped transport's


@pytest.mark.asyncio
async def test_close_writes_what_is_pending_first_and_abort_drops_it():
    raw = Recorder()
    transport = OneWriteTransport(raw, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert raw.writes == [b"last words"]
    assert raw.closed
    await asyncio.sleep(0)
    assert raw.writes == [b"last words"]  # written once

    other = Recorder()
    transport = OneWriteTransport(other, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert other.writes == []
    assert other.aborted


@pytest.mark.asyncio
async def test_nothing_is_written_to_a_transport_closed_meanwhile():
    raw = Recorder()
    transport = OneWriteTransport(raw, asyncio.get_running_loop())
    transport.write(b"late")
    raw.closed = True  # the peer went away before the turn ended
    await asyncio.sleep(0)
    assert raw.writes == []


@pytest.mark.asyncio
async def test_a_worker_answer_arrives_in_one_piece(tmp_path):
    """Through a real server: status line, headers and body of an answer come in one read."""
    import uvicorn

    from dotdo_dev.runtime.http_server import OneWriteProtocol

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})

    config = uvicorn.Config(app, uds=str(tmp_path / "s.sock"), http=OneWriteProtocol, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        reader, writer = await asyncio.open_unix_connection(str(tmp_path / "s.sock"))
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.read(65536), 5)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")
        assert first.endswith(b"\r\n\r\nhello")
        writer.close()
    finally:
        server.should_exit = True
        await serving
