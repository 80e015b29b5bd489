"""Identifiers: time-sortable ids for records, and request ids.

new_id("itm")        -> "itm_mfx3k2a1b0q9z8y7x6w5v4u3t"   (prefix, 9 chars of time, 16 random)
new_request_id()     -> "req_..."
valid_request_id(v)  -> whether an incoming X-Request-ID may be used as one
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$")
#: What an incoming request id may look like: short, URL- and log-safe.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


#: Every two base-36 digits, "00" to "zz": `_base36` takes a number apart two digits at a time.
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]


def _base36(number: int, width: int) -> str:
    """`number` (>= 0) in base 36, lower case, zero-padded on the left to at least `width` characters."""
    pairs = []
    while number:
        number, rest = divmod(number, 1296)
        pairs.append(_PAIRS[rest])
    return "".join(reversed(pairs)).lstrip("0").rjust(width, "0")


#: The milliseconds and the random part of the last id made in this isolate (`new_id` keeps them increasing).
_last = [0, 0]
_RANDOM_BITS = 80


def new_id(prefix: str | None = None) -> str:
    """`prefix_` + 9 base-36 characters of milliseconds + 16 random ones (80 bits from `secrets`).

    Lower-case letters and digits only (URL-safe). Ids made later sort after earlier ones: to the millisecond
    across isolates, and strictly within one, even in the same millisecond (the random part of the next id
    is the last one's plus a random step of up to 2**40, as monotonic ULIDs do) or after the clock stepped
    back: "newest first" by id is the order records were made in. `prefix` is 1-16 lower-case
    letters/digits, starting with a letter.
    """
    if prefix is not None and not _PREFIX.match(prefix):
        raise ValueError(f"invalid id prefix {prefix!r}: 1-16 lower-case letters and digits, starting with a letter")
    now = int(time.time() * 1000)
    last_ms, last_random = _last
    if now > last_ms:
        random = secrets.randbits(_RANDOM_BITS)
    else:  # the same millisecond as the last id (or the clock went back): just after it
        now, random = last_ms, last_random + 1 + secrets.randbits(40)
        if random >> _RANDOM_BITS:  # no room left in this millisecond: the next one
            now, random = last_ms + 1, secrets.randbits(_RANDOM_BITS - 1)
    _last[0], _last[1] = now, random
    body = _base36(now, 9) + _base36(random, 16)
    return f"{prefix}_{body}" if prefix else body


def new_request_id() -> str:
    """A fresh request id (`req_...`)."""
    return new_id("req")


def valid_request_id(value: str | None) -> bool:
    """Whether an incoming `X-Request-ID` may be trusted as an id (1-128 of `[A-Za-z0-9._:-]`), not as anything else."""
    return isinstance(value, str) and REQUEST_ID.fullmatch(value) is not None
