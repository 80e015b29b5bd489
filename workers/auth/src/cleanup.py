"""Housekeeping: drop what can no longer be used. Run by the schedule service over RPC (`remove_expired`,
permission `auth:maintain`; workers/schedule): the `sessions` scope hourly, the `api_keys` scope daily.
auth has no cron of its own.

Expired sign-in states and refresh tokens are deleted; sessions are kept 30 days past their end
(for "where am I signed in" and audits), then deleted with their refresh tokens gone already.
API keys are deleted only by `remove_old_api_keys` (schedule's daily task): a key expired or revoked
more than 90 days ago. Until then a revoked or expired key stays listed for its owner. The bootstrap
key's record is never deleted (its revocation is what lets the configured value bootstrap again).
"""

from __future__ import annotations

from typing import Any

import store
from api_keys import BOOTSTRAP_ID
from shared.clock import iso_in, now_iso
from shared.logs import log

SESSION_RETENTION = 30 * 86400
API_KEY_RETENTION = 90 * 86400


async def remove_expired(env: Any) -> dict[str, int]:
    """Delete expired states, refresh tokens and long-ended sessions; how many of each."""
    now = now_iso()
    removed = {
        "oauth_states": await store.delete_where(env, "oauth_states", [_before("expires_at", now)]),
        "refresh_tokens": await store.delete_where(env, "refresh_tokens", [_before("expires_at", now)]),
        "sessions": await store.delete_where(env, "sessions", [_before("expires_at", iso_in(-SESSION_RETENTION))]),
    }
    log({"type": "cleanup", "service": "auth", "removed": removed})
    return removed


def _before(column: str, moment: str) -> dict[str, Any]:
    return {"field": column, "operator": "lt", "value": moment}


async def remove_old_api_keys(env: Any) -> dict[str, int]:
    """Delete API keys that expired, or were revoked, more than 90 days ago (never the bootstrap key's record)."""
    before = iso_in(-API_KEY_RETENTION)
    not_bootstrap = {"field": "id", "operator": "ne", "value": BOOTSTRAP_ID}
    expired = await store.delete_where(env, "api_keys", [_before("expires_at", before), not_bootstrap])
    revoked = await store.delete_where(env, "api_keys", [_before("revoked_at", before), not_bootstrap])
    removed = {"api_keys": expired + revoked}
    log({"type": "cleanup", "service": "auth", "removed": removed})
    return removed
