"""Running tasks: the switch, the lease, attempts with backoff, and a history row for every run.

    await run_cron(env, "17 * * * *", scheduled_time)   # the scheduled handler: exactly that cron's tasks
    await run_task(env, TASKS["db-usage-rollup"], trigger="manual", actor="usr_...")

One run of a task, whatever started it:

1. A disabled task (`store.switches`) is recorded `skipped` with reason `disabled`; a task whose service
   is not bound, `skipped` with reason `<service> not bound`.
2. The run takes the task's lease in D1 (`store.acquire`), good until the run's budget ends plus a
   margin. Held by another run: recorded `skipped`, reason `already running (run_...)`. A run that
   crashed leaves a lease that expires, so the task is blocked no longer than that.
3. Attempts: a task that raises or exceeds its timeout is tried again after an exponential backoff
   with jitter (`BACKOFF_BASE * 2**(n-1)`, capped at `BACKOFF_CAP`, a random half of it added), up to
   the task's `max_attempts`, as long as the wait and another attempt fit in the invocation's budget.
   Then it is recorded `failed` with the last error; a success `succeeded` with the task's result.
4. The lease is given back.

The budget: Cloudflare gives a cron invocation a bounded wall-clock time (its docs: 15 minutes for
schedules of an hour or more; less for more frequent ones), so a cron that fires more often than hourly
gets `SHORT_BUDGET` seconds for all its tasks, others `LONG_BUDGET`; a run asked for over HTTP or RPC
gets `SHORT_BUDGET` (its caller is waiting).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from typing import Any

import store
import tasks as tasks_module
from shared.clock import iso_in, now_iso
from shared.cron import CronError, CronSchedule
from shared.errors import AppError
from shared.ids import new_id
from shared.logs import log
from tasks import Task, TaskContext

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
SHORT_BUDGET = 25.0
LONG_BUDGET = 600.0
#: How long a lease outlives its run's budget (a run that crashed blocks its task no longer than that).
LEASE_MARGIN = 60.0
#: The longest error text kept.
MAX_ERROR = 1000


class Budget:
    """The seconds left of an invocation (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def budget_for(cron: str) -> float:
    """`SHORT_BUDGET` for a cron that fires more often than hourly, else `LONG_BUDGET`."""
    try:
        first, second = CronSchedule.parse(cron).next_times(dt.datetime.now(dt.UTC), 2)
    except CronError:
        return SHORT_BUDGET
    return SHORT_BUDGET if (second - first) < dt.timedelta(hours=1) else LONG_BUDGET


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): exponential, capped, half of it random."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # jitter, not a secret


async def run_cron(env: Any, cron: str, scheduled_time: int | None = None) -> list[dict[str, Any]]:
    """Run exactly the tasks of `cron`, one after another, within the cron's budget; their run records."""
    selected = tasks_module.tasks_of(cron)
    if not selected:
        log({"type": "schedule", "cron": cron, "message": "no task has this cron"})
        return []
    budget = Budget(budget_for(cron))
    return [
        await run_task(env, task, trigger="cron", cron=cron, budget=budget, scheduled_time=scheduled_time)
        for task in selected
    ]


async def run_task(
    env: Any,
    task: Task,
    *,
    trigger: str,
    cron: str | None = None,
    actor: str | None = None,
    budget: Budget | None = None,
    scheduled_time: int | None = None,
) -> dict[str, Any]:
    """Run one task (steps 1-4 above); its run record."""
    budget = budget or Budget(SHORT_BUDGET)
    run_id = new_id("run")
    started = time.monotonic()
    base = {"id": run_id, "task": task.name, "trigger": trigger, "cron": cron, "actor": actor, "started_at": now_iso()}

    reason = await _skip_reason(env, task)
    if reason is None:
        until = iso_in(max(budget.left(), 0) + LEASE_MARGIN)
        if not await store.acquire(env, task.name, run_id, until, now_iso()):
            held = await store.lease(env, task.name)
            reason = f"already running ({held['holder']})" if held else "already running"
    if reason is not None:
        record = await store.insert_run(env, base | _ended("skipped", started) | {"reason": reason})
        _log(record)
        return record

    await store.insert_run(env, base | {"status": "running"})
    try:
        status, attempts, result, error = await _attempts(env, task, budget, run_id, scheduled_time)
        record = await store.update_run(
            env, run_id, _ended(status, started) | {"attempts": attempts, "result": result, "error": error}
        )
    finally:
        await store.release(env, task.name, run_id)
    _log(record)
    return record


async def _skip_reason(env: Any, task: Task) -> str | None:
    if not (await store.switches(env)).get(task.name, True):
        return "disabled"
    if task.binding and getattr(env, task.binding, None) is None:
        return f"{task.service} not bound"
    return None


async def _attempts(
    env: Any, task: Task, budget: Budget, run_id: str, scheduled_time: int | None
) -> tuple[str, int, Any, str | None]:
    """Try the task until it succeeds, runs out of attempts or of budget: (status, attempts, result, error)."""
    context = TaskContext(env, scheduled_time)
    attempt = 0
    while True:
        attempt += 1
        await store.update_run(env, run_id, {"attempts": attempt})
        try:
            timeout = max(0.1, min(task.timeout, budget.left()))
            result = await asyncio.wait_for(task.run(context), timeout)
            return "succeeded", attempt, _plain(result), None
        except Exception as exc:  # a task's failure of any kind is recorded, never raised past the run
            error = _describe(exc)
        if attempt >= task.max_attempts:
            return "failed", attempt, None, error
        delay = backoff(attempt)
        if delay + 1.0 > budget.left():
            return "failed", attempt, None, f"{error} (no budget left for another attempt)"
        await asyncio.sleep(delay)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        text = "TIMEOUT: the attempt took longer than the task's timeout"
    elif isinstance(exc, AppError):
        text = f"{exc.code}: {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR]


def _ended(status: str, started: float) -> dict[str, Any]:
    return {"status": status, "finished_at": now_iso(), "duration_ms": int((time.monotonic() - started) * 1000)}


def _plain(value: Any) -> Any:
    """A task's result as JSON data (an RPC answer arrives as JS objects on Cloudflare)."""
    if hasattr(value, "to_py"):
        value = value.to_py()
    return json.loads(json.dumps(value, default=str))


def _log(record: dict[str, Any]) -> None:
    fields = ("task", "trigger", "cron", "status", "attempts", "reason", "error", "duration_ms")
    log({"type": "schedule_run", "run": record.get("id")} | {k: record.get(k) for k in fields})
