"""Durable Object alarms as on Cloudflare: one alarm per object, fired at its time through the object's
input gate, retried with backoff, kept in the object's storage across restarts."""

import asyncio
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dotdo_dev.runtime.bindings import alarms
from dotdo_dev.runtime.bindings.durable_objects import DurableObjectStorage
from dotdo_dev.runtime.handlers import durable_object_handler_arguments
from dotdo_dev.testing import WorkerHarness, start_dev, stop_dev

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "workers" / "reminders"


@pytest.fixture
def worker(tmp_path):
    harness = WorkerHarness(FIXTURE, state_dir=tmp_path)
    yield harness
    harness.isolate.stop_alarms()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """Retries 10 ms, 20 ms, ... apart instead of 2 s, 4 s, ...: the schedule's shape, quickly."""
    monkeypatch.setattr(alarms, "RETRY_FIRST_DELAY", 0.01)
    yield
    sys.modules.pop("reminders", None)


async def until(check, timeout=3.0):
    """Poll `check` (an async function) until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {timeout} s")


def now_ms():
    return time.time() * 1000


async def test_set_get_delete_and_replace(worker):
    stub = worker.env.REMINDER.getByName("a")
    assert await stub.get() is None
    first = await stub.set_in(60)
    assert isinstance(first, int)
    assert abs(first - (now_ms() + 60_000)) < 1000
    second = await stub.set_in(120)  # one alarm per object: setting replaces
    assert await stub.get() == second
    assert second > first
    await stub.delete()
    assert await stub.get() is None
    await stub.delete()  # deleting no alarm is fine
    when = datetime(2100, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert await stub.set_at(when) == int(when.timestamp() * 1000)
    assert await worker.env.REMINDER.getByName("b").get() is None  # per object


async def test_the_alarm_fires_at_its_time_once_and_clears_itself(worker):
    stub = worker.env.REMINDER.getByName("fires")
    started = time.monotonic()
    await stub.set_in(0.3)
    await asyncio.sleep(0.15)
    assert await stub.runs() == []  # not before its time
    runs = await until(stub.runs)
    assert time.monotonic() - started >= 0.29
    assert runs == [{"retryCount": 0, "isRetry": False, "getAlarm": None}]  # getAlarm is None while it runs
    assert await stub.get() is None  # a successful alarm clears itself
    await asyncio.sleep(0.1)
    assert len(await stub.runs()) == 1


async def test_a_replaced_or_deleted_alarm_does_not_fire_at_the_old_time(worker):
    stub = worker.env.REMINDER.getByName("moved")
    await stub.set_in(0.05)
    await stub.set_in(0.4)
    gone = worker.env.REMINDER.getByName("gone")
    await gone.set_in(0.05)
    await gone.delete()
    await asyncio.sleep(0.2)
    assert await stub.runs() == []
    assert await gone.runs() == []
    assert len(await until(stub.runs)) == 1
    assert await gone.runs() == []


async def test_a_time_in_the_past_fires_at_once(worker):
    stub = worker.env.REMINDER.getByName("past")
    await stub.set_at(now_ms() - 3_600_000)
    assert await until(stub.runs, timeout=0.5) == [{"retryCount": 0, "isRetry": False, "getAlarm": None}]


async def test_an_unawaited_set_alarm_takes_effect_as_in_javascript(worker):
    stub = worker.env.REMINDER.getByName("unawaited")
    await stub.set_unawaited(0.05)
    assert await stub.get() is not None
    assert len(await until(stub.runs)) == 1


@pytest.mark.parametrize("bad", ["soon", None, [1], True, float("nan"), float("inf")])
async def test_a_time_that_is_not_a_number_or_datetime_is_a_type_error(worker, bad):
    stub = worker.env.REMINDER.getByName("bad")
    with pytest.raises(TypeError, match="milliseconds since the epoch"):
        await stub.set_at(bad)
    assert await stub.get() is None


async def test_an_alarm_set_by_the_handler_is_kept(worker):
    stub = worker.env.REMINDER.getByName("repeats")
    await stub.plan(repeat=2)
    await stub.set_in(0.01)
    runs = await until(lambda: _at_least(stub, 3))
    assert [r["retryCount"] for r in runs] == [0, 0, 0]  # each a first run of a new alarm
    await asyncio.sleep(0.15)
    assert len(await stub.runs()) == 3
    assert await stub.get() is None


async def _at_least(stub, n):
    runs = await stub.runs()
    return runs if len(runs) >= n else None


async def test_a_failing_alarm_is_retried_with_retry_count_and_is_retry(worker):
    stub = worker.env.REMINDER.getByName("flaky")
    await stub.plan(fail=2)
    await stub.set_in(0.01)
    runs = await until(lambda: _at_least(stub, 3))
    assert [(r["retryCount"], r["isRetry"]) for r in runs] == [(0, False), (1, True), (2, True)]
    await asyncio.sleep(0.1)
    assert len(await stub.runs()) == 3  # the third run succeeded: no more
    assert await stub.get() is None


async def test_retries_back_off_exponentially_and_stop_after_six(worker, caplog):
    stub = worker.env.REMINDER.getByName("broken")
    await stub.plan(fail=100)
    started = time.monotonic()
    await stub.set_in(0)
    runs = await until(lambda: _at_least(stub, 7))
    # 10 + 20 + 40 + 80 + 160 + 320 ms of backoff (2 s, 4 s, ... 64 s with Cloudflare's delays)
    assert time.monotonic() - started >= 0.63
    assert [r["retryCount"] for r in runs] == [0, 1, 2, 3, 4, 5, 6]
    await asyncio.sleep(0.2)
    assert len(await stub.runs()) == 7  # given up after 6 retries
    assert await stub.get() is None
    assert "retry 1 of 6 in 0.01 s" in caplog.text
    assert "giving up after 6 retries" in caplog.text
    assert "planned failure" in caplog.text


async def test_delete_alarm_in_a_failing_handler_prevents_the_retry(worker):
    stub = worker.env.REMINDER.getByName("deletes")
    await stub.plan(delete_then_fail=True)
    await stub.set_in(0)
    await until(stub.runs)
    await asyncio.sleep(0.1)
    assert len(await stub.runs()) == 1
    assert await stub.get() is None


async def test_an_alarm_never_interleaves_with_a_request(worker):
    stub = worker.env.REMINDER.getByName("gate")
    await stub.plan(slow=0.2)  # the handler reads n, waits 0.2 s, writes n + 1
    await stub.set_in(0)
    await asyncio.sleep(0.05)  # the handler is now inside its pause
    started = time.monotonic()
    assert await stub.add() == 2  # the request waited for the alarm: nothing was lost
    assert time.monotonic() - started >= 0.1
    assert len(await stub.runs()) == 1


async def test_alarms_survive_a_restart_and_overdue_ones_run_on_start(tmp_path):
    first = WorkerHarness(FIXTURE, state_dir=tmp_path)
    await first.env.REMINDER.getByName("later").set_in(0.3)
    await first.env.REMINDER.getByName("overdue").set_in(0.05)
    first.isolate.stop_alarms()  # the process ends
    await asyncio.sleep(0.1)

    again = WorkerHarness(FIXTURE, state_dir=tmp_path)
    try:
        again.isolate.start_alarms()
        overdue, later = again.env.REMINDER.getByName("overdue"), again.env.REMINDER.getByName("later")
        assert len(await until(overdue.runs, timeout=0.15)) == 1  # at once
        assert await later.runs() == []
        assert len(await until(later.runs)) == 1
    finally:
        again.isolate.stop_alarms()


async def test_a_run_cut_short_by_a_restart_runs_again_as_a_retry(tmp_path):
    first = WorkerHarness(FIXTURE, state_dir=tmp_path)
    stub = first.env.REMINDER.getByName("cut")
    await stub.plan(slow=5)
    await stub.set_in(0)
    await asyncio.sleep(0.1)  # the handler is in its pause (and holds the object's input gate)
    first.isolate.stop_alarms()  # the process dies inside the handler

    again = WorkerHarness(FIXTURE, state_dir=tmp_path)
    try:
        await again.env.REMINDER.getByName("cut").plan()
        again.isolate.start_alarms()
        runs = await until(lambda: _at_least(again.env.REMINDER.getByName("cut"), 2))
        assert [(r["retryCount"], r["isRetry"]) for r in runs] == [(0, False), (1, True)]
    finally:
        again.isolate.stop_alarms()


async def test_delete_all_deletes_the_alarm_too(worker):
    stub = worker.env.REMINDER.getByName("wiped")
    await stub.set_in(0.1)
    await stub.wipe()
    assert await stub.get() is None
    await asyncio.sleep(0.2)
    assert await stub.runs() == []


async def test_an_alarm_set_in_a_rolled_back_transaction_is_undone(tmp_path):
    storage = DurableObjectStorage(tmp_path / "object.sqlite")

    async def sets_then_fails(txn):
        await txn.setAlarm(now_ms() + 60_000)
        raise ValueError("rolled back")

    with pytest.raises(ValueError, match="rolled back"):
        await storage.transaction(sets_then_fails)
    assert await storage.getAlarm() is None
    assert await storage.transaction(lambda txn: txn.setAlarm(1234)) is None
    assert await storage.getAlarm() == 1234


async def test_an_alarm_handler_without_alarm_info_is_called_relaxed(worker):
    stub = worker.env.SILENT.getByName("s")
    await stub.set_in(0)
    assert await until(stub.fired) == 1


async def test_an_alarm_handler_with_the_wrong_arity_is_refused_naming_the_signature(worker):
    with pytest.raises(TypeError) as refused:
        await worker.env.CRAMPED.getByName("c").set_in(1)
    assert str(refused.value) == (
        "Cramped: alarm handler must be 'async def alarm(self, alarm_info)' "
        "(workerd passes it as many of (alarm_info) as it accepts, at most 1); it takes 2"
    )


async def test_set_alarm_needs_an_alarm_handler(worker):
    with pytest.raises(TypeError, match=r"must have an alarm\(\) handler in order to call setAlarm\(\).*Bare"):
        await worker.env.BARE.getByName("b").set_in(1)


async def test_a_durable_object_fetch_gets_the_request_alone(worker):
    with pytest.raises(TypeError, match=r"Bare: fetch handler must be 'async def fetch\(self, request\)'"):
        await worker.env.BARE.getByName("b").fetch("https://bare/")


def test_a_platform_restart_runs_the_overdue_alarm_on_start(tmp_path):
    """Through `dotdo dev` (the worker's own process): the alarm set before a stop runs after the next start."""
    folder = tmp_path / "reminders"
    shutil.copytree(FIXTURE, folder)  # outside the repository: the state goes to <folder>/.state
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOTDO_CACHE_DIR": str(tmp_path / "cache")}
    proc, url = start_dev(folder, env)
    try:
        answer = httpx.get(f"{url}/set", params={"seconds": "0.5"}, timeout=10).json()
        assert answer["alarm"] is not None
        assert answer["runs"] == []
    finally:
        stop_dev(proc)
    time.sleep(0.6)  # due while nothing runs
    proc, url = start_dev(folder, env)
    try:
        deadline = time.monotonic() + 5
        while not (answer := httpx.get(url, timeout=10).json())["runs"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answer == {"alarm": None, "runs": [{"retryCount": 0, "isRetry": False, "getAlarm": None}]}
    finally:
        stop_dev(proc)


async def test_two_bindings_of_a_class_reach_the_same_objects_and_one_alarm(worker):
    await worker.env.REMINDER.getByName("shared").set_in(0.05)
    also = worker.env.ALSO_REMINDER.getByName("shared")
    assert await also.get() is not None
    assert len(await until(also.runs)) == 1
    await asyncio.sleep(0.1)
    assert len(await also.runs()) == 1  # one object, one run


def test_every_durable_object_handler_is_called_relaxed_with_its_documented_arguments():
    def message(ws):
        return ws

    def close(ws, code, reason, was_clean, extra):
        return ws

    assert durable_object_handler_arguments("Chat", "webSocketMessage", message, ("ws", "hi")) == ("ws",)
    assert durable_object_handler_arguments("Chat", "webSocketMessage", lambda *a: a, ("ws", "hi")) == ("ws", "hi")
    with pytest.raises(TypeError) as refused:
        durable_object_handler_arguments("Chat", "webSocketClose", close, ("ws", 1000, "bye", True))
    assert str(refused.value) == (
        "Chat: webSocketClose handler must be 'async def webSocketClose(self, ws, code, reason, was_clean)' "
        "(workerd passes it as many of (ws, code, reason, was_clean) as it accepts, at most 4); it takes 5"
    )
