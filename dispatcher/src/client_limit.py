"""The front door's limit: every request spends one call of its client's budget before it is routed.

The key is the client's address from `CF-Connecting-IP`, which Cloudflare's edge sets on every
request (locally the front door sets it from the TCP peer and drops any a client sent): an IPv4
address as it is, an IPv6 address by its /64 (one subscriber's prefix, which it can rotate within).
A request without a readable address (which should not happen) spends the shared budget `unknown`.

Counted by Cloudflare's Rate Limiting binding `FRONT_DOOR_LIMITER` (`ratelimits` in wrangler.jsonc):
coarse and approximate on Cloudflare (per location, eventually consistent), exact locally. The
gateway's exact per-principal limits come after this, for requests through `gateway.do`.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

LIMITER = "FRONT_DOOR_LIMITER"
UNKNOWN = "unknown"
#: The binding's `simple.period` (dispatcher/wrangler.jsonc; a test keeps them equal): how long a refused
#: client waits at most before its window starts again.
RETRY_AFTER_SECONDS = 60


def client_key(headers: Any) -> str:
    """Whose budget a request spends: `ip:<IPv4>`, `ip:<IPv6 /64>`, or `unknown`."""
    raw = (headers.get("cf-connecting-ip") or "").strip()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return UNKNOWN
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Address(int(address) >> 64 << 64)}/64"
    return f"ip:{address}"


async def admitted(env: Any, key: str, request_id: str) -> bool | None:
    """True when `key` may go on, False when its budget is spent, None when no limiter is bound.

    A limiter that fails lets the request through (and logs it): the limit protects, it must not
    take the platform down.
    """
    limiter = getattr(env, LIMITER, None)
    if limiter is None:
        return None
    try:
        outcome = await limiter.limit({"key": key})
        return bool(outcome.success)
    except Exception as exc:
        line = {"level": "error", "worker": "dispatcher", "message": "rate limiter failed", "request_id": request_id}
        print(json.dumps(line | {"error": f"{type(exc).__name__}: {exc}"[:300]}))
        return True
