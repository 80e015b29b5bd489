"""WebSockets in the local runtime, as Cloudflare's Python Workers have them (docs/local-runtime.md, "WebSockets").

A fixture worker written here (`sockets`): `/echo` answers with a `WebSocketPair` it accepts itself
(listeners), `/room/<name>` forwards to a Durable Object using the Hibernation API (`acceptWebSocket` with
tags, attachments, `webSocketMessage` / `webSocketClose`), `/plain` is no WebSocket at all. It is served by
`dotdo dev` in its folder and behind the real dispatcher (`make dev`'s platform); clients speak RFC 6455
over TCP (`dotdo_dev.runtime.websocket_wire`, checked against the RFC's own examples first).
"""

from __future__ import annotations

import asyncio
import json
import os
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from dotdo_dev.runtime.websocket_wire import (
    TEXT,
    FrameReader,
    ProtocolError,
    accept_key,
    close_payload,
    connect,
    encode_frame,
    parse_close,
)

ROOT = Path(__file__).resolve().parents[2]

ENTRY = """
import os

from js import Object, WebSocketPair
from workers import DurableObject, Response, WorkerEntrypoint


def _query(url, name):
    query = url.split("?", 1)[1] if "?" in url else ""
    pairs = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return pairs.get(name)


class Room(DurableObject):
    made = 0

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        Room.made += 1

    async def fetch(self, request):
        if (request.headers.get("Upgrade") or "").lower() != "websocket":
            return Response("this room speaks WebSocket", status=426)
        client, server = Object.values(WebSocketPair.new())
        tag = _query(request.url, "tag")
        self.ctx.acceptWebSocket(server, [tag] if tag else [])
        server.serializeAttachment({"user": _query(request.url, "user") or "anon"})
        server.send("welcome " + server.deserializeAttachment()["user"])
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        me = ws.deserializeAttachment()["user"]
        if not isinstance(message, str):
            ws.send(bytes(message.to_bytes())[::-1])
            return
        if message == "who":
            users = sorted(s.deserializeAttachment()["user"] for s in self.ctx.getWebSockets())
            ws.send("users " + ",".join(users))
        elif message == "made":
            ws.send(f"made {Room.made}")
        elif message == "tags":
            ws.send("tags " + ",".join(self.ctx.getTags(ws)))
        elif message.startswith("tag:"):
            tag, text = message[4:].split(" ", 1)
            for other in self.ctx.getWebSockets(tag):
                other.send(f"[{tag}] {me}: {text}")
        elif message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            ws.close(int(code), reason)
        elif message == "die":
            os._exit(3)
        else:
            for other in self.ctx.getWebSockets():
                other.send(f"{me}: {message}")

    async def webSocketError(self, ws, error):
        for other in self.ctx.getWebSockets():
            if other is not ws:
                other.send(f"error {ws.deserializeAttachment()['user']}: {error}")

    async def webSocketClose(self, ws, code, reason, was_clean):
        me = ws.deserializeAttachment()["user"]
        for other in self.ctx.getWebSockets():
            if other is not ws:
                other.send(f"left {me} {code} {reason!r} {was_clean}")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
        if path == "echo":
            if request.headers.get("upgrade") != "websocket":
                return Response("expected Upgrade: websocket", status=426)
            client, server = WebSocketPair.new().object_values()
            server.accept()

            def on_message(event):
                data = event.data
                server.send("echo: " + data if isinstance(data, str) else data.to_bytes())

            server.addEventListener("message", on_message)
            return Response(None, status=101, web_socket=client)
        if path.startswith("room/"):
            return await self.env.ROOMS.getByName(path[5:]).fetch(request)
        return Response("plain")
"""

CONFIG = {
    "name": "sockets",
    "main": "src/ws_fixture_entry.py",
    "compatibility_date": "2026-11-01",
    "compatibility_flags": ["python_workers"],
    "durable_objects": {"bindings": [{"name": "ROOMS", "class_name": "Room"}]},
    "migrations": [{"tag": "v1", "new_sqlite_classes": ["Room"]}],
}


def write_fixture(folder: Path) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "ws_fixture_entry.py").write_text(textwrap.dedent(ENTRY))
    (folder / "wrangler.jsonc").write_text(json.dumps(CONFIG, indent=2))
    return folder


