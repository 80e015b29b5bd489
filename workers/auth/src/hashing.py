"""Keyed hashes of the secrets auth hands out (API keys, refresh tokens, SSO states).

Only HMAC-SHA-256(API_KEY_SECRET, value) is stored: a copy of the database alone does not let
anyone check guesses, and comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from shared.errors import AppError

MIN_SECRET = 32


def _secret(env: Any) -> bytes:
    secret = getattr(env, "API_KEY_SECRET", None)
    if not isinstance(secret, str) or len(secret) < MIN_SECRET:
        raise AppError("API key hashing is not configured", code="AUTH_NOT_CONFIGURED", status=503)
    return secret.encode()


def keyed_hash(env: Any, value: str) -> str:
    """The hex HMAC-SHA-256 of `value` under the server secret."""
    return hmac.new(_secret(env), value.encode(), hashlib.sha256).hexdigest()


def matches(env: Any, value: str, stored_hash: str | None) -> bool:
    """Whether `value` hashes to `stored_hash`, compared in constant time."""
    if not stored_hash:
        return False
    return hmac.compare_digest(keyed_hash(env, value), stored_hash)
