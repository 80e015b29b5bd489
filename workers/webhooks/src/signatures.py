"""Each provider's webhook signature, checked exactly as the provider's own SDK checks it (standard library only).

    verify_stripe(body, headers, secret, now)      # raises SignatureError (401 with a code), else returns None

- Stripe: `Stripe-Signature: t=<s>,v1=<hex>[,v1=...][,v0=...]`; HMAC-SHA256 hex of `t.body` keyed with the
  `whsec_...` string itself; `t` at most 300 s old (Stripe checks the age only).
- WorkOS: `WorkOS-Signature: t=<ms>, v1=<hex>` (split on `", "`); HMAC-SHA256 hex of `t_ms.body` keyed with the
  secret; 180 s either way.
- GitHub: `X-Hub-Signature-256: sha256=<hex>`; HMAC-SHA256 hex of the body keyed with the secret; no timestamp
  (the `X-GitHub-Delivery` id is recorded once instead).
- Resend (Svix): `svix-id`, `svix-timestamp` (s), `svix-signature: v1,<b64>[ v1,<b64>...]`; HMAC-SHA256 base64
  of `id.timestamp.body` keyed with the base64-decoded part after `whsec_`; 300 s either way.

Every comparison is `hmac.compare_digest`. The body is the raw bytes as received (never re-serialised JSON).
A missing header is `MISSING_SIGNATURE`, a malformed one `MALFORMED_SIGNATURE`, a timestamp outside the
tolerance `STALE_SIGNATURE`, a MAC that matches nothing `INVALID_SIGNATURE`: all 401.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from shared.errors import Unauthorized
from shared.macs import hmac_sha256

STRIPE_TOLERANCE = 300
WORKOS_TOLERANCE = 180
SVIX_TOLERANCE = 300


class SignatureError(Unauthorized):
    """A webhook whose signature is missing, malformed, stale or wrong: 401 with the code saying which."""

    def headers(self) -> dict[str, str]:
        return {}  # no bearer challenge: a webhook sender authenticates by signing, not with a token


def _mac_hex(key: bytes, message: bytes) -> str:
    return hmac_sha256(key, message).hex()


def _same(expected: str, given: str) -> bool:
    """Constant-time equality of two MACs as text (bytes: `compare_digest` refuses non-ASCII `str`)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _header(headers: Any, name: str, provider: str) -> str:
    value = headers.get(name)
    if value is None or not str(value).strip():
        raise SignatureError(f"The {name} header is missing", code="MISSING_SIGNATURE", details={"provider": provider})
    return str(value).strip()


def _malformed(name: str, provider: str) -> SignatureError:
    return SignatureError(f"The {name} header is malformed", code="MALFORMED_SIGNATURE", details={"provider": provider})


def _stale(provider: str) -> SignatureError:
    return SignatureError(
        "The signature's timestamp is outside the tolerance", code="STALE_SIGNATURE", details={"provider": provider}
    )


def _invalid(provider: str) -> SignatureError:
    return SignatureError("The signature does not match", code="INVALID_SIGNATURE", details={"provider": provider})


def _integer(text: str, name: str, provider: str) -> int:
    if not text.isdigit() or len(text) > 16:
        raise _malformed(name, provider)
    return int(text)


def verify_stripe(body: bytes, headers: Any, secret: str, now: float) -> None:
    """Stripe: any `v1` of `Stripe-Signature` equal to HMAC-SHA256(secret, f"{t}.{body}") in hex; `t` at most
    300 s old (stripe-python's `WebhookSignature.verify_header`: a future `t` is not refused)."""
    header = _header(headers, "stripe-signature", "stripe")
    timestamp: str | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise _malformed("stripe-signature", "stripe")
    issued = _integer(timestamp, "stripe-signature", "stripe")
    expected = _mac_hex(secret.encode(), timestamp.encode() + b"." + body)
    if not any(_same(expected, candidate) for candidate in signatures):
        raise _invalid("stripe")
    if issued < now - STRIPE_TOLERANCE:
        raise _stale("stripe")


def verify_workos(body: bytes, headers: Any, secret: str, now: float) -> None:
    """WorkOS: `WorkOS-Signature: t=<ms>, v1=<hex>`, HMAC-SHA256(secret, f"{t_ms}.{body}") in hex, within 180 s
    of now either way (workos-python's `verify_header`)."""
    header = _header(headers, "workos-signature", "workos")
    parts = header.split(", ")
    if len(parts) != 2 or not parts[0].startswith("t=") or not parts[1].startswith("v1="):
        raise _malformed("workos-signature", "workos")
    timestamp, signature = parts[0][2:], parts[1][3:]
    issued_ms = _integer(timestamp, "workos-signature", "workos")
    if abs(now - issued_ms / 1000) > WORKOS_TOLERANCE:
        raise _stale("workos")
    if not _same(_mac_hex(secret.encode(), timestamp.encode() + b"." + body), signature):
        raise _invalid("workos")


def verify_github(body: bytes, headers: Any, secret: str, now: float) -> None:
    """GitHub: `X-Hub-Signature-256: sha256=<hex>` of HMAC-SHA256(secret, body). GitHub signs no timestamp: a
    replayed delivery is recognised by its `X-GitHub-Delivery` id instead (recorded once)."""
    header = _header(headers, "x-hub-signature-256", "github")
    if not header.startswith("sha256="):
        raise _malformed("x-hub-signature-256", "github")
    if not _same(_mac_hex(secret.encode(), body), header[len("sha256=") :]):
        raise _invalid("github")


def svix_key(secret: str) -> bytes:
    """The HMAC key of a Svix (Standard Webhooks) secret: the base64 after `whsec_`. ValueError if it is not base64."""
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a Svix secret is whsec_ followed by base64") from None


def verify_svix(body: bytes, headers: Any, secret: str, now: float) -> None:
    """Resend (Svix): any `v1,<base64>` of the space-separated `svix-signature` equal to the base64 of
    HMAC-SHA256(key, f"{svix_id}.{svix_timestamp}.{body}"), the timestamp within 300 s either way (the
    `webhook-*` names of Standard Webhooks are read too)."""
    names = ("svix-id", "svix-timestamp", "svix-signature")
    if not any(headers.get(n) for n in names) and headers.get("webhook-signature"):
        names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    message_id, timestamp, header = (_header(headers, n, "resend") for n in names)
    issued = _integer(timestamp, names[1], "resend")
    if abs(now - issued) > SVIX_TOLERANCE:
        raise _stale("resend")
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac_sha256(svix_key(secret), signed)).decode()
    candidates = [part.partition(",") for part in header.split(" ") if part]
    if not any(version == "v1" and _same(expected, value) for version, _, value in candidates):
        raise _invalid("resend")


VERIFIERS = {"stripe": verify_stripe, "workos": verify_workos, "github": verify_github, "resend": verify_svix}
SECRETS = {
    "stripe": "STRIPE_WEBHOOK_SECRET",
    "workos": "WORKOS_WEBHOOK_SECRET",
    "github": "GITHUB_WEBHOOK_SECRET",
    "resend": "RESEND_WEBHOOK_SECRET",
}
