"""schedule's operations, each declared once: RPC, HTTP, MCP and OpenAPI follow.

Reading (the tasks, their next run times, the history) needs `schedule:read`; running a task now and
switching one on or off need `schedule:admin`. Admins hold both (`*`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import runner
import store
import tasks
from shared.clock import now_iso, parse_iso, to_iso
from shared.errors import NotFound
from shared.logs import log
from shared.service import OFFSET_PAGE, Call, Service, offset_page

service = Service(
    "schedule",
    version="0.1.0",
    description="The platform's cron tasks: housekeeping on auth, db and deploy, health checks; run history.",
)

STATUSES = ("running", "succeeded", "failed", "skipped")
TRIGGERS = ("cron", "manual")
_TASK_NAME = r"^[a-z][a-z0-9-]{0,63}$"


class TaskName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=_TASK_NAME, description="The task's name")


class ListTasks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    next: int = Field(default=3, ge=1, le=20, description="How many next run times to show per task")


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str | None = Field(default=None, max_length=64, pattern=_TASK_NAME)
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    trigger: Literal[TRIGGERS] | None = None  # type: ignore[valid-type]
    cron: str | None = Field(default=None, max_length=100)
    since: str | None = Field(default=None, description="Runs started at or after this ISO-8601 time (with zone)")
    until: str | None = Field(default=None, description="Runs started before this ISO-8601 time (with zone)")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)

    @field_validator("since", "until")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return to_iso(parse_iso(value))
        except ValueError:
            raise ValueError("an ISO-8601 time with a zone, e.g. 2026-12-01T00:00:00Z") from None


def task_named(name: str) -> tasks.Task:
    task = tasks.TASKS.get(name)
    if task is None:
        raise NotFound(f"No task {name!r}", code="TASK_NOT_FOUND", details={"tasks": sorted(tasks.TASKS)})
    return task


def describe(task: tasks.Task, env: Any, switches: dict[str, bool], last: dict[str, Any], count: int) -> dict:
    now = dt.datetime.now(dt.UTC)
    return {
        "name": task.name,
        "cron": task.cron,
        "effect": task.effect,
        "service": task.service,
        "binding": task.binding,
        "bound": task.binding is None or getattr(env, task.binding, None) is not None,
        "enabled": switches.get(task.name, True),
        "max_attempts": task.max_attempts,
        "timeout_seconds": task.timeout,
        "next_runs": [to_iso(moment) for moment in task.schedule.next_times(now, count)],
        "last_run": last.get(task.name),
    }


@service.operation(http="GET /tasks", permission="schedule:read", tool="schedule_list_tasks")
async def list_tasks(call: Call, args: ListTasks) -> list:
    """The tasks: cron, effect, whether enabled and bound, the next run times (UTC) and the last run."""
    switches, last = await store.switches(call.env), await store.last_runs(call.env)
    return [describe(task, call.env, switches, last, args.next) for task in tasks.TASKS.values()]


@service.operation(http="GET /tasks/{name}", permission="schedule:read", tool="schedule_get_task")
async def get_task(call: Call, args: TaskName) -> dict:
    """One task, as the list shows it."""
    task = task_named(args.name)
    return describe(task, call.env, await store.switches(call.env), await store.last_runs(call.env), 3)


@service.operation(http="POST /tasks/{name}/run", permission="schedule:admin", tool="schedule_run_task")
async def run_task(call: Call, args: TaskName) -> dict:
    """Run a task now (as its cron would: switch, lease, retries) and answer its run record."""
    return await runner.run_task(call.env, task_named(args.name), trigger="manual", actor=call.actor)


@service.operation(http="POST /tasks/{name}/enable", permission="schedule:admin", tool="schedule_enable_task")
async def enable_task(call: Call, args: TaskName) -> dict:
    """Switch a task on: its cron runs it again."""
    return await _switch(call, args.name, True)


@service.operation(http="POST /tasks/{name}/disable", permission="schedule:admin", tool="schedule_disable_task")
async def disable_task(call: Call, args: TaskName) -> dict:
    """Switch a task off: its cron records it skipped (reason disabled) until it is enabled."""
    return await _switch(call, args.name, False)


async def _switch(call: Call, name: str, enabled: bool) -> dict:
    task = task_named(name)
    await store.set_switch(call.env, task.name, enabled, call.actor, now_iso())
    action = "enable_task" if enabled else "disable_task"
    log({"type": "audit", "service": "schedule", "action": action, "task": task.name, "actor": call.actor})
    return await get_task(call, TaskName(name=task.name))


@service.operation(
    http="GET /history",
    permission="schedule:read",
    tool="schedule_history",
    page=OFFSET_PAGE,
)
async def list_history(call: Call, args: HistoryQuery) -> dict:
    """Task runs, newest first, filtered by task, status, trigger, cron and start time: `{"items": [...], ...}`."""
    filters = args.model_dump(exclude={"limit", "offset"})
    items = await store.find_runs(call.env, filters, limit=args.limit, offset=args.offset)
    total = await store.count_runs(call.env, filters)
    return offset_page(items, total=total, limit=args.limit, offset=args.offset)
