"""The local runtime's cron triggers: `CronScheduler` fires each worker's `triggers.crons` when due.

The expressions themselves (Cloudflare's syntax: day of week 1-7 with Sunday = 1, `L`, `W`, `#`,
names) are parsed and evaluated by `shared/cron.py`, the one implementation workers bundle too (the
schedule service shows next run times with it); they are re-exported here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable

from shared.cron import CronError, CronSchedule, as_utc

__all__ = ["CronError", "CronSchedule", "CronScheduler"]

log = logging.getLogger("dotdo.cron")

# The scheduler re-reads the clock at least this often (long sleeps drift across a suspend).
_MAX_SLEEP = 60.0


# -- the scheduler ----------------------------------------------------------------------------------


class CronScheduler:
    """Call `fire(cron, scheduled_time)` for each cron when it is due, until cancelled.

    `scheduled_time` is the UTC minute the cron was due. `clock` gives unix seconds; `sleep` is
    awaited between checks (tests pass fakes for both). A failing `fire` is logged and the
    schedule goes on. A minute missed by more than a minute (the machine slept) is skipped, as
    Cloudflare does not catch up either.
    """

    def __init__(
        self,
        crons: list[str],
        fire: Callable[[str, dt.datetime], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.schedules = [CronSchedule.parse(c) for c in dict.fromkeys(crons)]
        self.fire = fire
        self.clock = clock
        self.sleep = sleep
        self._running: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<CronScheduler {[s.expression for s in self.schedules]}>"

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def due(self, now: dt.datetime) -> list[str]:
        """The crons due in `now`'s minute."""
        return [s.expression for s in self.schedules if s.matches(now)]

    async def tick(self, now: dt.datetime) -> list[str]:
        """Fire every cron due in `now`'s minute, one after another; returns them.

        A failing `fire` is logged and does not stop the others.
        """
        minute = as_utc(now).replace(second=0, microsecond=0)
        fired = self.due(minute)
        for cron in fired:
            await self._fire(cron, minute)
        return fired

    async def _fire(self, cron: str, minute: dt.datetime) -> None:
        try:
            await self.fire(cron, minute)
        except Exception:
            log.exception("cron %r: the scheduled handler for %s failed", cron, minute.isoformat())

    async def run(self) -> None:
        """Sleep until the next cron is due, fire it, and so on until cancelled.

        Handlers run as tasks, so a slow one does not delay the next minute (on Cloudflare,
        invocations are independent too); cancelling `run` cancels them.
        """
        if not self.schedules:
            return
        last: dt.datetime | None = None
        try:
            while True:
                now = self._now()
                due = min(s.next_after(now if last is None else max(now, last)) for s in self.schedules)
                while (remaining := (due - self._now()).total_seconds()) > 0:
                    await self.sleep(min(remaining, _MAX_SLEEP))
                last = due
                late = (self._now() - due).total_seconds()
                if late >= 60:
                    log.warning("cron: skipped %s (%.0f s late: was the machine asleep?)", due.isoformat(), late)
                    continue
                for cron in self.due(due):
                    task = asyncio.create_task(self._fire(cron, due))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                await asyncio.sleep(0)  # let the handlers start before the next computation
        finally:
            for task in list(self._running):
                task.cancel()
