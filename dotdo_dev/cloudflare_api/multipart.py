"""A strict `multipart/form-data` reader for script uploads (RFC 7578), stdlib only."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dotdo_dev.cloudflare_api.errors import METADATA_INVALID, CloudflareError

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_PARAM = re.compile(r';\s*([A-Za-z*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _bad(message: str) -> CloudflareError:
    return CloudflareError(400, METADATA_INVALID, message)


def boundary_of(content_type: str) -> str:
    if not content_type.lower().startswith("multipart/form-data"):
        raise _bad("Uploads must be multipart/form-data with a metadata part and one part per module.")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise _bad("The multipart/form-data content type has no boundary.")
    return match.group(1) or match.group(2)


def parse(body: bytes, content_type: str) -> list[Part]:
    """The parts of `body`, in order. Raises CloudflareError (400) when the body is not well-formed."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise _bad("The multipart body holds no part.")
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if body.startswith(b"--", position):
            return parts
        if not body.startswith(b"\r\n", position):
            raise _bad("The multipart body is malformed (no CRLF after a boundary).")
        position += 2
        end = body.find(b"\r\n" + delimiter, position)
        if end < 0:
            raise _bad("The multipart body is truncated (no closing boundary).")
        parts.append(_part(body[position:end]))
        position = end + 2 + len(delimiter)


def _part(raw: bytes) -> Part:
    head, separator, data = raw.partition(b"\r\n\r\n")
    if not separator:
        if raw.startswith(b"\r\n"):  # no headers at all
            head, data = b"", raw[2:]
        else:
            raise _bad("A multipart part has no blank line after its headers.")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        if line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise _bad("A multipart part has no Content-Disposition: form-data header.")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3) for m in _PARAM.finditer(disposition)
    }
    name = params.get("name")
    if not name:
        raise _bad("A multipart part has no name.")
    content_type = headers.get("content-type")
    media_type = content_type.split(";")[0].strip().lower() if content_type else None
    return Part(name, params.get("filename"), media_type, data)
