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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from workers.rpc import python_from_rpc

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind, Sections

__all__ = ["RateLimit", "RateLimitConfig", "RateLimitCounters", "RateLimitsKind"]

OPTIONS = frozenset({"key"})
# The Rate Limiting binding's windows: wrangler accepts no other period.
RATE_LIMIT_PERIODS = (10, 60)


@dataclass(frozen=True)
class RateLimitConfig:
    """A `ratelimits` binding: `limit` calls to `limit()` per key per `period` seconds, counted per namespace."""

    name: str
    namespace_id: str
    limit: int
    period: int


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


# -- the binding kind: `ratelimits` in wrangler.jsonc -----------------------------------------------

#: `BindingContext.resources` key of the worker's `RateLimitCounters`, which all its bindings share.
COUNTERS_RESOURCE = "rate_limit_counters"


class RateLimitsKind(ListKind):
    """`ratelimits`: `env.<name>` is a `RateLimit`. The bindings of one worker share one
    `RateLimitCounters`, in its process's memory, as Cloudflare's are per location."""

    key = "ratelimits"
    name_field = "name"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> RateLimitConfig:
        """A `ratelimits` entry, validated as wrangler validates them, and stricter where Cloudflare's docs
        are: `namespace_id` is a string holding a positive integer, `simple.limit` a positive integer."""
        name = reader.string(item, "name", required=True, prefix=where)
        namespace_id = reader.string(item, "namespace_id", required=True, prefix=where)
        if not namespace_id.isascii() or not namespace_id.isdigit() or int(namespace_id) < 1:
            raise reader.fail(
                f"{where}.namespace_id", f'must be a string holding a positive integer ("1001"), not {namespace_id!r}'
            )
        simple = item.get("simple")
        if not isinstance(simple, dict):
            raise reader.fail(f"{where}.simple", 'is required: {"limit": <requests>, "period": 10 or 60}')
        unknown = sorted(set(simple) - {"limit", "period"})
        if unknown:
            raise reader.fail(f"{where}.simple", f"unexpected fields {unknown} (only limit and period)")
        limit = simple.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise reader.fail(f"{where}.simple.limit", f"must be a positive integer, not {limit!r}")
        period = simple.get("period")
        if isinstance(period, bool) or period not in RATE_LIMIT_PERIODS:
            raise reader.fail(f"{where}.simple.period", f"must be either 10 or 60, not {period!r}")
        return RateLimitConfig(name=name, namespace_id=namespace_id, limit=limit, period=int(period))

    def validate(self, reader: ConfigReader, sections: Sections, others: Collection[str]) -> None:
        """A rate limit binding's name is used by no other binding, var or required secret.

        Stricter than wrangler 4.164, whose duplicate-name check misses `ratelimits` (it reads `binding`
        fields; a rate limit is named by `name`): two bindings of one name cannot both be in `env`."""
        seen: set[str] = set()
        for i, limiter in enumerate(sections["ratelimits"]):
            if limiter.name in seen or limiter.name in others:
                raise reader.fail(
                    f"ratelimits[{i}].name",
                    f"{limiter.name} is assigned to more than one binding (names must be unique)",
                )
            seen.add(limiter.name)

    def binding(self, entry: RateLimitConfig, context: BindingContext) -> RateLimit:
        counters = context.resources.setdefault(COUNTERS_RESOURCE, RateLimitCounters())
        return RateLimit(entry, counters=counters, clock=context.clock)
