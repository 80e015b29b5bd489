"""Local Rate Limiting binding: Cloudflare's `limit({key})` -> `{success}`, fixed windows, keys and namespaces."""

import pytest
from workers.rpc import JsDict

from dotdo_dev.config import load_worker
from dotdo_dev.runtime.bindings.rate_limits import RateLimit, RateLimitConfig, RateLimitCounters
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.state import StateDir

WINDOW_START = 1_700_000_040.0  # a multiple of 60 (and of 10): a window starts here


@pytest.fixture
def counters():
    return RateLimitCounters()


def limiter(clock, counters, *, limit=3, period=60, namespace_id="1001", name="LIMITER"):
    return RateLimit(RateLimitConfig(name, namespace_id, limit, period), counters=counters, clock=clock)


async def spend(binding, key, times):
    return [(await binding.limit({"key": key})).success for _ in range(times)]


async def test_limit_calls_per_key_then_refused(clock, counters):
    clock.now = WINDOW_START
    binding = limiter(clock, counters)
    assert await spend(binding, "203.0.113.7", 4) == [True, True, True, False]
    outcome = await binding.limit({"key": "203.0.113.7"})
    assert isinstance(outcome, JsDict)  # as the SDK hands over the JS object: attribute and item access
    assert outcome.success is False
    assert outcome == {"success": False}


async def test_the_window_is_fixed_refused_until_its_end_then_admitted(clock, counters):
    clock.now = WINDOW_START
    binding = limiter(clock, counters)
    assert await spend(binding, "k", 3) == [True] * 3
    clock.now = WINDOW_START + 59.9
    assert await spend(binding, "k", 1) == [False]
    clock.now = WINDOW_START + 60
    assert await spend(binding, "k", 4) == [True, True, True, False]


async def test_windows_are_aligned_to_the_epoch_as_miniflare_counts(clock, counters):
    clock.now = WINDOW_START + 50  # first call late in a window: its budget still ends at the boundary
    binding = limiter(clock, counters)
    assert await spend(binding, "k", 4) == [True, True, True, False]
    clock.now = WINDOW_START + 60
    assert await spend(binding, "k", 1) == [True]


async def test_a_ten_second_period(clock, counters):
    clock.now = WINDOW_START
    binding = limiter(clock, counters, limit=1, period=10)
    assert await spend(binding, "k", 2) == [True, False]
    clock.now = WINDOW_START + 9.99
    assert await spend(binding, "k", 1) == [False]
    clock.now = WINDOW_START + 10
    assert await spend(binding, "k", 1) == [True]


async def test_keys_are_independent(clock, counters):
    clock.now = WINDOW_START
    binding = limiter(clock, counters, limit=1)
    assert await spend(binding, "a", 2) == [True, False]
    assert await spend(binding, "b", 1) == [True]
    assert await spend(binding, "", 1) == [True]  # any string is a key


async def test_namespaces_are_independent_and_a_shared_namespace_shares_counters(clock, counters):
    clock.now = WINDOW_START
    first = limiter(clock, counters, limit=1, namespace_id="1001", name="A")
    other = limiter(clock, counters, limit=1, namespace_id="1002", name="B")
    same = limiter(clock, counters, limit=1, namespace_id="1001", name="C")
    assert await spend(first, "k", 1) == [True]
    assert await spend(other, "k", 1) == [True]  # its own namespace, its own count
    assert await spend(same, "k", 1) == [False]  # same namespace_id: the same counter, as on Cloudflare


async def test_keyword_form_as_pyodide_passes_it(clock, counters):
    clock.now = WINDOW_START
    binding = limiter(clock, counters, limit=1)
    assert (await binding.limit(key="k")).success is True
    assert (await binding.limit({"key": "k"}))["success"] is False


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "needs a key"),
        (({"key": 1},), {}, "invalid key"),
        (({"key": "k", "limit": 5},), {}, "bad rate limit options"),
        ((), {"key": "k", "period": 10}, "bad rate limit options"),
        (({"key": "k"},), {"key": "k"}, "not both"),
        (("k",), {}, "invalid rate limit options"),
    ],
)
async def test_bad_options_raise(clock, counters, args, kwargs, message):
    binding = limiter(clock, counters)
    with pytest.raises(TypeError, match=message):
        await binding.limit(*args, **kwargs)


def test_the_isolate_binds_ratelimits_from_the_config(tmp_path, clock):
    worker = tmp_path / "w"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry_rl.py").write_text(
        "from workers import WorkerEntrypoint\n\nclass Default(WorkerEntrypoint):\n    pass\n"
    )
    (worker / "wrangler.jsonc").write_text(
        '{"name": "w", "main": "src/entry_rl.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"],'
        ' "ratelimits": [{"name": "A", "namespace_id": "1001", "simple": {"limit": 1, "period": 10}},'
        ' {"name": "B", "namespace_id": "1001", "simple": {"limit": 1, "period": 10}}]}'
    )
    isolate = Isolate(load_worker(worker), state=StateDir(tmp_path / "state"), environ={}, clock=clock)
    assert isinstance(isolate.env.A, RateLimit)
    assert isolate.env.A.config == RateLimitConfig("A", "1001", 1, 10)
    assert isolate.env.A.counters is isolate.env.B.counters  # one process, one set of counters
