"""HMAC-SHA-256, the one way the services compute it (API key hashes, HS256 tokens, webhook signatures).

`hmac.digest(key, message, "sha256")`: with the digest named by a string, CPython uses the interpreter's
compiled HMAC. Pyodide has no OpenSSL, and there `hmac.new(key, message, hashlib.sha256)` runs HMAC's two
passes in Python: 0.018 s against 0.003 s over 295 key validations in auth's profile under Pyodide.
"""

from __future__ import annotations

import hmac


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """The HMAC-SHA-256 of `message` under `key` (32 bytes)."""
    return hmac.digest(key, message, "sha256")
