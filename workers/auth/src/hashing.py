"""Keyed hashes of the secrets auth hands out (API keys, refresh tokens, SSO states).

Only HMAC-SHA-256(API_KEY_SECRET, value) is stored: a copy of the database alone does not let
anyone check guesses, and comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import functools
import hmac
from typing import Any

from shared.errors import AppError
from shared.macs import hmac_sha256

MIN_SECRET = 32


def _secret(env: Any) -> bytes:
    secret = getattr(env, "API_KEY_SECRET", None)
    if not isinstance(secret, str) or len(secret) < MIN_SECRET:
        raise AppError("API key hashing is not configured", code="AUTH_NOT_CONFIGURED", status=503)
    return secret.encode()


def keyed_hash(env: Any, value: str) -> str:
    """The hex HMAC-SHA-256 of `value` under the server secret."""
    return hmac_sha256(_secret(env), value.encode()).hex()


def matches(env: Any, value: str, stored_hash: str | None) -> bool:
    """Whether `value` hashes to `stored_hash`, compared in constant time."""
    if not stored_hash:
        return False
    return hmac.compare_digest(keyed_hash(env, value), stored_hash)


def configured_hash(env: Any, configured: str) -> str:
    """`keyed_hash` of a value this worker is configured with (a secret of its `env`, such as
    `BOOTSTRAP_ADMIN_KEY`), computed once per isolate. Never for what a caller presents: that is not kept."""
    return _configured_hash(_secret(env), configured)


def matches_configured(env: Any, configured: str, stored_hash: str | None) -> bool:
    """`matches` for a configured value (`configured_hash`)."""
    if not stored_hash:
        return False
    return hmac.compare_digest(configured_hash(env, configured), stored_hash)


@functools.lru_cache(maxsize=4)
def _configured_hash(secret: bytes, configured: str) -> str:
    return hmac_sha256(secret, configured.encode()).hex()
