"""Webhook signatures: every delivery carries `X-Dotdo-Signature: t=<unix seconds>,v1=<hex>`.

    header = sign(secret, body, timestamp)                 # the sender (delivery.py)
    ok = verify(secret, header, body, now=time.time())     # a receiver: the same function, or its 10 lines

`v1` is HMAC-SHA-256, keyed with the secret `WEBHOOK_SIGNING_SECRET` (UTF-8), of the timestamp in decimal,
a full stop, and the request body exactly as received (bytes): `f"{t}.".encode() + body`. A receiver
recomputes it, compares in constant time, and refuses a timestamp more than `TOLERANCE` seconds from its
clock (a replayed old request). Several `v1=` values may appear (while a secret is rotated): one match
is enough. `X-Dotdo-Delivery` (the job id) is the same on every retry of a delivery: receivers
de-duplicate on it.
"""

from __future__ import annotations

import hmac
import time

from shared.macs import hmac_sha256

SIGNATURE_HEADER = "X-Dotdo-Signature"
DELIVERY_HEADER = "X-Dotdo-Delivery"
EVENT_HEADER = "X-Dotdo-Event"
#: How far a signature's timestamp may be from the receiver's clock, in seconds.
TOLERANCE = 300
#: The shortest secret taken (an HMAC key shorter than this is guessable).
MIN_SECRET = 32


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA-256 of `<timestamp>.<body>` under `secret`."""
    message = f"{int(timestamp)}.".encode() + body
    return hmac_sha256(secret.encode(), message).hex()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Dotdo-Signature` value: `t=<timestamp>,v1=<signature>`."""
    return f"t={int(timestamp)},v1={signature(secret, body, timestamp)}"


def verify(
    secret: str, header: str | None, body: bytes, *, now: float | None = None, tolerance: int = TOLERANCE
) -> bool:
    """Whether `header` signs `body` under `secret` with a timestamp within `tolerance` seconds of `now`."""
    if not header:
        return False
    timestamp, candidates = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
