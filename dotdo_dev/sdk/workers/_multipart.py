"""Form bodies: `FormData` encoded as `multipart/form-data`, and parsed back from a request or response.

What the Fetch API's `formData()` accepts: `multipart/form-data` (with a boundary) and
`application/x-www-form-urlencoded`; any other content type is a TypeError, as in workerd.
"""

from __future__ import annotations

import email.parser
import email.policy
import secrets
from urllib.parse import parse_qsl

from .blob import File
from .formdata import FormData


def encode(form: FormData) -> tuple[bytes, str]:
    """The body and the `content-type` (with its boundary) of `form` sent as multipart/form-data."""
    boundary = f"----dotdoFormBoundary{secrets.token_hex(12)}"
    out: list[bytes] = []
    for name, value in form.items():
        disposition = f'form-data; name="{_quote(name)}"'
        if isinstance(value, File):
            disposition += f'; filename="{_quote(value.name)}"'
            part_type = value.content_type or "application/octet-stream"
            head = f"Content-Disposition: {disposition}\r\nContent-Type: {part_type}"
            data = value._data
        else:
            head = f"Content-Disposition: {disposition}"
            data = str(value).encode("utf-8")
        out.append(f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def decode(body: bytes, content_type: str | None) -> FormData:
    """Parse a body as form data; TypeError when the content type is not a form's or the body is malformed."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    form = FormData()
    if media == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
            form.append(key, value)
        return form
    if media != "multipart/form-data" or "boundary=" not in (content_type or ""):
        raise TypeError(
            "Parsing a Body as FormData requires a Content-Type header of multipart/form-data (with a boundary) "
            f"or application/x-www-form-urlencoded, not {content_type!r}"
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise TypeError("Failed to parse the body as multipart/form-data")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            raise TypeError("A multipart/form-data part has no name in its Content-Disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_param("filename", header="content-disposition")
        if filename is None:
            form.append(str(name), data.decode(part.get_content_charset() or "utf-8", errors="replace"))
        else:
            part_type = part.get("content-type")
            form.append(str(name), File(data, str(filename), str(part_type) if part_type else None))
    return form


def _quote(value: str) -> str:
    """Escape a name for a Content-Disposition parameter as browsers do."""
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")
