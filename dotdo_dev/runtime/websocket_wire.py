"""WebSocket frames (RFC 6455) and a client connection, over asyncio streams. Standard library only.

The local platform carries a WebSocket across each of its hops (client → front door → worker process →
another worker process) as a WebSocket: `websocket_server.py` serves the upgrade inside uvicorn, and this
module's `connect` opens one to a worker's Unix socket or, for a worker's outbound `new WebSocket(url)`, to a
host on the network. No compression extension is offered or accepted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
import struct
from dataclasses import dataclass, field

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 32 * 1024 * 1024  # Cloudflare's WebSocket message limit is 32 MiB
#: Close codes no endpoint may send in a close frame (RFC 6455, 7.4.1): they describe what happened locally.
NOT_SENT_CODES = frozenset({1005, 1006, 1015})
#: Hop-by-hop headers of the handshake: each hop makes its own.
HANDSHAKE_HEADERS = frozenset(
    {
        "connection",
        "upgrade",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-accept",
        "sec-websocket-extensions",
        "content-length",
        "transfer-encoding",
    }
)


class ProtocolError(Exception):
    """The peer broke RFC 6455; the connection is closed with 1002 (1009 for a message too big)."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


def accept_key(key: str) -> str:
    """`Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")  # noqa: S324


def encode_frame(opcode: int, payload: bytes, *, mask: bool, fin: bool = True) -> bytes:
    """One frame; a client masks its frames, a server does not (RFC 6455, 5.1)."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head.append(bit | length)
    elif length < 1 << 16:
        head.append(bit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(bit | 127)
        head += struct.pack("!Q", length)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + _xor(payload, key)


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")


def close_payload(code: int | None, reason: str = "") -> bytes:
    """The body of a close frame: nothing for "no code" (1005), else the code and the UTF-8 reason."""
    if code is None or code in NOT_SENT_CODES:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")[:123]


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's body: 1005 and "" when it carries no code."""
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise ProtocolError("a close frame's body cannot be one byte")
    (code,) = struct.unpack("!H", payload[:2])
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("the close reason is not UTF-8", 1007) from None


@dataclass
class FrameReader:
    """Turns received bytes into (opcode, payload) messages: fragments joined, control frames as they come."""

    expect_masked: bool
    max_message: int = MAX_MESSAGE
    _buffer: bytearray = field(default_factory=bytearray)
    _fragments: list[bytes] = field(default_factory=list)
    _fragment_opcode: int | None = None

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        messages = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return messages
            fin, opcode, payload = frame
            if opcode >= CLOSE:
                if not fin or len(payload) > 125:
                    raise ProtocolError("control frames cannot be fragmented or longer than 125 bytes")
                messages.append((opcode, payload))
                continue
            if opcode == CONTINUATION:
                if self._fragment_opcode is None:
                    raise ProtocolError("a continuation frame without a message to continue")
            elif self._fragment_opcode is not None:
                raise ProtocolError("a new message began before the last one ended")
            else:
                self._fragment_opcode = opcode
            self._fragments.append(payload)
            if sum(len(p) for p in self._fragments) > self.max_message:
                raise ProtocolError("message too big", 1009)
            if fin:
                whole = b"".join(self._fragments)
                messages.append((self._fragment_opcode, whole))
                self._fragments, self._fragment_opcode = [], None

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        fin, rsv, opcode = buf[0] & 0x80, buf[0] & 0x70, buf[0] & 0x0F
        masked, length = buf[1] & 0x80, buf[1] & 0x7F
        if rsv:
            raise ProtocolError("reserved bits set (no extension was agreed)")
        if opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG):
            raise ProtocolError(f"unknown opcode {opcode:#x}")
        if bool(masked) != self.expect_masked:
            raise ProtocolError("frames from a client must be masked, frames from a server not")
        at = 2
        if length == 126:
            if len(buf) < 4:
                return None
            (length,) = struct.unpack("!H", buf[2:4])
            at = 4
        elif length == 127:
            if len(buf) < 10:
                return None
            (length,) = struct.unpack("!Q", buf[2:10])
            at = 10
        if length > self.max_message:
            raise ProtocolError("message too big", 1009)
        key = b""
        if masked:
            if len(buf) < at + 4:
                return None
            key = bytes(buf[at : at + 4])
            at += 4
        if len(buf) < at + length:
            return None
        payload = bytes(buf[at : at + length])
        del buf[: at + length]
        return bool(fin), opcode, _xor(payload, key) if masked else payload


