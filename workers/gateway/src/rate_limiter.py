"""Rate limiting that counts exactly: one Durable Object per key, a sliding window of hits.

Every request of a key goes to the same object, which handles one request at a time, so a
check-and-count cannot race (a KV read-modify-write can; Cloudflare's rate-limiting binding counts
per location). The object keeps the times of the hits in the window (at most `limit` of them) in a
table of its SQLite-backed storage (`ctx.storage.sql`): the limit holds over any `window` seconds,
not per calendar minute.
"""

from __future__ import annotations

import math
import time
from typing import Any

from workers import DurableObject


class RateLimiter(DurableObject):
    """The hits of one key (a principal or a client IP, with a route class), in the object's SQLite storage."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (at REAL NOT NULL)")

    async def hit(self, limit: int, window: int) -> dict[str, Any]:
        """Count one request if the key is under `limit` in the last `window` seconds."""
        sql = self.ctx.storage.sql
        now = time.time()
        sql.exec("DELETE FROM hits WHERE at <= ?", now - window)
        # coalesce: an empty window has no oldest hit; `now` keeps the arithmetic below simple.
        row = sql.exec("SELECT count(*) AS n, coalesce(min(at), ?) AS oldest FROM hits", now).one()
        count, oldest = int(row.n), float(row.oldest)
        allowed = count < limit
        if allowed:
            sql.exec("INSERT INTO hits (at) VALUES (?)", now)
            count += 1
        return {
            "allowed": allowed,
            "limit": limit,
            "remaining": max(0, limit - count),
            "reset": math.ceil(oldest + window),
            "retry_after": 0 if allowed else max(1, math.ceil(oldest + window - now)),
        }


async def check(env: Any, key: str, limit: int, window: int) -> dict[str, Any]:
    """Ask the object for `key`; its verdict (`allowed`, `limit`, `remaining`, `reset`, `retry_after`)."""
    namespace = env.RATE_LIMITER
    stub = namespace.get(namespace.idFromName(key))
    return await stub.hit(limit, window)
