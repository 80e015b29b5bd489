"""Durable Object alarms: `ctx.storage.setAlarm(when)`, `getAlarm()`, `deleteAlarm()` and the `alarm()` handler.

As on Cloudflare (developers.cloudflare.com/durable-objects/api/alarms):

* One alarm per object; `setAlarm` replaces it. The time is milliseconds since the epoch (a number)
  or a `datetime`; a time in the past fires at once. It lives in the object's own SQLite file (table
  `_alarm`), so it survives a restart: when the worker starts again, overdue alarms run at once.
* When the time comes, the runtime calls `alarm(alarm_info)` (`alarm_info.retryCount`,
  `alarm_info.isRetry`) through the object's input gate: never at the same time as a request to it.
* A handler that raises is retried with exponential backoff, 2 s after the first failure, then 4 s,
  8 s ... up to 6 retries; then the alarm is dropped and the failure logged. A successful run clears
  the alarm, unless the handler set a new one; `setAlarm` or `deleteAlarm` inside a failing handler
  decides instead of a retry. While the handler runs, `getAlarm()` is None unless it set a new one.
* A run that dies with the process is run again on the next start, as a retry (at least once).

`ObjectAlarm` is one object's row and run state; `AlarmTimers` holds a namespace's wake-ups in the
event loop. The namespace (`durable_objects.py`) runs the handler.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "RETRY_FIRST_DELAY",
    "RETRY_LIMIT",
    "AlarmInvocationInfo",
    "AlarmTimers",
    "ObjectAlarm",
    "now_ms",
    "retry_delay",
    "scheduled_ms",
    "stored_alarm",
]

log = logging.getLogger("dotdo.runtime")

#: Retries after the first failed run (Cloudflare: "up to 6 retries").
RETRY_LIMIT = 6
#: Seconds before the first retry; each later retry waits twice as long as the one before.
RETRY_FIRST_DELAY = 2.0

_CREATE = (
    "CREATE TABLE IF NOT EXISTS _alarm "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), scheduled_ms INTEGER NOT NULL, retry_count INTEGER NOT NULL)"
)


@dataclass(frozen=True)
class AlarmInvocationInfo:
    """The `alarm_info` an `alarm(self, alarm_info)` handler gets: how many times this alarm was retried."""

    retryCount: int
    isRetry: bool


def now_ms() -> int:
    """Now, in milliseconds since the epoch (JavaScript's `Date.now()`)."""
    return int(time.time() * 1000)


def retry_delay(retry_count: int) -> float:
    """Seconds to wait before retry number `retry_count + 1` (2 s, 4 s, 8 s, ...)."""
    return RETRY_FIRST_DELAY * 2**retry_count


def scheduled_ms(value: Any) -> int:
    """An alarm time as whole milliseconds since the epoch, from a number of milliseconds or a `datetime`
    (one without a time zone is taken as UTC); TypeError for anything else."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            "setAlarm() takes the alarm time as milliseconds since the epoch (a number) or a datetime, "
            f"not {type(value).__name__}"
        )
    if not math.isfinite(value):
        raise TypeError(f"setAlarm() needs a finite time in milliseconds since the epoch, not {value}")
    return int(value)


def stored_alarm(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """The `(scheduled_ms, retry_count)` kept in an object's SQLite file, or None (no alarm, no table)."""
    try:
        row = conn.execute("SELECT scheduled_ms, retry_count FROM _alarm WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a file written before alarms existed, or by no alarm at all
        return None
    return None if row is None else (int(row[0]), int(row[1]))


class ObjectAlarm:
    """One object's alarm: its row in the object's SQLite file, and whether its handler is running.

    `on_change(scheduled_ms | None)` is told each new time, so that the namespace can arm its timer."""

    def __init__(self, conn: sqlite3.Connection, on_change: Callable[[int | None], None] | None = None) -> None:
        self._conn = conn
        self._on_change = on_change
        #: Checks that the object can take an alarm (set by the namespace once the object exists).
        self.handler_check: Callable[[], None] | None = None
        self._running = False
        self._changed = False  # setAlarm/deleteAlarm called by the running handler

    # -- the storage API ---------------------------------------------------------------------------
    def get(self) -> int | None:
        """`getAlarm()`: the time set, None when none is; None while the handler runs unless it set one."""
        if self._running and not self._changed:
            return None
        stored = stored_alarm(self._conn)
        return None if stored is None else stored[0]

    def set(self, when: Any) -> None:
        """`setAlarm(when)`: replace the alarm (a first run, retry count 0)."""
        at = scheduled_ms(when)
        if self.handler_check is not None:
            self.handler_check()
        self._write(at, 0)
        self._changed = self._running
        self.notify()

    def delete(self) -> None:
        """`deleteAlarm()`: unset the alarm, if one is set; inside the handler, no retry follows it."""
        self._clear()
        self._changed = self._running
        self.notify()

    def notify(self) -> None:
        """Tell the namespace the time now stored (after a write, or a transaction's end)."""
        if self._on_change is not None:
            stored = stored_alarm(self._conn)
            self._on_change(None if stored is None else stored[0])

    # -- a run of the handler (the namespace holds the object's input gate meanwhile) ---------------
    def due(self) -> tuple[int, int] | None:
        """`(scheduled_ms, retry_count)` when the stored alarm's time has come, else None."""
        stored = stored_alarm(self._conn)
        if stored is None or stored[0] > now_ms():
            return None
        return stored

    def begin(self, retry_count: int) -> None:
        """A run starts: if the process dies before it ends, the next start runs it again as a retry."""
        self._conn.execute("UPDATE _alarm SET retry_count = ? WHERE id = 1", (retry_count + 1,))
        self._running, self._changed = True, False

    def succeeded(self) -> None:
        """The handler returned: the alarm is done, unless the handler set a new one."""
        if not self._changed:
            self._clear()
        self._running = False

    def failed(self, retry_count: int) -> float | None:
        """The handler raised: schedule the next retry (its delay in seconds), or drop the alarm after the
        last (None). The handler's own setAlarm/deleteAlarm wins over a retry (None)."""
        self._running = False
        if self._changed:
            return None
        if retry_count >= RETRY_LIMIT:
            self._clear()
            return None
        delay = retry_delay(retry_count)
        self._write(now_ms() + int(delay * 1000), retry_count + 1)
        return delay

    def _clear(self) -> None:
        if stored_alarm(self._conn) is not None:
            self._conn.execute("DELETE FROM _alarm")

    def _write(self, at: int, retry_count: int) -> None:
        self._conn.execute(_CREATE)  # made on first use: an object that never sets an alarm has no such table
        self._conn.execute(
            "INSERT INTO _alarm (id, scheduled_ms, retry_count) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET scheduled_ms = excluded.scheduled_ms, retry_count = excluded.retry_count",
            (at, retry_count),
        )


class AlarmTimers:
    """The wake-ups of one namespace's objects in the running event loop: `arm(key, at)` replaces the
    object's timer; when it goes off, `fire(key)` runs as a task (it re-reads the stored time, so a
    stale wake-up does nothing)."""

    def __init__(self, fire: Callable[[str], Awaitable[None]]) -> None:
        self._fire = fire
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def arm(self, key: str, at: int | None) -> None:
        """Wake object `key` at `at` (ms since the epoch; at once if past), or never (None). Outside a
        running event loop nothing is armed: the alarm stays stored until `start_alarms`."""
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        if at is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timers[key] = loop.call_later(max(0.0, at / 1000 - time.time()), self._wake, key)

    def _wake(self, key: str) -> None:
        self._timers.pop(key, None)
        task = asyncio.get_running_loop().create_task(self._fire(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Cancel every timer and running alarm task (what a process exit does)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