class Client:
    """A WebSocket client over TCP, with a timeout on every read (a hang fails the test)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.connection = answer.connection

    @classmethod
    async def open(cls, base: str, path: str, host: str | None = None) -> Client:
        parts = urlsplit(base)
        answer = await connect(path, [("host", host or parts.netloc)], host=parts.hostname, port=parts.port)
        return cls(answer)

    async def receive(self, timeout: float = 10.0):
        return await asyncio.wait_for(self.connection.receive(), timeout)

    async def text(self) -> str:
        kind, value = await self.receive()
        assert kind == "text", (kind, value)
        return value


# -- the wire format ----------------------------------------------------------------------------------


def test_handshake_key_and_frames_follow_rfc6455_examples():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455, 1.3
    assert encode_frame(TEXT, b"Hello", mask=False) == bytes([0x81, 0x05]) + b"Hello"  # RFC 6455, 5.7
    masked = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    assert FrameReader(expect_masked=True).feed(masked) == [(TEXT, b"Hello")]
    fragmented = bytes([0x01, 0x03]) + b"Hel" + bytes([0x80, 0x02]) + b"lo"
    assert FrameReader(expect_masked=False).feed(fragmented) == [(TEXT, b"Hello")]
    assert len(encode_frame(0x2, b"x" * 70000, mask=False)) == 70000 + 10
    with pytest.raises(ProtocolError):
        FrameReader(expect_masked=True).feed(encode_frame(TEXT, b"x", mask=False))  # a client must mask
    assert parse_close(close_payload(4000, "bye")) == (4000, "bye")
    assert parse_close(b"") == (1005, "")
    assert close_payload(1005) == b""


# -- WebSocketPair and Response(web_socket=) in process ---------------------------------------------------


async def test_pair_ends_deliver_to_each_other_once_accepted():
    from js import JSON, Object, WebSocketPair
    from workers import Response

    client, server = Object.values(WebSocketPair.new())
    seen = []
    with pytest.raises(Exception, match="accept"):
        server.send("too early")
    client.accept()
    client.addEventListener("message", lambda event: seen.append(event.data))
    server.accept()
    server.send("text")
    server.send(b"\x00\x01")
    assert seen == ["text", b"\x00\x01"]
    assert seen[1].to_bytes() == b"\x00\x01"
    with pytest.raises(Exception, match="Invalid WebSocket close code"):
        server.close(1005)
    closes = []
    client.addEventListener("close", lambda event: closes.append((event.code, event.reason, event.wasClean)))
    server.close(4001, "done")
    assert closes == [(4001, "done", True)]
    assert server.readyState == client.readyState == 3  # the client answered the close
    with pytest.raises(Exception, match="after close"):
        server.send("late")
    response = Response(None, status=101, web_socket=client)
    assert response.status == 101
    assert response.js_object.webSocket is client
    with pytest.raises(ValueError, match="101"):
        Response(None, status=200, web_socket=client)
    with pytest.raises(ValueError, match="101"):
        Response(None, status=101)
    assert JSON.stringify(Object.keys(WebSocketPair.new())) == '["0","1"]'


async def test_js_response_new_takes_the_websocket_as_pyodide_passes_keywords():
    from js import Response, WebSocketPair

    client, _server = WebSocketPair.new().object_values()
    response = Response.new(None, status=101, webSocket=client)
    assert response.status == 101
    assert response.js_object.webSocket is client


async def test_outbound_websocket_that_cannot_connect_gives_error_then_close_naming_the_network():
    from js import WebSocket

    ws = WebSocket.new("ws://127.0.0.1:9/feed")  # the discard port: nothing listens
    events = []
    done = asyncio.Event()
    ws.addEventListener("error", lambda event: events.append(("error", event.message)))
    ws.addEventListener("close", lambda event: (events.append(("close", event.code, event.wasClean)), done.set()))
    await asyncio.wait_for(done.wait(), 10)
    assert events[0][0] == "error"
    assert events[0][1].startswith("WebSocket connection to 'ws://127.0.0.1:9/feed' failed: 127.0.0.1 refused")
    assert events[1] == ("close", 1006, False)
    assert ws.readyState == WebSocket.CLOSED
    with pytest.raises(Exception, match="SyntaxError"):
        WebSocket.new("ftp://example.com/")


# -- hibernation in process: the object is made again, sockets, tags and attachments stay ----------------


async def test_hibernation_keeps_sockets_tags_and_attachments(tmp_path):
    from dotdo_dev.testing import WorkerHarness

    harness = WorkerHarness(write_fixture(tmp_path / "sockets"), state_dir=tmp_path / "state")
    received: list = []
    upgrade = {"upgrade": "websocket"}
    response = await harness.fetch("https://s.do/room/h?user=ada&tag=red", headers=upgrade)
    assert response.status == 101
    client = response.js_object.webSocket
    client._attach(lambda _ws, kind, args: received.append((kind, args)))
    assert received == [("message", ("welcome ada",))]

    async def ask(text):
        received.clear()
        client.send(text)
        for _ in range(100):
            if received:
                return received[0][1][0]
            await asyncio.sleep(0.01)
        raise AssertionError(f"no answer to {text!r}")

    made = int((await ask("made")).split()[1])
    rooms = harness.env.ROOMS
    assert rooms.hibernate(rooms.idFromName("h"))
    assert await ask("made") == f"made {made + 1}"  # a new instance took the message
    assert await ask("who") == "users ada"  # the attachment survived
    assert await ask("tags") == "tags red"
    assert await ask(b"abc") == b"cba"


# -- through `dotdo dev` and through `make dev`'s dispatcher ---------------------------------------------


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    from dotdo_dev.testing import start_dev, stop_dev

    folder = write_fixture(tmp_path_factory.mktemp("dev") / "sockets")
    env = {**os.environ, "DOTDO_STATE_DIR": str(folder / ".state")}
    proc, url = start_dev(folder, env)
    yield url
    stop_dev(proc)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory):
    from dotdo_dev.platform import LocalPlatform

    folder = write_fixture(tmp_path_factory.mktemp("platform") / "sockets")
    configs = [ROOT / "dispatcher" / "wrangler.jsonc", folder / "wrangler.jsonc"]
    state = tmp_path_factory.mktemp("state")
    async with LocalPlatform(ROOT, configs=configs, state_dir=state, port=0) as running:
        yield running


@pytest.mark.asyncio(loop_scope="module")
async def test_dotdo_dev_echo_text_binary_and_close_codes(dev_server):
    client = await Client.open(dev_server, "/echo")
    assert client.answer.status == 101
    client.connection.send("hi")
    assert await client.text() == "echo: hi"
    client.connection.send(bytes(range(256)) * 300)  # 76,800 bytes: a 64-bit length
    assert await client.receive() == ("bytes", bytes(range(256)) * 300)
    client.connection.close(4000, "client done")
    assert await client.receive() == ("close", (4000, "client done", True))  # answered with its own code


@pytest.mark.asyncio(loop_scope="module")
async def test_fetch_with_upgrade_gives_a_websocket_to_accept_or_fails_naming_the_network(dev_server):
    from pyodide.http import AbortError
    from workers import fetch

    response = await fetch(dev_server + "/echo", headers={"Upgrade": "websocket"})
    assert response.status == 101
    ws = response.js_object.webSocket
    got = asyncio.Queue()
    ws.addEventListener("message", lambda event: got.put_nowait(event.data))
    ws.accept()
    ws.send("out")
    assert await asyncio.wait_for(got.get(), 10) == "echo: out"
    ws.close(1000)
    plain = await fetch(dev_server + "/plain", headers={"Upgrade": "websocket"})
    assert (plain.status, await plain.text()) == (200, "plain")
    with pytest.raises(AbortError, match="refused the connection"):
        await fetch("http://127.0.0.1:9/", headers={"Upgrade": "websocket"})


@pytest.mark.asyncio(loop_scope="module")
async def test_dotdo_dev_a_plain_request_to_a_websocket_route_gets_the_workers_answer(dev_server):
    import httpx

    async with httpx.AsyncClient(base_url=dev_server) as http:
        assert (await http.get("/echo")).status_code == 426
        room = await http.get("/room/lobby")
        assert (room.status_code, room.text) == (426, "this room speaks WebSocket")
    refused = await Client.open(dev_server, "/plain")  # an upgrade the worker answers with a 200
    assert (refused.answer.status, refused.answer.body, refused.connection) == (200, b"plain", None)


@pytest.mark.asyncio(loop_scope="module")
async def test_dotdo_dev_durable_object_broadcasts_and_closes_from_the_server(dev_server):
    ada = await Client.open(dev_server, "/room/dev?user=ada")
    bob = await Client.open(dev_server, "/room/dev?user=bob")
    assert await ada.text() == "welcome ada"
    assert await bob.text() == "welcome bob"
    ada.connection.send("hello")
    assert await ada.text() == "ada: hello"
    assert await bob.text() == "ada: hello"
    bob.connection.send("close:4002:server says bye")
    assert await bob.receive() == ("close", (4002, "server says bye", True))
    assert await ada.text() == "left bob 4002 'server says bye' True"  # webSocketClose ran on bob's answer
    ada.connection.close(1000)
    assert (await ada.receive())[0] == "close"


@pytest.mark.asyncio(loop_scope="module")
async def test_through_the_dispatcher_two_clients_chat_with_tags_attachments_and_binary(platform):
    ada = await Client.open(platform.url, "/room/lobby?user=ada&tag=red", host="sockets.do")
    assert ada.answer.status == 101, ada.answer
    bob = await Client.open(platform.url, "/api/sockets/room/lobby?user=bob&tag=blue")
    cyd = await Client.open(platform.url, "/room/lobby?user=cyd&tag=red", host="sockets.do")
    assert [await c.text() for c in (ada, bob, cyd)] == ["welcome ada", "welcome bob", "welcome cyd"]
    bob.connection.send("hi all")
    assert [await c.text() for c in (ada, bob, cyd)] == ["bob: hi all"] * 3
    bob.connection.send("tag:red secret")
    assert [await c.text() for c in (ada, cyd)] == ["[red] bob: secret"] * 2
    bob.connection.send("who")
    assert await bob.text() == "users ada,bob,cyd"
    ada.connection.send(b"\x01\x02\x03")
    assert await ada.receive() == ("bytes", b"\x03\x02\x01")
    cyd.connection.close(4005, "cyd leaves")
    assert await cyd.receive() == ("close", (4005, "cyd leaves", True))
    assert await ada.text() == "left cyd 4005 'cyd leaves' True"
    assert await bob.text() == "left cyd 4005 'cyd leaves' True"
    ada.connection.close(1000)
    assert (await ada.receive())[0] == "close"
    assert (await bob.text()).startswith("left ada 1000")  # bob hears of it before bob closes (no race)
    bob.connection.close(1000)
    assert (await bob.receive())[0] == "close"


@pytest.mark.asyncio(loop_scope="module")
async def test_through_the_dispatcher_a_protocol_error_reaches_web_socket_error_then_close(platform):
    ada = await Client.open(platform.url, "/room/strict?user=ada", host="sockets.do")
    bob = await Client.open(platform.url, "/room/strict?user=bob", host="sockets.do")
    assert await ada.text() == "welcome ada"
    assert await bob.text() == "welcome bob"
    bob.connection._writer.write(encode_frame(TEXT, b"\xff\xfe", mask=True))  # text that is not UTF-8
    kind, (code, _reason, _clean) = await bob.receive()
    assert (kind, code) == ("close", 1007)
    error = await ada.text()
    assert error.startswith("error bob: WebSocket protocol error (1007)")
    left = await ada.text()
    assert left.startswith("left bob 1007 ")
    assert left.endswith(" False")  # webSocketClose: not a clean close
    ada.connection.close(1000)
    assert (await ada.receive())[0] == "close"


@pytest.mark.asyncio(loop_scope="module")
async def test_through_the_dispatcher_a_plain_request_and_a_missing_service(platform):
    import httpx

    async with httpx.AsyncClient(base_url=platform.url) as http:
        plain = await http.get("/echo", headers={"host": "sockets.do"})
        assert plain.status_code == 426
    missing = await Client.open(platform.url, "/ws", host="nothing-here.do")
    assert missing.connection is None
    assert missing.answer.status == 404
    assert json.loads(missing.answer.body)["error"]["code"] == "SERVICE_NOT_DEPLOYED"


@pytest.mark.asyncio(loop_scope="module")
async def test_the_front_door_refuses_an_upgrade_that_is_not_a_get_with_an_envelope(platform):
    parts = urlsplit(platform.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        b"POST /echo HTTP/1.1\r\nhost: sockets.do\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["error"]["code"] == "BAD_REQUEST"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_worker_reloaded_closes_its_clients_with_service_restart(platform):
    ada = await Client.open(platform.url, "/echo", host="sockets.do")
    ada.connection.send("before")
    assert await ada.text() == "echo: before"
    restart = asyncio.ensure_future(platform.restart(platform.processes["sockets"].config.path))
    assert await ada.receive() == ("close", (1012, "the worker is restarting", True))
    assert await restart


@pytest.mark.asyncio(loop_scope="module")
async def test_a_worker_dying_mid_connection_closes_its_clients(platform):
    ada = await Client.open(platform.url, "/room/doomed?user=ada", host="sockets.do")
    bob = await Client.open(platform.url, "/room/doomed?user=bob", host="sockets.do")
    assert await ada.text() == "welcome ada"
    assert await bob.text() == "welcome bob"
    ada.connection.send("die")  # the worker's process exits at once
    for client in (ada, bob):
        kind, (code, reason, _clean) = await client.receive(timeout=15)
        assert (kind, code) == ("close", 1011)
        assert "sockets" in reason
    for _ in range(200):  # supervision restarts it; a new connection works
        again = await Client.open(platform.url, "/echo", host="sockets.do")
        if again.connection is not None:
            break
        await asyncio.sleep(0.05)
    again.connection.send("back")
    assert await again.text() == "echo: back"
