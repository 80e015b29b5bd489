"""Ending sessions, one or all of a user's: below both `sessions` and `users` (which ends a disabled
user's sessions), so that neither imports the other.
"""

from __future__ import annotations

from typing import Any

import store
from shared.clock import now_iso


async def revoke_session(env: Any, session_id: str, *, reason: str) -> bool:
    """End a session (its access tokens stop working, its refresh tokens too); whether it was live."""
    done = await store.update(
        env, "sessions", session_id, {"revoked_at": now_iso(), "revoked_reason": reason}, where={"revoked_at": None}
    )
    return done is not None


async def revoke_user_sessions(env: Any, user_id: str, *, reason: str) -> int:
    """End every live session of a user; how many."""
    live = await store.find(env, "sessions", {"user_id": user_id, "revoked_at": None}, limit=1000)
    count = 0
    for session in live["items"]:
        count += await revoke_session(env, session["id"], reason=reason)
    return count
