"""The local Rate Limiting binding against real miniflare 4 (what `wrangler dev` runs).

The same calls go to miniflare's binding and to `dotdo_dev.runtime.bindings.rate_limits`: answers
per key, per binding and per namespace must agree, and so must the refusals both make. Miniflare
counts with the wall clock: the calls take milliseconds, far from a window's end (a run that
straddled one would differ; the local clock is frozen at miniflare's run).
"""

import time
from pathlib import Path

import pytest

from dotdo_dev.reference import run_ratelimit_ops
from dotdo_dev.runtime.bindings.rate_limits import RateLimit, RateLimitConfig, RateLimitCounters

ROOT = Path(__file__).resolve().parents[2]
RATELIMITS = {
    "A": {"namespace_id": "1001", "simple": {"limit": 3, "period": 60}},
    "B": {"namespace_id": "1001", "simple": {"limit": 3, "period": 60}},  # shares A's namespace
    "C": {"namespace_id": "1002", "simple": {"limit": 1, "period": 10}},
}


def op(binding, options):
    return {"binding": binding, "options": options}


SHARED = [
    *[op("A", {"key": "k"})] * 2,
    *[op("B", {"key": "k"})] * 2,  # the same counter as A's: success, then refused
    op("A", {"key": "other"}),
    op("A", {"key": ""}),
    *[op("C", {"key": "k"})] * 2,  # another namespace: its own counter
    op("A", {"key": 1}),
    op("A", "k"),
    op("A", {"key": "k", "x": 1}),
]
# Miniflare takes these (undocumented overrides; a missing key counts as ""); the local binding refuses.
STRICTER = [op("A", {"key": "k", "limit": 9}), op("A", {"key": "k", "period": 10}), op("A", {})]


@pytest.fixture(scope="module")
def miniflare():
    return run_ratelimit_ops(ROOT, RATELIMITS, SHARED + STRICTER)


async def local_answers(ops):
    now = time.time()
    counters = RateLimitCounters()
    bindings = {
        name: RateLimit(
            RateLimitConfig(name, spec["namespace_id"], spec["simple"]["limit"], spec["simple"]["period"]),
            counters=counters,
            clock=lambda: now,
        )
        for name, spec in RATELIMITS.items()
    }
    answers = []
    for o in ops:
        try:
            answers.append({"ok": dict(await bindings[o["binding"]].limit(o["options"]))})
        except TypeError as exc:
            answers.append({"error": str(exc)})
    return answers


async def test_answers_and_refusals_agree(miniflare):
    local = await local_answers(SHARED)
    expected = miniflare[: len(SHARED)]
    assert [a.get("ok") for a in local] == [e.get("ok") for e in expected]
    assert [e.get("ok", {}).get("success") for e in expected[:8]] == [True, True, True, False, True, True, True, False]
    for mine, theirs in zip(local, expected, strict=True):
        if "error" in theirs:
            assert mine["error"].startswith(theirs["error"]), (mine, theirs)


async def test_what_miniflare_takes_and_the_local_binding_refuses(miniflare):
    theirs = miniflare[len(SHARED) :]
    assert all("ok" in answer for answer in theirs)
    mine = await local_answers(STRICTER)
    assert [m["error"].split(" (")[0] for m in mine] == [
        "bad rate limit options: [limit]",
        "bad rate limit options: [period]",
        "limit() needs a key: limit({'key': ...})",
    ]
