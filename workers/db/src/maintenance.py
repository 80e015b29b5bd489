"""db's housekeeping, for the schedule service (its principal holds `db:maintain`; admins hold `*`).

- `purge_audit_log`: delete audit log entries older than a retention (at least 30 days); the purge
  itself is audited (actor, how many, the cut-off), so the trail says who shortened it.
- `usage_stats`: the totals of `things.stats` over every owner (counts only, no content), for the
  hourly usage roll-up the schedule service keeps in its run history.
"""

from __future__ import annotations

from typing import Any

import records
import things
from access import Principal
from shared.clock import iso_in
from storage import storage

#: The shortest retention `purge_audit_log` takes (days).
MIN_RETENTION_DAYS = 30


async def purge_audit_log(env: Any, actor: str, older_than_days: int) -> dict[str, Any]:
    """Delete audit entries created more than `older_than_days` days ago; how many, and the cut-off."""
    before = iso_in(-older_than_days * 86400)
    db = await storage(env)
    removed = await db.run("DELETE FROM audit_log WHERE created_at < ?", [before])
    details = {"removed": removed, "before": before}
    await records.audit(env, {"actor": actor, "action": "purge_audit_log", "target": "audit_log", "details": details})
    return {"audit_log": removed, "before": before}


async def usage_stats(env: Any, actor: str) -> dict[str, Any]:
    """Totals over every owner: things, relationships, namespaces, types (as an admin sees them)."""
    overall = Principal(id=actor, permissions=("db:read", "db:admin"), type="service")
    return await things.stats(env, overall)
