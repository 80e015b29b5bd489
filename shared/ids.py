"""Identifiers: time-sortable ids for records, and request ids."""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _base36(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 36)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def new_id(prefix: str | None = None) -> str:
    """`prefix_` + 9 characters of milliseconds + 16 random characters (80 bits), URL-safe, sortable by time."""
    if prefix is not None and not _PREFIX.match(prefix):
        raise ValueError(f"invalid id prefix {prefix!r}: lower-case letters and digits, starting with a letter")
    body = _base36(int(time.time() * 1000), 9) + _base36(secrets.randbits(80), 16)
    return f"{prefix}_{body}" if prefix else body


def new_request_id() -> str:
    return new_id("req")


def valid_request_id(value: str | None) -> bool:
    """Whether an incoming `X-Request-ID` may be trusted as an id (not as anything else)."""
    return bool(value) and REQUEST_ID.match(value) is not None