@dataclass
class HandshakeAnswer:
    """The server's answer to an upgrade request: 101 with a `connection`, or any other response whole."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    connection: ClientConnection | None = None


class ClientConnection:
    """The client side of an open WebSocket: `send`, `close`, and `receive()` giving (kind, value) events:
    ("text", str), ("bytes", bytes), ("close", (code, reason, was_clean)); pings are answered here."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, leftover: bytes = b"") -> None:
        self._reader = reader
        self._writer = writer
        self._frames = FrameReader(expect_masked=False)
        self._ready: list[tuple[int, bytes]] = self._frames.feed(leftover) if leftover else []
        self.close_sent = False
        self.closed = False

    def send(self, data: str | bytes) -> None:
        if self.close_sent or self._writer.is_closing():
            return
        opcode, payload = (TEXT, data.encode("utf-8")) if isinstance(data, str) else (BINARY, bytes(data))
        self._writer.write(encode_frame(opcode, payload, mask=True))

    def close(self, code: int | None = 1000, reason: str = "") -> None:
        """Send a close frame (once); the connection ends when the server answers it."""
        if self.close_sent or self._writer.is_closing():
            return
        self.close_sent = True
        self._writer.write(encode_frame(CLOSE, close_payload(code, reason), mask=True))

    def abort(self) -> None:
        self.closed = True
        self._writer.close()

    async def receive(self) -> tuple[str, object]:
        while True:
            while self._ready:
                opcode, payload = self._ready.pop(0)
                if opcode == TEXT:
                    try:
                        return "text", payload.decode("utf-8")
                    except UnicodeDecodeError:
                        return self._fail(ProtocolError("a text message that is not UTF-8", 1007))
                if opcode == BINARY:
                    return "bytes", payload
                if opcode == PING and not self.close_sent:
                    self._writer.write(encode_frame(PONG, payload, mask=True))
                elif opcode == CLOSE:
                    try:
                        code, reason = parse_close(payload)
                    except ProtocolError as exc:
                        return self._fail(exc)
                    if not self.close_sent:
                        self.close_sent = True
                        self._writer.write(encode_frame(CLOSE, close_payload(code, reason), mask=True))
                    self.abort()
                    return "close", (code, reason, True)
            if self.closed:
                return "close", (1006, "", False)
            try:
                data = await self._reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                self.abort()
                return "close", (1006, "", False)
            try:
                self._ready += self._frames.feed(data)
            except ProtocolError as exc:
                return self._fail(exc)

    def _fail(self, exc: ProtocolError) -> tuple[str, object]:
        if not self.close_sent:
            self.close_sent = True
            self._writer.write(encode_frame(CLOSE, close_payload(exc.code, str(exc)), mask=True))
        self.abort()
        return "close", (exc.code, str(exc), False)


async def connect(
    path: str,
    headers: list[tuple[str, str]],
    *,
    unix: str | None = None,
    host: str | None = None,
    port: int | None = None,
    tls: bool = False,
    timeout: float = 10.0,  # noqa: ASYNC109 - the connect and the answer, each
) -> HandshakeAnswer:
    """Send an upgrade request for `path` (to the Unix socket `unix`, or `host:port`, over TLS if `tls`)
    and read the answer. OSError if the connection cannot be made (the caller names the network)."""
    if unix is not None:
        opening = asyncio.open_unix_connection(unix)
    else:
        context = ssl.create_default_context() if tls else None
        opening = asyncio.open_connection(host, port, ssl=context, server_hostname=host if tls else None)
    reader, writer = await asyncio.wait_for(opening, timeout)
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    lines = [f"GET {path} HTTP/1.1"]
    given = [(k, v) for k, v in headers if k.lower() not in HANDSHAKE_HEADERS]
    if not any(k.lower() == "host" for k, _ in given):
        given.insert(0, ("host", host or "localhost"))
    lines += [f"{k}: {v}" for k, v in given]
    lines += ["upgrade: websocket", "connection: Upgrade", f"sec-websocket-key: {key}", "sec-websocket-version: 13"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        writer.close()
        raise ConnectionError("the server closed the connection before answering the upgrade") from exc
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    answer_headers = [(k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in header_lines if h)]
    fields = dict(answer_headers)
    if status != 101:
        length = int(fields.get("content-length") or 0)
        try:
            body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        except asyncio.IncompleteReadError as exc:
            body = exc.partial
        writer.close()
        return HandshakeAnswer(status, reason, answer_headers, body)
    if fields.get("sec-websocket-accept") != accept_key(key):
        writer.close()
        raise ConnectionError("the server's Sec-WebSocket-Accept does not match the key sent")
    leftover = reader._buffer  # frames sent right after the 101 (asyncio keeps them in the reader)
    extra = bytes(leftover)
    leftover.clear()
    return HandshakeAnswer(status, reason, answer_headers, b"", ClientConnection(reader, writer, extra))
