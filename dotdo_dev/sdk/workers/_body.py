"""A body that can be read once, shared by `Request` and `FetchResponse` (as in the Fetch API)."""

from __future__ import annotations


class BodyMixin:
    _body: bytes | None
    _body_used: bool

    @property
    def body_used(self) -> bool:
        return self._body_used

    def _raise_if_failed(self) -> None:
        if self._body_used:
            raise OSError("Body already used")

    def _consume(self) -> bytes:
        self._raise_if_failed()
        self._body_used = self._body is not None
        return self._body or b""

    async def buffer(self) -> bytes:
        return self._consume()

    async def bytes(self) -> bytes:
        return self._consume()

    async def text(self) -> str:
        return self._consume().decode("utf-8", errors="replace")
