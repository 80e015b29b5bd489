"""Hourly housekeeping (cron `17 * * * *`): drop what can no longer be used.

Expired sign-in states and refresh tokens are deleted; sessions are kept 30 days past their end
(for "where am I signed in" and audits), then deleted with their refresh tokens gone already.
API keys are never deleted here: a revoked or expired key stays listed for its owner.
"""

from __future__ import annotations

import json
from typing import Any

import store
from shared.clock import iso_in, now_iso

SESSION_RETENTION = 30 * 86400


async def remove_expired(env: Any) -> dict[str, int]:
    """Delete expired states, refresh tokens and long-ended sessions; how many of each."""
    now = now_iso()
    removed = {
        "oauth_states": await store.delete_where(env, "oauth_states", [_before("expires_at", now)]),
        "refresh_tokens": await store.delete_where(env, "refresh_tokens", [_before("expires_at", now)]),
        "sessions": await store.delete_where(env, "sessions", [_before("expires_at", iso_in(-SESSION_RETENTION))]),
    }
    print(json.dumps({"type": "cleanup", "service": "auth", "removed": removed}))
    return removed


def _before(column: str, moment: str) -> dict[str, Any]:
    return {"field": column, "operator": "lt", "value": moment}
