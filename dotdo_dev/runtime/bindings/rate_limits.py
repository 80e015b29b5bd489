"""Local Rate Limiting binding: what worker code receives as `self.env.X` for a `ratelimits` entry.

    "ratelimits": [{"name": "FRONT_DOOR_LIMITER", "namespace_id": "1001", "simple": {"limit": 600, "period": 60}}]

    outcome = await env.FRONT_DOOR_LIMITER.limit({"key": client_ip})   # or limit(key=client_ip)
    if not outcome.success: ...                                         # outcome["success"] too

As Cloudflare documents it (developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/):
`limit()` takes one options object with a `key` (any string) and counts one call against that key;
the answer is an object with `success`. `simple.limit` calls are allowed per key per `simple.period`
seconds (10 or 60). Bindings with the same `namespace_id` share their counters. Counts are local to
one Cloudflare location and "permissive, eventually consistent, and intentionally designed to not be
used as an accurate accounting system": on Cloudflare a few calls beyond the limit may succeed.

Locally the counters live in the memory of the worker's process (one `RateLimitCounters` per
isolate, shared by its bindings): a worker restart starts them afresh, and two workers binding the
same `namespace_id` do not share them. Counting here is exact. The window is fixed and aligned to the
epoch, as miniflare counts (`floor(now / period)`: every key's window ends at the same instant, a
multiple of `period` seconds since 1970), which the docs leave unsaid.

Refusals use miniflare's words (`invalid key: ...`, `bad rate limit options: [...]`, `invalid rate
limit options`), raised as `TypeError`. Stricter than miniflare on purpose: it also takes `limit` and
`period` overrides (undocumented) and a missing key (counted as ""); here they raise, as do both an
options dict and keyword arguments. tests/reference compares the two.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from workers.rpc import python_from_rpc

from dotdo_dev.config import RateLimitConfig

__all__ = ["RateLimit", "RateLimitCounters"]

OPTIONS = frozenset({"key"})


class RateLimitCounters:
    """Calls per key in the current window of each namespace (the memory of one worker process)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], int] = {}
        self._counts: dict[tuple[str, int], dict[str, int]] = {}

    def spend(self, namespace_id: str, key: str, limit: int, period: int, now: float) -> bool:
        """Count one call of `key` in its window; False (and nothing counted) once `limit` are spent."""
        bucket = (namespace_id, period)
        window = math.floor(now / period)
        if self._windows.get(bucket) != window:
            self._windows[bucket] = window
            self._counts[bucket] = {}  # a new window: every key of the namespace starts again
        counts = self._counts[bucket]
        spent = counts.get(key, 0)
        if spent >= limit:
            return False
        counts[key] = spent + 1
        return True


class RateLimit:
    """One `ratelimits` binding: `limit({"key": k})` -> `{"success": bool}` (a JsDict, as the SDK gives it)."""

    def __init__(
        self, config: RateLimitConfig, *, counters: RateLimitCounters, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.counters = counters
        self.clock = clock

    def __repr__(self) -> str:
        c = self.config
        return f"<RateLimit {c.name} namespace {c.namespace_id}: {c.limit} per {c.period} s>"

    async def limit(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Any:
        """Spend one call of `options["key"]`; `success` is False when its budget for this window is spent."""
        if options is not None and kwargs:
            raise TypeError("limit() takes an options object or keyword arguments, not both")
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"invalid rate limit options (limit() takes {{'key': ...}}, not {type(options).__name__})")
        given = dict(options if options is not None else kwargs)
        unknown = sorted(set(given) - OPTIONS)
        if unknown:
            raise TypeError(f"bad rate limit options: [{','.join(unknown)}] (limit() takes only 'key')")
        if "key" not in given:
            raise TypeError("limit() needs a key: limit({'key': ...})")
        key = given["key"]
        if not isinstance(key, str):
            raise TypeError(f"invalid key: {key!r} (a rate limit key is a string)")
        c = self.config
        success = self.counters.spend(c.namespace_id, key, c.limit, c.period, self.clock())
        return python_from_rpc({"success": success})
