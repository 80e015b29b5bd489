"""ASGI bodies as the front door and every worker's host handle them: a request body read with a cap, a
`workers.Response` sent whole."""

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


async def send_response(send: Any, response: Any, *, head: bool = False) -> None:
    """Send `response` (a `workers.Response` whose body is read) whole. To a HEAD request the response's own
    `Content-Length` stands (the size a GET would get: R2's and static assets' HEAD answers say so);
    otherwise it is the length sent."""
    body = response.body or b""
    length = str(len(body))
    if head:
        length = next((v for k, v in response._headers if k == "content-length" and v.isdigit()), length)
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response._headers if k != "content-length"]
    headers.append((b"content-length", length.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
