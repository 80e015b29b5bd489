"""Reading an ASGI request body with a cap: the front door and every worker's host read bodies so."""

from __future__ import annotations

from typing import Any


async def read_capped(receive: Any, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes `limit` bytes (what is left is not read).

    A client that disconnects ends the body where it stopped.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
