"""Rate limiting that counts exactly: one Durable Object per key, a sliding window of hits.

Every request of a key goes to the same object, which handles one request at a time, so a
check-and-count cannot race (a KV read-modify-write can; Cloudflare's rate-limiting binding counts
per location). The object keeps the times of the hits (at most `limit` in the window; older ones are
deleted together once a request finds `limit` of them) in a table of its SQLite-backed storage
(`ctx.storage.sql`): the limit holds over any `window` seconds, not per calendar minute. A request
costs two statements (count, insert), and a third every `limit` requests or so.
"""

from __future__ import annotations

import math
import time
from typing import Any

from workers import DurableObject

from shared.js_env import wrapped_js

#: (cutoff, cutoff, now): the hits after the cutoff, the oldest of them (else now), and every hit kept.
WINDOW = (
    "SELECT coalesce(sum(at > ?), 0) AS n, coalesce(min(CASE WHEN at > ? THEN at END), ?) AS oldest,"
    " count(*) AS total FROM hits"
)


class RateLimiter(DurableObject):
    """The hits of one key (a principal or a client IP, with a route class), in the object's SQLite storage."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (at REAL NOT NULL)")
        self.sql = sql_of(ctx.storage)

    async def hit(self, limit: int, window: int) -> dict[str, Any]:
        """Count one request if the key is under `limit` in the last `window` seconds."""
        sql = self.sql
        now = time.time()
        cutoff = now - window
        # The hits in the window, and how many older ones remain. coalesce: an empty window has no oldest hit;
        # `now` keeps the arithmetic below simple.
        row = sql.exec(WINDOW, cutoff, cutoff, now).one()
        count, oldest = int(row.n), float(row.oldest)
        if int(row.total) - count >= limit:  # older hits are deleted in bulk, not one statement per request
            sql.exec("DELETE FROM hits WHERE at <= ?", cutoff)
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


def sql_of(storage: Any) -> Any:
    """`storage.sql`; under Pyodide the JS `SqlStorage` under the SDK's wrapper of the storage.

    Through the wrapper every `exec` converts its arguments one by one, wraps the cursor, and `one()` rebuilds
    the row as a `JsDict`. The statements here bind numbers only and read a row's numbers by attribute, which
    the JS row answers alike (its columns are never NULL: `coalesce`, `count`)."""
    js = wrapped_js(storage, "sql")
    return storage.sql if js is None else js.sql


async def check(env: Any, key: str, limit: int, window: int) -> dict[str, Any]:
    """Ask the object for `key`; its verdict (`allowed`, `limit`, `remaining`, `reset`, `retry_after`)."""
    namespace = env.RATE_LIMITER
    stub = namespace.get(namespace.idFromName(key))
    return await stub.hit(limit, window)
