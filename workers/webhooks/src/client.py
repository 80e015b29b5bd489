"""The per-address limit of the receivers: each delivery spends one call of its sender's budget before its body is
read. The key is the client address from `CF-Connecting-IP` (set by Cloudflare's edge, locally by the front
door), IPv6 by its /64, as the dispatcher's front-door limit reads it (`dispatcher/src/client_limit.py`).

Counted by the Rate Limiting binding `WEBHOOK_LIMITER` (`ratelimits` in wrangler.jsonc): per Cloudflare
location and approximate there, exact locally. A limiter that fails lets the delivery through (logged): a
provider's events must not be lost to a broken counter.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

LIMITER = "WEBHOOK_LIMITER"
UNKNOWN = "unknown"
#: The binding's `simple.period`: how long a refused sender waits at most.
RETRY_AFTER_SECONDS = 60


def client_key(headers: Any) -> str:
    """Whose budget a delivery spends: `ip:<IPv4>`, `ip:<IPv6 /64>`, or `unknown`."""
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


async def admitted(env: Any, key: str, request_id: str | None) -> bool:
    """False when `key` has spent its budget; True otherwise (also without a limiter, or when it fails)."""
    limiter = getattr(env, LIMITER, None)
    if limiter is None:
        return True
    try:
        outcome = await limiter.limit({"key": key})
        return bool(outcome.success)
    except Exception as exc:
        line = {"level": "error", "worker": "webhooks", "message": "rate limiter failed", "request_id": request_id}
        print(json.dumps(line | {"error": f"{type(exc).__name__}: {exc}"[:300]}))
        return True
