"""The SQLite file behind one Workflow: its instances, what their steps returned, the events sent to them.

`<state>/workflows/<worker>/<workflow name>.sqlite` holds three tables:

* `instances`: id, params, creation time, status, output or error, and whether a pause was asked for;
* `steps`: per instance, one row per step key (`do:<name>:<n>`, `sleep:<name>:<n>`,
  `event:<name>:<n>`, the n-th call of that name in the run): its value or error once settled, the
  attempts made so far and, for sleeps and waits, the time it ends;
* `events`: what `send_event` delivered, in order, until a `wait_for_event` takes it.

Values are stored as the wire format of the local runtime (`dotdo_dev.runtime.wire`), so they come
back as they would cross RPC on Cloudflare. Every write is its own transaction (autocommit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotdo_dev.runtime import wire
from dotdo_dev.runtime.sqlite import connect

__all__ = ["InstanceRow", "StepRow", "WorkflowStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    params TEXT NOT NULL,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    error TEXT,
    pause_requested INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS steps (
    instance_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    until REAL,
    PRIMARY KEY (instance_id, key)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    timestamp REAL NOT NULL
);
"""

#: Statuses of an instance whose `run` may still make progress (restarted after a crash).
UNFINISHED = ("queued", "running", "waiting", "waitingForPause", "paused")


@dataclass(frozen=True)
class InstanceRow:
    """One instance as stored."""

    id: str
    params: Any
    created: float
    status: str
    output: Any
    error: dict[str, str] | None
    pause_requested: bool


@dataclass(frozen=True)
class StepRow:
    """One step as stored: settled when `settled` (then `value` or `error`), else in progress."""

    settled: bool
    value: Any
    error: dict[str, str] | None
    attempts: int
    until: float | None


class WorkflowStore:
    """The instances of one Workflow on one SQLite file."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)

    # -- instances ---------------------------------------------------------------------------------
    def add(self, instance_id: str, params: Any, created: float) -> bool:
        """Record a new queued instance; False when the id is taken."""
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO instances (id, params, created, status) VALUES (?, ?, ?, 'queued')",
            (instance_id, _dump(params), created),
        )
        return cursor.rowcount == 1

    def instance(self, instance_id: str) -> InstanceRow | None:
        row = self._conn.execute(
            "SELECT id, params, created, status, output, error, pause_requested FROM instances WHERE id = ?",
            (instance_id,),
        ).fetchone()
        if row is None:
            return None
        return InstanceRow(
            id=row[0],
            params=_load(row[1]),
            created=row[2],
            status=row[3],
            output=_load(row[4]),
            error=None if row[5] is None else json.loads(row[5]),
            pause_requested=bool(row[6]),
        )

    def unfinished(self) -> list[str]:
        """Ids of the instances whose run is not over, oldest first."""
        marks = ",".join("?" * len(UNFINISHED))
        rows = self._conn.execute(
            f"SELECT id FROM instances WHERE status IN ({marks}) ORDER BY created, id",  # noqa: S608 - placeholders only
            UNFINISHED,
        ).fetchall()
        return [r[0] for r in rows]

    def set_status(self, instance_id: str, status: str) -> None:
        self._conn.execute("UPDATE instances SET status = ? WHERE id = ?", (status, instance_id))

    def finish(self, instance_id: str, status: str, *, output: Any = None, error: dict[str, str] | None = None) -> None:
        """Settle an instance: complete with `output`, errored with `error`, or terminated."""
        self._conn.execute(
            "UPDATE instances SET status = ?, output = ?, error = ?, pause_requested = 0 WHERE id = ?",
            (status, _dump(output), None if error is None else json.dumps(error), instance_id),
        )

    def request_pause(self, instance_id: str, requested: bool) -> None:
        self._conn.execute(
            "UPDATE instances SET pause_requested = ? WHERE id = ?", (1 if requested else 0, instance_id)
        )

    def reset(self, instance_id: str) -> None:
        """Forget every step result and event of an instance and queue it again (`restart`)."""
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM steps WHERE instance_id = ?", (instance_id,))
            self._conn.execute("DELETE FROM events WHERE instance_id = ?", (instance_id,))
            self._conn.execute(
                "UPDATE instances SET status = 'queued', output = NULL, error = NULL, pause_requested = 0 WHERE id = ?",
                (instance_id,),
            )

    # -- steps -------------------------------------------------------------------------------------
    def step(self, instance_id: str, key: str) -> StepRow | None:
        row = self._conn.execute(
            "SELECT value, error, attempts, until FROM steps WHERE instance_id = ? AND key = ?", (instance_id, key)
        ).fetchone()
        if row is None:
            return None
        settled = row[0] is not None or row[1] is not None
        return StepRow(
            settled=settled,
            value=_load(row[0]),
            error=None if row[1] is None else json.loads(row[1]),
            attempts=row[2],
            until=row[3],
        )

    def begin_step(self, instance_id: str, key: str, *, attempts: int = 0, until: float | None = None) -> None:
        """Record a step in progress: attempts made so far, and when a sleep or wait ends."""
        self._conn.execute(
            "INSERT INTO steps (instance_id, key, attempts, until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (instance_id, key) DO UPDATE SET attempts = excluded.attempts, until = excluded.until",
            (instance_id, key, attempts, until),
        )

    def settle_step(
        self, instance_id: str, key: str, *, value: Any = None, error: dict[str, str] | None = None
    ) -> None:
        """Record what a step returned (`value`, stored as the wire format) or the error it ended with."""
        encoded = None if error is not None else _dump(value, wrap=True)
        self._conn.execute(
            "INSERT INTO steps (instance_id, key, value, error) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (instance_id, key) DO UPDATE SET value = excluded.value, error = excluded.error",
            (instance_id, key, encoded, None if error is None else json.dumps(error)),
        )

    # -- events ------------------------------------------------------------------------------------
    def add_event(self, instance_id: str, event_type: str, payload: Any, timestamp: float) -> None:
        self._conn.execute(
            "INSERT INTO events (instance_id, type, payload, timestamp) VALUES (?, ?, ?, ?)",
            (instance_id, event_type, _dump(payload, wrap=True), timestamp),
        )

    def take_event(self, instance_id: str, event_type: str) -> tuple[Any, float] | None:
        """The oldest event of `event_type` sent to the instance (payload, timestamp), removed; None if none."""
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            row = self._conn.execute(
                "SELECT seq, payload, timestamp FROM events WHERE instance_id = ? AND type = ? ORDER BY seq LIMIT 1",
                (instance_id, event_type),
            ).fetchone()
            if row is None:
                return None
            self._conn.execute("DELETE FROM events WHERE seq = ?", (row[0],))
        return _load(row[1]), row[2]

    def close(self) -> None:
        self._conn.close()


def _dump(value: Any, *, wrap: bool = False) -> str | None:
    """The wire form of `value`; None stays SQL NULL unless `wrap` (a step may return None)."""
    if value is None and not wrap:
        return None
    return wire.dumps({"v": value}).decode()


def _load(text: str | None) -> Any:
    return None if text is None else wire.loads(text.encode())["v"]
