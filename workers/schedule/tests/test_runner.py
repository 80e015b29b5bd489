"""One run of a task: retries with backoff and jitter within the budget, a lease against overlapping runs
(that a crashed run cannot hold forever), disabled tasks skipped, and a history row for each."""

import asyncio

import pytest
from conftest import ADMIN, history

import runner
import store
import tasks
from shared.clock import iso_in, now_iso
from tasks import Task

TEST_CRON = "0 0 1 1 *"


def flaky(failures: int, calls: list):
    async def run(ctx):
        calls.append(ctx.principal["id"])
        if len(calls) <= failures:
            raise RuntimeError(f"transient failure {len(calls)}")
        return {"done": len(calls)}

    return run


@pytest.fixture
def add_task(monkeypatch):
    def add(name: str, run, **options) -> Task:
        task = Task(name, options.pop("cron", TEST_CRON), "a test task", run, **options)
        monkeypatch.setitem(tasks.TASKS, name, task)
        return task

    return add


async def test_a_task_that_fails_twice_then_succeeds_shows_three_attempts(worker, add_task):
    calls: list = []
    add_task("flaky", flaky(2, calls))
    await worker.scheduled(TEST_CRON)
    (run,), _ = await history(worker, task="flaky")
    assert (run["status"], run["attempts"], run["error"]) == ("succeeded", 3, None)
    assert run["result"] == {"done": 3}
    assert calls == ["svc_schedule"] * 3


async def test_a_task_that_always_fails_is_recorded_failed_with_its_last_error(worker, add_task):
    calls: list = []
    add_task("broken", flaky(99, calls), max_attempts=4)
    await worker.scheduled(TEST_CRON)
    (run,), _ = await history(worker, task="broken")
    assert (run["status"], run["attempts"]) == ("failed", 4)
    assert run["error"] == "RuntimeError: transient failure 4"
    assert len(calls) == 4


async def test_no_retry_is_started_that_the_budget_cannot_hold(worker, add_task, monkeypatch):
    calls: list = []
    add_task("broken", flaky(99, calls))
    monkeypatch.setattr(runner, "BACKOFF_BASE", 10.0)  # the first wait alone (5-10 s) exceeds the budget
    monkeypatch.setattr(runner, "SHORT_BUDGET", 3.0)
    monkeypatch.setattr(runner, "LONG_BUDGET", 3.0)
    await worker.scheduled(TEST_CRON)
    (run,), _ = await history(worker, task="broken")
    assert (run["status"], run["attempts"]) == ("failed", 1)
    assert "no budget left for another attempt" in run["error"]


async def test_an_attempt_that_outlasts_its_timeout_counts_as_failed(worker, add_task):
    async def slow(ctx):
        await asyncio.sleep(5)

    add_task("slow", slow, timeout=0.1, max_attempts=2)
    await worker.scheduled(TEST_CRON)
    (run,), _ = await history(worker, task="slow")
    assert (run["status"], run["attempts"]) == ("failed", 2)
    assert run["error"].startswith("TIMEOUT")


def test_backoff_grows_exponentially_with_jitter_and_a_cap(monkeypatch):
    monkeypatch.setattr(runner, "BACKOFF_BASE", 1.0)
    for attempt, full in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, runner.BACKOFF_CAP)):
        waits = {runner.backoff(attempt) for _ in range(50)}
        assert all(full / 2 <= w <= full for w in waits), (attempt, waits)
        assert len(waits) > 1  # jittered


def test_a_frequent_cron_gets_the_short_budget_and_a_daily_one_the_long():
    assert runner.budget_for(tasks.EVERY_5_MINUTES) == runner.SHORT_BUDGET
    assert runner.budget_for(tasks.DAILY) == runner.LONG_BUDGET


async def test_two_runs_at_once_one_runs_and_the_other_is_skipped(worker, add_task):
    started, release = asyncio.Event(), asyncio.Event()
    calls: list = []

    async def held(ctx):
        calls.append(1)
        started.set()
        await release.wait()
        return {"ok": True}

    task = add_task("held", held)
    first = asyncio.create_task(runner.run_task(worker.env, task, trigger="cron", cron=TEST_CRON))
    await started.wait()
    second = await runner.run_task(worker.env, task, trigger="manual", actor="usr_admin")
    release.set()
    first = await first
    assert first["status"] == "succeeded"
    assert second["status"] == "skipped"
    assert second["reason"] == f"already running ({first['id']})"
    assert calls == [1]
    assert await store.lease(worker.env, "held") is None  # given back when the run ended
    # and the next run takes it again
    again = await runner.run_task(worker.env, task, trigger="manual")
    assert again["status"] == "succeeded"


async def test_two_scheduled_invocations_at_once_run_the_task_once(worker, add_task):
    calls: list = []

    async def slowish(ctx):
        calls.append(1)
        await asyncio.sleep(0.3)
        return {}

    add_task("slowish", slowish)
    await asyncio.gather(worker.scheduled(TEST_CRON), worker.scheduled(TEST_CRON))
    runs, _ = await history(worker, task="slowish")
    assert sorted(r["status"] for r in runs) == ["skipped", "succeeded"]
    assert calls == [1]


async def test_a_lease_left_by_a_crashed_run_expires(worker, add_task):
    calls: list = []
    task = add_task("crashy", flaky(0, calls))
    assert await store.acquire(worker.env, "crashy", "run_crashed", iso_in(60), now_iso())
    blocked = await runner.run_task(worker.env, task, trigger="cron")
    assert (blocked["status"], blocked["reason"]) == ("skipped", "already running (run_crashed)")
    assert await store.acquire(worker.env, "crashy", "run_crashed", iso_in(-1), iso_in(120)) is True  # expired
    ran = await runner.run_task(worker.env, task, trigger="cron")
    assert ran["status"] == "succeeded"
    assert calls == ["svc_schedule"]


async def test_a_disabled_task_is_skipped_and_recorded_until_enabled(worker, add_task):
    calls: list = []
    add_task("switchable", flaky(0, calls))
    reply = await worker.fetch("/tasks/switchable/disable", method="POST", headers=ADMIN, json={})
    assert reply.status == 200
    assert (await reply.json())["data"]["enabled"] is False
    await worker.scheduled(TEST_CRON)
    assert calls == []
    reply = await worker.fetch("/tasks/switchable/enable", method="POST", headers=ADMIN, json={})
    assert (await reply.json())["data"]["enabled"] is True
    await worker.scheduled(TEST_CRON)
    runs, _ = await history(worker, task="switchable")
    assert [(r["status"], r["reason"]) for r in runs] == [("succeeded", None), ("skipped", "disabled")]
    assert calls == ["svc_schedule"]


async def test_old_history_is_pruned_but_not_a_running_run(worker):
    old = iso_in(-40 * 86400)
    for run_id, status in (("run_old", "succeeded"), ("run_stuck", "running")):
        await store.insert_run(
            worker.env, {"id": run_id, "task": "x", "trigger": "cron", "status": status, "started_at": old}
        )
    await worker.scheduled(tasks.DAILY)
    assert await store.get_run(worker.env, "run_old") is None
    assert await store.get_run(worker.env, "run_stuck") is not None
