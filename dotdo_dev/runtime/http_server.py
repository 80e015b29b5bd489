"""The HTTP/1.1 protocol every server of the local platform speaks: uvicorn's on httptools, one write per answer.

uvicorn writes an answer's status line and headers when the app sends `http.response.start`, and its body
when the app sends `http.response.body`: two `write`s, so two packets, and the caller, which reads the
headers first, can be woken twice for one answer. Each hop of the platform (the front door to a worker,
a worker to another) paid for it. `OneWriteProtocol` hands uvicorn a transport whose writes made within
one turn of the event loop leave together (`OneWriteTransport`): an answer sent whole by
`bodies.send_response` is one `write`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["OneWriteProtocol", "OneWriteTransport"]


class OneWriteTransport:
    """A transport whose `write`s within one turn of the event loop are joined and written once, at the end of
    that turn (before the loop waits again). Closing writes what is pending first; everything else is the
    wrapped transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(data) for data in self._pending)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a `OneWriteTransport` (and so does the WebSocket protocol a
    connection is upgraded to: it is handed the same transport)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]
