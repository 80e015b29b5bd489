"""The rate limiter Durable Object, in-process on the local runtime: exact under concurrency, sliding window."""

import asyncio
import math

import pytest
from conftest import ROOT
from workers import Request

import gateway
import rate_limiter
from dotdo_dev.testing import WorkerHarness


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture
def env(tmp_path):
    return WorkerHarness(ROOT, state_dir=tmp_path).env


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(rate_limiter.time, "time", fake.time)
    return fake


async def test_exactly_the_limit_is_admitted_under_concurrency(env):
    verdicts = await asyncio.gather(*(rate_limiter.check(env, "k", 60, 60) for _ in range(100)))
    assert sum(v["allowed"] for v in verdicts) == 60
    refused = [v for v in verdicts if not v["allowed"]]
    assert len(refused) == 40
    assert all(v["remaining"] == 0 and v["retry_after"] >= 1 for v in refused)
    assert (await rate_limiter.check(env, "other", 60, 60))["allowed"]


async def test_the_window_slides(env, clock):
    for _ in range(3):
        assert (await rate_limiter.check(env, "slide", 3, 60))["allowed"]
        clock.now += 10
    refused = await rate_limiter.check(env, "slide", 3, 60)
    assert not refused["allowed"]
    assert refused["retry_after"] == 30  # the first hit leaves the window 60 s after it came
    clock.now += 30
    again = await rate_limiter.check(env, "slide", 3, 60)
    assert again["allowed"]
    assert again["remaining"] == 0


async def test_counts_survive_a_restart(tmp_path):
    first = WorkerHarness(ROOT, state_dir=tmp_path).env
    for _ in range(2):
        await rate_limiter.check(first, "kept", 2, 60)
    again = WorkerHarness(ROOT, state_dir=tmp_path).env
    assert not (await rate_limiter.check(again, "kept", 2, 60))["allowed"]


class Env:
    def __init__(self, **values):
        self.__dict__.update(values)


@pytest.mark.parametrize(
    ("values", "rate_class", "expected"),
    [
        ({}, "default", (60, 60)),
        ({"RATE_LIMIT_DEFAULT": "100"}, "auth", (100, 60)),
        ({"RATE_LIMIT_DEFAULT": "100", "RATE_LIMIT_AUTH": "10"}, "auth", (10, 60)),
        ({"RATE_LIMIT_WINDOW_SECONDS": "10"}, "default", (60, 10)),
        ({"RATE_LIMIT_DEFAULT": "lots"}, "default", (60, 60)),
        ({"RATE_LIMIT_DEFAULT": "0"}, "default", (1, 60)),
        ({"RATE_LIMIT_WINDOW_SECONDS": "1"}, "default", (60, 1)),
        ({"RATE_LIMIT_WINDOW_SECONDS": "0"}, "default", (60, 1)),
    ],
)
def test_limits_come_from_vars(values, rate_class, expected):
    assert gateway.limits(Env(**values), rate_class) == expected


async def test_a_hit_counts_until_exactly_one_window_after_it(env, clock):
    start = clock.now
    assert (await rate_limiter.check(env, "edge", 1, 60))["allowed"]
    clock.now = start + 59.9
    refused = await rate_limiter.check(env, "edge", 1, 60)
    assert not refused["allowed"]
    assert refused["retry_after"] == 1
    assert refused["reset"] == math.ceil(start + 60)
    clock.now = start + 60
    admitted = await rate_limiter.check(env, "edge", 1, 60)
    assert admitted["allowed"]
    assert admitted["remaining"] == 0
    assert admitted["reset"] == math.ceil(start + 120)


async def test_an_admitted_request_has_no_retry_after(env, clock):
    verdict = await rate_limiter.check(env, "calm", 2, 60)
    assert verdict["allowed"]
    assert verdict["retry_after"] == 0


async def test_a_lowered_limit_refuses_at_once_a_key_already_over_it(env, clock):
    for _ in range(5):
        assert (await rate_limiter.check(env, "lowered", 5, 60))["allowed"]
    over = await rate_limiter.check(env, "lowered", 3, 60)  # RATE_LIMIT_DEFAULT changed from 5 to 3
    assert not over["allowed"]
    assert over["remaining"] == 0  # never negative
    assert over["limit"] == 3


def test_the_client_ip_in_a_rate_key_is_cut_to_64_characters():
    def key(ip):
        return gateway.rate_key(Request("http://gateway.do/db/x", headers={"cf-connecting-ip": ip}), None)

    assert key("a" * 64) == "ip:" + "a" * 64
    assert key("b" * 65) == "ip:" + "b" * 64
    assert key("") == "ip:unknown"
    assert gateway.rate_key(Request("http://gateway.do/db/x"), {"id": "usr_1"}) == "principal:usr_1"
