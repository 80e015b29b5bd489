"""The per-address limit of the receivers: each delivery spends one call of its sender's budget before its body is
read, keyed by the client's address as the dispatcher's front-door limit keys it (`shared.address_limit`).

Counted by the Rate Limiting binding `WEBHOOK_LIMITER` (`ratelimits` in wrangler.jsonc). A limiter that fails,
or none bound, lets the delivery through: a provider's events must not be lost to a broken counter.
"""

from __future__ import annotations

from typing import Any

from shared import address_limit
from shared.address_limit import UNKNOWN, client_key

LIMITER = "WEBHOOK_LIMITER"
#: The binding's `simple.period`: how long a refused sender waits at most.
RETRY_AFTER_SECONDS = 60

__all__ = ["LIMITER", "RETRY_AFTER_SECONDS", "UNKNOWN", "admitted", "client_key"]


async def admitted(env: Any, key: str, request_id: str | None) -> bool:
    """False when `key` has spent its budget; True otherwise (also without a limiter, or when it fails)."""
    verdict = await address_limit.admitted(env, LIMITER, key, worker="webhooks", request_id=request_id)
    return verdict is not False
