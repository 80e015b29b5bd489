"""`WebSocketPair` and `WebSocket`: the Workers runtime's WebSockets, seen from Python.

`js.WebSocketPair.new()` gives an object with two connected sockets at keys "0" (the client end, returned
in `Response(None, status=101, web_socket=client)`) and "1" (the server end the worker keeps):
`Object.values(pair)` and `pair.object_values()` both give `[client, server]`. What one end sends, the
other receives. The server end must be accepted before it sends: `server.accept()` (then events reach
`addEventListener` listeners and the `on<event>` properties) or, in a Durable Object,
`ctx.acceptWebSocket(server)` (then they reach the object's `webSocketMessage` / `webSocketClose` /
`webSocketError` handlers). The local runtime takes the client end of a 101 response and joins it to the
network connection (`dotdo_dev/runtime/websocket_server.py`).

`js.WebSocket.new(url)` opens an outbound connection (ws, wss, http, https URLs): events `open`, `message`,
`close`, `error`, as in a browser; a connection that cannot be made gives an `error` event naming the
network failure, then `close` with code 1006.

Text messages arrive as `str`, binary ones as a Uint8Array-like `JsBuffer` (bytes with `to_bytes()`), as
workerd gives an ArrayBuffer; `send` takes `str` or bytes-like data.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pyodide._values import JsBuffer, JsException, JsObject, JsProxy

log = logging.getLogger("dotdo.runtime")

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
_EVENTS = ("open", "message", "close", "error")


def _valid_code(code: Any) -> int:
    """A close code a worker may send: 1000-1003, 1007-1014 or 3000-4999 (RFC 6455, 7.4)."""
    if not isinstance(code, int) or isinstance(code, bool):
        raise JsException("TypeError", f"Invalid WebSocket close code: {code!r}")
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise JsException("TypeError", f"Invalid WebSocket close code: {code}")
    return code


def _payload(data: Any) -> str | bytes:
    if isinstance(data, str):
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    buffer = getattr(data, "buffer", None)  # a Uint8Array's ArrayBuffer
    if isinstance(buffer, bytes | bytearray | memoryview):
        return bytes(buffer)
    raise JsException("TypeError", f"WebSocket send() takes a string or bytes, not {type(data).__name__}")


class Event(JsProxy):
    """A WebSocket event: `type`, plus `data` (message), `code`/`reason`/`wasClean` (close), `message`/`error`."""

    def __init__(self, type: str, target: JsWebSocket, **fields: Any) -> None:
        self.type = type
        self.target = self.currentTarget = target
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        shown = {k: v for k, v in vars(self).items() if k not in ("target", "currentTarget", "error")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class JsWebSocket(JsProxy):
    """One end of a WebSocket (Cloudflare's `WebSocket`)."""

    CONNECTING, OPEN, CLOSING, CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.protocol = ""
        self.extensions = ""
        self.binaryType = "blob"
        self.readyState = OPEN
        self.onopen: Any = None
        self.onmessage: Any = None
        self.onclose: Any = None
        self.onerror: Any = None
        self._listeners: dict[str, list[Any]] = {name: [] for name in _EVENTS}
        self._peer: Any = None  # the other end, or a network connection (`_NetworkPeer`)
        self._accepted = False
        #: Who takes this end's events instead of listeners: the runtime joining it to the network, or
        #: the Durable Object that accepted it for hibernation: `sink(socket, kind, args)`.
        self._sink: Callable[[JsWebSocket, str, tuple[Any, ...]], None] | None = None
        self._hibernatable = False
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._close_sent = False
        self._close_received = False
        self._attachment: Any = None

    def __repr__(self) -> str:
        return f"WebSocket(readyState={self.readyState})"

    # -- the WebSocket API -------------------------------------------------------------------------
    def accept(self, options: Any = None) -> None:
        """Start taking events on this end (through listeners); queued ones are delivered now."""
        if self._hibernatable:
            raise JsException("TypeError", "This WebSocket was accepted by state.acceptWebSocket(); do not accept() it")
        if self._accepted:
            raise JsException("TypeError", "accept() was already called on this WebSocket")
        if self._peer is None:
            raise JsException("TypeError", "accept() is for the ends of a WebSocketPair or a fetched WebSocket")
        self._accepted = True
        self._flush()

    def addEventListener(self, type: str, listener: Any, options: Any = None) -> None:
        if type in self._listeners and listener not in self._listeners[type]:
            self._listeners[type].append(listener)

    def removeEventListener(self, type: str, listener: Any, options: Any = None) -> None:
        if listener in self._listeners.get(type, []):
            self._listeners[type].remove(listener)

    def send(self, message: Any) -> None:
        if not (self._accepted or self._sink is not None):
            raise JsException(
                "TypeError",
                "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages.",
            )
        if self.readyState == CONNECTING:
            raise JsException("InvalidStateError", "The WebSocket is still connecting")
        if self._close_sent or self.readyState == CLOSED:
            raise JsException("TypeError", "Can't call WebSocket send() after close().")
        self._peer._receive("message", (_payload(message),))

    def close(self, code: Any = None, reason: Any = None) -> None:
        """Close this end (once; later calls do nothing). No code: the other end sees 1005."""
        if code is not None:
            _valid_code(code)
        text = "" if reason is None else str(reason)
        if len(text.encode("utf-8")) > 123:
            raise JsException("TypeError", "The WebSocket close reason is longer than 123 bytes")
        self._send_close(code if code is not None else 1005, text, True)

    def serializeAttachment(self, value: Any) -> None:
        """Keep a structured clone of `value` with the socket (it survives hibernation)."""
        from workers.rpc import python_to_rpc  # the structured-clone rules of the local runtime

        python_to_rpc(value)  # refuses what structured clone refuses
        import copy

        self._attachment = copy.deepcopy(value)

    def deserializeAttachment(self) -> Any:
        """A copy of the value given to `serializeAttachment`, or None."""
        import copy

        return copy.deepcopy(self._attachment)

    # -- plumbing ------------------------------------------------------------------------------------
    def _send_close(self, code: int, reason: str, clean: bool) -> None:
        if self._close_sent or self.readyState == CLOSED:
            return
        self._close_sent = True
        self.readyState = CLOSED if self._close_received else CLOSING
        if self._peer is not None:
            self._peer._receive("close", (code, reason, clean))

    def _attach(self, sink: Callable[[JsWebSocket, str, tuple[Any, ...]], None]) -> None:
        """Give this end's events to `sink` from now on (queued ones first)."""
        self._sink = sink
        self._flush()

    def _receive(self, kind: str, args: tuple[Any, ...]) -> None:
        """An event for this end: ("message", (data,)), ("close", (code, reason, clean)), ("error", (exc,))."""
        if kind == "close":
            if self._close_received:
                return
            self._close_received = True
            self.readyState = CLOSED if self._close_sent else CLOSING
        if self._sink is not None:
            self._sink(self, kind, args)
        elif self._accepted:
            self._dispatch(kind, args)
        else:
            self._pending.append((kind, args))

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for kind, args in pending:
            if self._sink is not None:
                self._sink(self, kind, args)
            else:
                self._dispatch(kind, args)

    def _after_close_event(self, code: int, reason: str) -> None:
        """A close received and handled: answer it unless the handler did (workerd answers it too)."""
        if not self._close_sent:
            self._send_close(code if code not in (1005, 1006, 1015) else 1000, reason, True)
        self.readyState = CLOSED

    def _dispatch(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "message":
            data = args[0]
            event = Event("message", self, data=data if isinstance(data, str) else JsBuffer(data))
        elif kind == "close":
            code, reason, clean = args
            event = Event("close", self, code=code, reason=reason, wasClean=clean)
        elif kind == "open":
            event = Event("open", self)
        else:
            error = args[0]
            event = Event("error", self, message=str(error), error=error)
        handlers = [getattr(self, f"on{event.type}", None), *self._listeners[event.type]]
        for handler in handlers:
            if handler is None:
                continue
            call = getattr(handler, "handleEvent", handler)
            try:
                result = call(event)
                if inspect.isawaitable(result):
                    _background(result, f"WebSocket {event.type} listener")
            except Exception as exc:
                if not getattr(exc, "logged", False):  # ctx.abort() logs its own line
                    log.exception("WebSocket %s listener raised", event.type)
        if kind == "close":
            self._after_close_event(event.code, event.reason)


_TASKS: set[asyncio.Task[Any]] = set()


def _background(awaitable: Any, what: str) -> None:
    async def run() -> None:
        try:
            await awaitable
        except Exception as exc:
            if not getattr(exc, "logged", False):
                log.exception("%s raised", what)

    task = asyncio.ensure_future(run())
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


def pair() -> tuple[JsWebSocket, JsWebSocket]:
    """Two connected ends: (client, server)."""
    client, server = JsWebSocket(), JsWebSocket()
    client._peer, server._peer = server, client
    return client, server


class WebSocketPair:
    """`new WebSocketPair()`: `js.WebSocketPair.new()` is an object {0: client, 1: server}."""

    @staticmethod
    def new() -> JsObject:
        client, server = pair()
        made = JsObject()
        dict.__setitem__(made, "0", client)
        dict.__setitem__(made, "1", server)
        return made


class _NetworkPeer:
    """The far side of a socket joined to a network connection (`websocket_wire.ClientConnection`)."""

    def __init__(self, end: JsWebSocket, connection: Any) -> None:
        self.end = end
        self.connection = connection
        self.reader = asyncio.ensure_future(self._read())
        _TASKS.add(self.reader)
        self.reader.add_done_callback(_TASKS.discard)

    def _receive(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind == "message":
            self.connection.send(args[0])
        elif kind == "close":
            code, reason, clean = args
            if clean or code not in (1005, 1006, 1015):  # a protocol error's code goes on to the next hop
                self.connection.close(None if code == 1005 else code, reason)
            else:
                self.connection.abort()

    async def _read(self) -> None:
        while True:
            kind, value = await self.connection.receive()
            if kind == "close":
                self.end._receive("close", value)
                return
            self.end._receive("message", (value,))


def join_network(connection: Any, url: str | None = None, protocol: str = "") -> JsWebSocket:
    """A socket whose far side is `connection` (the runtime's hop to another worker, or an outbound URL)."""
    end = JsWebSocket(url)
    end.protocol = protocol
    end._peer = _NetworkPeer(end, connection)
    return end


class WebSocket:
    """`new WebSocket(url, protocols)`: `js.WebSocket.new(url)` connects outbound."""

    CONNECTING, OPEN, CLOSING, CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

    @staticmethod
    def new(url: Any, protocols: Any = None) -> JsWebSocket:
        text = str(url)
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("ws", "wss", "http", "https") or not parts.hostname:
            raise JsException("SyntaxError", f"Invalid WebSocket URL: {text!r}")
        if isinstance(protocols, str):
            protocols = [protocols]
        end = JsWebSocket(text)
        end.readyState = CONNECTING
        end._accepted = True  # a browser-style socket: listeners get events at once
        _background(_open(end, parts, list(protocols or [])), f"WebSocket to {text}")
        return end


async def _open(end: JsWebSocket, parts: Any, protocols: list[str]) -> None:
    from dotdo_dev.runtime.websocket_wire import connect

    tls = parts.scheme.lower() in ("wss", "https")
    port = parts.port or (443 if tls else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("host", parts.netloc)]
    if protocols:
        headers.append(("sec-websocket-protocol", ", ".join(protocols)))
    try:
        answer = await connect(path, headers, host=parts.hostname, port=port, tls=tls)
    except (OSError, TimeoutError, ValueError) as exc:
        from pyodide.http import describe_failure

        reason = describe_failure(end.url or "", exc)
        failure = ConnectionError(f"WebSocket connection to {end.url!r} failed: {reason}")
        _fail(end, failure)
        return
    if answer.connection is None:
        _fail(end, ConnectionError(f"WebSocket connection to {end.url!r} failed: the server answered {answer.status}"))
        return
    end.protocol = dict(answer.headers).get("sec-websocket-protocol", "")
    end._peer = _NetworkPeer(end, answer.connection)
    end.readyState = OPEN
    end._dispatch("open", ())


def _fail(end: JsWebSocket, error: Exception) -> None:
    log.warning("%s", error)
    end._close_sent = True  # nothing to answer: there is no connection
    end.readyState = CLOSED
    end._dispatch("error", (error,))
    end._close_received = True
    end._dispatch("close", (1006, "", False))
