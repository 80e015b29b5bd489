"""WebSocket upgrades inside uvicorn, and joining a worker's WebSocket to the connection.

`WebSocketProtocol` is given to uvicorn as its `ws` protocol (the front door's port and every worker's Unix
socket): uvicorn's HTTP/1.1 protocol hands it a request carrying `Upgrade: websocket`, and it runs the ASGI
app with a `websocket` scope (ASGI 3, spec 2.3, with the `websocket.http.response` extension, so an app can
refuse the upgrade with any HTTP response: a worker that answers 400 to a WebSocket request gives the client
that 400). It needs no WebSocket library: frames are `websocket_wire`'s.

`bridge(end, receive, send)` joins the client end of a worker's 101 response (or the far end of a hop to
another process) to an accepted ASGI WebSocket, both ways, until both sides have closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from dotdo_dev.runtime.websocket_wire import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    FrameReader,
    ProtocolError,
    accept_key,
    close_payload,
    encode_frame,
    parse_close,
)

log = logging.getLogger("dotdo.runtime")

#: The close code a client gets when the process on the other side of a hop died (RFC 6455: 1011,
#: "an unexpected condition"); `reason` names what was lost.
LOST_CODE = 1011
#: Close codes meaning the client broke RFC 6455 (protocol error, text not UTF-8, message too big): the
#: worker's end gets an `error` event (`webSocketError`), then a close that was not clean.
PROTOCOL_ERROR_CODES = frozenset({1002, 1007, 1009})
#: Seconds a peer has to answer a close frame before the connection is cut.
CLOSE_TIMEOUT = 5.0


class WebSocketProtocol(asyncio.Protocol):
    """One upgraded connection: the handshake, then frames, for an ASGI app (uvicorn's `ws=` protocol)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], **_: Any) -> None:
        self.config = config
        self.app = config.loaded_app
        self.root_path = config.root_path
        self.server_state = server_state
        self.app_state = app_state
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.frames = FrameReader(expect_masked=True)
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.accepted = False
        self.refused = False  # answered with an HTTP response instead
        self.close_sent = False
        self.disconnected = False
        self.key = ""
        self.task: asyncio.Task[None] | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self._disconnect(1006, "")

    def data_received(self, data: bytes) -> None:
        if self.task is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = bytes(self.head[:end]), bytes(self.head[end + 4 :])
            self._start(head)
            if not rest:
                return
            data = rest
        if not self.accepted:
            return  # frames before the 101: not read (a client waits for it)
        try:
            messages = self.frames.feed(data)
        except ProtocolError as exc:
            self._close_frame(exc.code, str(exc))
            self._disconnect(exc.code, str(exc))
            self._end()
            return
        for opcode, payload in messages:
            self._message(opcode, payload)

    def shutdown(self) -> None:
        """The server stops (a reload, the platform ending): close with 1012, service restart."""
        if self.accepted:
            self._close_frame(1012, "the worker is restarting")
        self._end()

    # -- the handshake -----------------------------------------------------------------------------
    def _start(self, head: bytes) -> None:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*request_line.split(" ", 2), "", ""][:3]
        pairs = (line.partition(":") for line in lines if line)
        headers = [(k.strip().lower().encode("latin-1"), v.strip().encode("latin-1")) for k, _, v in pairs]
        fields = dict(headers)
        self.key = fields.get(b"sec-websocket-key", b"").decode("latin-1")
        raw_path, _, query = target.partition("?")
        protocols = fields.get(b"sec-websocket-protocol", b"").decode("latin-1")
        server = self.transport.get_extra_info("sockname") if self.transport else None
        client = self.transport.get_extra_info("peername") if self.transport else None
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "method": method,
            "server": tuple(server[:2]) if isinstance(server, tuple) else None,
            "client": tuple(client[:2]) if isinstance(client, tuple) and client else None,
            "root_path": self.root_path,
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "headers": headers,
            "subprotocols": [p.strip() for p in protocols.split(",") if p.strip()],
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.ensure_future(self._run(scope))
        self.server_state.tasks.add(self.task)
        self.task.add_done_callback(self.server_state.tasks.discard)

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self.receive, self.send)
        except Exception:
            log.exception("WebSocket app raised")
            if not self.accepted and not self.refused:
                self._http(500, [(b"content-type", b"text/plain")], b"Internal Server Error")
            elif self.accepted:
                self._close_frame(1011, "")
        finally:
            if not self.accepted and not self.refused:
                self._http(403, [(b"content-type", b"text/plain")], b"Forbidden")
            self._end()

    # -- ASGI ----------------------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.accept" and not self.accepted and not self.refused:
            self.accepted = True
            lines = [b"HTTP/1.1 101 Switching Protocols", b"upgrade: websocket", b"connection: Upgrade"]
            lines.append(b"sec-websocket-accept: " + accept_key(self.key).encode("latin-1"))
            if message.get("subprotocol"):
                lines.append(b"sec-websocket-protocol: " + message["subprotocol"].encode("latin-1"))
            for name, value in message.get("headers") or []:
                if name.lower() not in (b"upgrade", b"connection", b"sec-websocket-accept", b"content-length"):
                    lines.append(name + b": " + value)
            self._write(b"\r\n".join(lines) + b"\r\n\r\n")
        elif kind == "websocket.send" and self.accepted and not self.close_sent:
            if message.get("bytes") is not None:
                self._write(encode_frame(BINARY, bytes(message["bytes"]), mask=False))
            else:
                self._write(encode_frame(TEXT, (message.get("text") or "").encode("utf-8"), mask=False))
        elif kind == "websocket.close":
            if self.accepted:
                self._close_frame(message.get("code", 1000), message.get("reason") or "")
                if self.disconnected:
                    self._end()
                else:  # the client answers the close frame; one that does not is cut off
                    asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._end)
            elif not self.refused:
                self._http(403, [(b"content-type", b"text/plain")], b"Forbidden")
                self._end()
        elif kind == "websocket.http.response.start" and not self.accepted and not self.refused:
            self.refused = True
            self._response_head = (message["status"], list(message.get("headers") or []))
            self._response_body = bytearray()
        elif kind == "websocket.http.response.body" and self.refused:
            self._response_body += message.get("body", b"")
            if not message.get("more_body"):
                status, headers = self._response_head
                self.refused = False  # let _http write it
                self._http(status, headers, bytes(self._response_body))
                self.refused = True
                self._end()

    # -- frames ----------------------------------------------------------------------------------------
    def _message(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                self._close_frame(1007, "a text message that is not UTF-8")
                self._disconnect(1007, "")
                self._end()
                return
            self.inbox.put_nowait({"type": "websocket.receive", "text": text})
        elif opcode == BINARY:
            self.inbox.put_nowait({"type": "websocket.receive", "bytes": payload})
        elif opcode == PING:
            if not self.close_sent:
                self._write(encode_frame(PONG, payload, mask=False))
        elif opcode == CLOSE:
            try:
                code, reason = parse_close(payload)
            except ProtocolError as exc:
                code, reason = exc.code, str(exc)
            self._close_frame(code, reason)  # the answer, unless we closed first
            self._disconnect(code, reason)
            self._end()

    def _close_frame(self, code: int | None, reason: str) -> None:
        if self.close_sent or not self.accepted:
            return
        self.close_sent = True
        self._write(encode_frame(CLOSE, close_payload(code, reason), mask=False))

    def _disconnect(self, code: int, reason: str) -> None:
        if not self.disconnected:
            self.disconnected = True
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    def _http(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self.accepted or self.refused:
            return
        self.refused = True
        try:
            phrase = HTTPStatus(status).phrase.encode("latin-1")
        except ValueError:
            phrase = b""
        lines = [b"HTTP/1.1 %d %s" % (status, phrase)]
        lines += [k + b": " + v for k, v in headers if k.lower() not in (b"content-length", b"connection")]
        lines += [b"content-length: " + str(len(body)).encode(), b"connection: close"]
        self._write(b"\r\n".join(lines) + b"\r\n\r\n" + body)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _end(self) -> None:
        """Close the connection once what was written has gone."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self._disconnect(1006, "")


async def refuse(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Answer a `websocket` scope with an HTTP response instead of the upgrade."""
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


async def bridge(end: Any, receive: Any, send: Any, *, lost: str = "the connection to the worker was lost") -> None:
    """Join `end` (a `js._websocket.JsWebSocket`: the client end of a worker's 101 response, or the far end of
    a hop) to the accepted ASGI WebSocket (`receive`, `send`) until both sides have closed. A close without a
    close frame on the far side (its process died) reaches the client as `LOST_CODE` with `lost` as reason."""
    lost = getattr(end, "_lost_reason", lost)  # a hop to another worker names that worker
    outgoing: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
    end._attach(lambda _socket, kind, args: outgoing.put_nowait((kind, args)))

    async def outward() -> None:
        while True:
            kind, args = await outgoing.get()
            if kind == "message":
                data = args[0]
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": bytes(data)})
            elif kind in ("close", "error"):
                code, reason, clean = args if kind == "close" else (LOST_CODE, lost, False)
                if not clean:
                    code, reason = LOST_CODE, lost
                await send({"type": "websocket.close", "code": None if code == 1005 else code, "reason": reason})
                return

    async def inward() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive":
                text = message.get("text")
                data = text if text is not None else message.get("bytes") or b""
                if not end._close_sent:
                    end._peer._receive("message", (data,))
            elif message["type"] == "websocket.disconnect":
                code = message.get("code", 1005)
                reason = message.get("reason") or ""
                if code in PROTOCOL_ERROR_CODES and not end._close_sent:  # the client broke the protocol
                    end._peer._receive("error", (ConnectionError(f"WebSocket protocol error ({code}): {reason}"),))
                end._send_close(code, reason, code not in PROTOCOL_ERROR_CODES and code != 1006)
                return

    out_task = asyncio.ensure_future(outward())
    in_task = asyncio.ensure_future(inward())
    try:
        await in_task
        # the far side answers the close; wait a moment for it, then stop
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(out_task, 2.0)
    finally:
        for task in (out_task, in_task):
            task.cancel()
