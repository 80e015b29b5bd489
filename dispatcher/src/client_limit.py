"""The front door's limit: every request spends one call of its client's budget before it is routed.

Keyed by the client's address and counted by the Rate Limiting binding `FRONT_DOOR_LIMITER`
(`shared.address_limit`: the key's rules, what a failing limiter does). The gateway's exact
per-principal limits come after this, for requests through `gateway.do`.
"""

from __future__ import annotations

from typing import Any

from shared import address_limit
from shared.address_limit import UNKNOWN, client_key

LIMITER = "FRONT_DOOR_LIMITER"
#: The binding's `simple.period` (dispatcher/wrangler.jsonc; a test keeps them equal): how long a refused
#: client waits at most before its window starts again.
RETRY_AFTER_SECONDS = 60

__all__ = ["LIMITER", "RETRY_AFTER_SECONDS", "UNKNOWN", "admitted", "client_key"]


async def admitted(env: Any, key: str, request_id: str) -> bool | None:
    """True when `key` may go on, False when its budget is spent, None when no limiter is bound."""
    return await address_limit.admitted(env, LIMITER, key, worker="dispatcher", request_id=request_id)
