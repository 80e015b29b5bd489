"""schedule's storage: its own D1 (`SCHEDULE_DB`, `migrations.py`). Runs, task switches and leases.

Timestamps are the platform's ISO-8601 strings (`shared.clock`), which compare as text in time order.
"""

from __future__ import annotations

import json
from typing import Any

from migrations import MIGRATIONS
from shared.storage import Database

DATABASE = Database("SCHEDULE_DB", MIGRATIONS)
RUN_COLUMNS = (
    "id",
    "task",
    "trigger",
    "cron",
    "status",
    "attempts",
    "error",
    "reason",
    "result",
    "actor",
    "started_at",
    "finished_at",
    "duration_ms",
)
_SELECT = ", ".join(RUN_COLUMNS)
#: The filters `find_runs` takes: column -> SQL (each compared with one parameter).
_FILTERS = {
    "task": "task = ?",
    "status": "status = ?",
    "trigger": "trigger = ?",
    "cron": "cron = ?",
    "since": "started_at >= ?",
    "until": "started_at < ?",
}


def _run(row: dict[str, Any]) -> dict[str, Any]:
    run = dict(row)
    run["result"] = json.loads(run["result"]) if run.get("result") else None
    return run


# -- runs -------------------------------------------------------------------------------------------------


async def insert_run(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    values = {**values, "result": json.dumps(values["result"]) if values.get("result") is not None else None}
    columns = [c for c in RUN_COLUMNS if c in values]
    db = await DATABASE.open(env)
    await db.run(
        f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",  # noqa: S608 - fixed
        [values[c] for c in columns],
    )
    return await get_run(env, values["id"]) or {}


async def update_run(env: Any, run_id: str, values: dict[str, Any]) -> dict[str, Any]:
    if "result" in values:
        values = {**values, "result": json.dumps(values["result"]) if values["result"] is not None else None}
    assert set(values) <= set(RUN_COLUMNS)  # the callers name columns, never input
    db = await DATABASE.open(env)
    await db.run(
        f"UPDATE runs SET {', '.join(f'{c} = ?' for c in values)} WHERE id = ?",  # noqa: S608 - columns fixed
        [*values.values(), run_id],
    )
    return await get_run(env, run_id) or {}


async def get_run(env: Any, run_id: str) -> dict[str, Any] | None:
    db = await DATABASE.open(env)
    row = await db.first(f"SELECT {_SELECT} FROM runs WHERE id = ?", [run_id])  # noqa: S608 - columns fixed
    return _run(row) if row else None


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    parts, params = [], []
    for key, value in filters.items():
        if value is None:
            continue
        parts.append(_FILTERS[key])  # a KeyError is a programming error: callers name filters, never input
        params.append(value)
    return (" AND ".join(parts) or "1"), params


async def find_runs(env: Any, filters: dict[str, Any], *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Runs matching `filters` (`_FILTERS`' keys), newest first."""
    sql, params = _where(filters)
    db = await DATABASE.open(env)
    rows = await db.all(
        f"SELECT {_SELECT} FROM runs WHERE {sql} ORDER BY rowid DESC LIMIT ? OFFSET ?",  # noqa: S608 - fixed
        [*params, limit, offset],
    )
    return [_run(row) for row in rows]


async def count_runs(env: Any, filters: dict[str, Any]) -> int:
    sql, params = _where(filters)
    db = await DATABASE.open(env)
    row = await db.first(f"SELECT count(*) AS n FROM runs WHERE {sql}", params)  # noqa: S608 - fixed
    return int(row["n"]) if row else 0


async def last_runs(env: Any) -> dict[str, dict[str, Any]]:
    """The newest run of each task that has one, by task name."""
    db = await DATABASE.open(env)
    rows = await db.all(
        f"SELECT {_SELECT} FROM runs WHERE rowid IN (SELECT max(rowid) FROM runs GROUP BY task)"  # noqa: S608
    )
    return {row["task"]: _run(row) for row in rows}


async def prune(env: Any, before: str, now: str) -> dict[str, int]:
    """Delete runs that started before `before` (not one still running) and leases expired by `now`."""
    db = await DATABASE.open(env)
    runs = await db.run("DELETE FROM runs WHERE started_at < ? AND status != 'running'", [before])
    leases = await db.run("DELETE FROM leases WHERE expires_at <= ?", [now])
    return {"runs": runs, "expired_leases": leases}


# -- task switches ----------------------------------------------------------------------------------------


async def switches(env: Any) -> dict[str, bool]:
    """Task name -> enabled, for the tasks whose switch was ever set (the others are enabled)."""
    db = await DATABASE.open(env)
    return {row["name"]: bool(row["enabled"]) for row in await db.all("SELECT name, enabled FROM task_settings")}


async def set_switch(env: Any, name: str, enabled: bool, actor: str | None, now: str) -> None:
    db = await DATABASE.open(env)
    await db.run(
        "INSERT INTO task_settings (name, enabled, updated_at, updated_by) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at, "
        "updated_by = excluded.updated_by",
        [name, 1 if enabled else 0, now, actor],
    )


# -- leases -----------------------------------------------------------------------------------------------


async def acquire(env: Any, task: str, holder: str, until: str, now: str) -> bool:
    """Take `task`'s lease for `holder` until `until`: True if it was free or expired by `now`, else False.

    One statement, so two runs racing for it cannot both win: SQLite (D1) applies it atomically.
    """
    db = await DATABASE.open(env)
    changed = await db.run(
        "INSERT INTO leases (task, holder, expires_at) VALUES (?, ?, ?) "
        "ON CONFLICT (task) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
        "WHERE leases.expires_at <= ?",
        [task, holder, until, now],
    )
    return changed == 1


async def lease(env: Any, task: str) -> dict[str, Any] | None:
    db = await DATABASE.open(env)
    return await db.first("SELECT task, holder, expires_at FROM leases WHERE task = ?", [task])


async def release(env: Any, task: str, holder: str) -> None:
    """Give the lease back (only if `holder` still holds it: an expired one may have been taken since)."""
    db = await DATABASE.open(env)
    await db.run("DELETE FROM leases WHERE task = ? AND holder = ?", [task, holder])
