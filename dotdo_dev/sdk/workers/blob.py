"""`Blob` and `File`: the SDK's wrappers of the File API's immutable binary objects, in pure Python.

Under Pyodide they wrap a JS `Blob`/`File`; locally the bytes are kept in Python and `js_object` is
the object itself. Parts may be `str` (UTF-8), bytes-like objects or other blobs; a single `str`,
bytes or blob may be passed instead of a list, as with the SDK.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

BlobValue = "str | bytes | js.ArrayBuffer | js.TypedArray | js.DataView | js.Blob | Blob | File"

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class BlobEnding(StrEnum):
    """How line endings in `str` parts are written: kept (`transparent`) or made native (`native`)."""

    TRANSPARENT = "transparent"
    NATIVE = "native"


class Blob:
    """Immutable bytes with a content type (see the File API's `Blob`)."""

    def __init__(
        self,
        blob_parts: Iterable[BlobValue] | BlobValue,
        content_type: str | None = None,
        endings: BlobEnding | str | None = None,
    ):
        if not _is_sequence_of_parts(blob_parts):
            # One item: its content type is inherited (a File's name and date are not).
            if not content_type and isinstance(blob_parts, Blob):
                content_type = blob_parts.content_type
            blob_parts = [blob_parts]
        self._data = _join_parts(blob_parts, _ending(endings))  # type: ignore[arg-type]
        self._type = _normalise_type(content_type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, content_type={self._type!r})"

    @property
    def size(self) -> int:
        """The number of bytes."""
        return len(self._data)

    @property
    def content_type(self) -> str:
        """The MIME type, lower-cased, or "" when none (or an invalid one) was given."""
        return self._type

    @property
    def js_object(self) -> Blob:
        """The underlying blob (a JS `Blob` under Pyodide). Locally this is the blob itself."""
        return self

    async def text(self) -> str:
        """The bytes decoded as UTF-8 (invalid sequences become U+FFFD)."""
        return self._data.decode("utf-8", errors="replace")

    async def bytes(self) -> bytes:
        """The bytes."""
        return self._data

    def slice(self, start: int | None = None, end: int | None = None, content_type: str | None = None):
        """A new `Blob` of the bytes between `start` and `end` (negative values count from the end).

        As with the real SDK 1.9.5, the slice's `content_type` is "" whatever is passed: the SDK wraps
        the sliced JS blob in a new `Blob` without a type.
        """
        first, last = _clamp(start, self.size, 0), _clamp(end, self.size, self.size)
        return Blob([self._data[first : max(first, last)]])


class File(Blob):
    """A `Blob` with a file name and a modification time in ms since the epoch (the File API's `File`)."""

    def __init__(
        self,
        blob_parts: Iterable[BlobValue] | BlobValue,
        filename: str,
        content_type: str | None = None,
        endings: BlobEnding | str | None = None,
        last_modified: int | None = None,
    ):
        if not isinstance(filename, str):
            raise TypeError(f"File name must be a string, not {type(filename).__name__}")
        if not _is_sequence_of_parts(blob_parts):
            if not content_type and isinstance(blob_parts, Blob):
                content_type = blob_parts.content_type
            if not last_modified and isinstance(blob_parts, File):
                last_modified = blob_parts.last_modified
        super().__init__(blob_parts, content_type, endings)
        self._name = filename
        self._last_modified = int(last_modified) if last_modified else int(time.time() * 1000)

    def __repr__(self) -> str:
        return f"File(name={self._name!r}, size={self.size}, content_type={self._type!r})"

    @property
    def name(self) -> str:
        """The file name."""
        return self._name

    @property
    def last_modified(self) -> int:
        """When the file was last modified, in milliseconds since the epoch."""
        return self._last_modified


def _is_sequence_of_parts(value: Any) -> bool:
    """Whether `value` is a list of parts rather than one part (str and bytes count as one part)."""
    if isinstance(value, str | bytes | Blob):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


def _ending(endings: BlobEnding | str | None) -> BlobEnding:
    if not endings:
        return BlobEnding.TRANSPARENT
    try:
        return BlobEnding(str(endings))
    except ValueError:
        raise TypeError(f"endings must be 'transparent' or 'native', not {str(endings)!r}") from None


def _join_parts(parts: Iterable[Any], endings: BlobEnding) -> bytes:
    chunks: list[bytes] = []
    for part in parts:
        if isinstance(part, str):
            if endings is BlobEnding.NATIVE:
                part = part.replace("\r\n", "\n").replace("\r", "\n")
            chunks.append(part.encode("utf-8", errors="replace"))
        elif isinstance(part, Blob):
            chunks.append(part._data)
        else:
            try:
                with memoryview(part) as view:
                    chunks.append(view.tobytes())
            except TypeError:
                raise TypeError(f"Don't know how to handle {type(part)} for Blob()") from None
    return b"".join(chunks)


def _normalise_type(content_type: str | None) -> str:
    """As the File API does: lower-cased if printable ASCII, else ""."""
    if not content_type or not _PRINTABLE_ASCII.fullmatch(content_type):
        return ""
    return content_type.lower()


def _clamp(index: int | None, size: int, default: int) -> int:
    if index is None:
        return default
    if index < 0:
        return max(size + index, 0)
    return min(index, size)
