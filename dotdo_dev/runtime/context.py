"""The objects the runtime hands to handlers besides the request: `ctx` and the cron controller."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("dotdo.runtime")


class ExecutionContext:
    """`self.ctx` of an entrypoint: `waitUntil` keeps work running after the response is sent."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Future[Any]] = []
        self._pass_through = False

    def waitUntil(self, other: Awaitable[Any]) -> None:
        if not inspect.isawaitable(other):
            raise TypeError("waitUntil() takes an awaitable")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # A thread of the wsgi bridge (a Django view calling wait_until): the work is the loop's, queued
            # there before the bridge's own answer, so it is a task before `drain` looks.
            from pyodide._run_sync import bridge_loop

            loop = bridge_loop()
            if loop is None:
                raise RuntimeError(
                    "waitUntil() called outside the worker's event loop and its request threads"
                ) from None
            loop.call_soon_threadsafe(lambda: self._tasks.append(asyncio.ensure_future(other)))
            return
        self._tasks.append(asyncio.ensure_future(other))

    wait_until = waitUntil

    def passThroughOnException(self) -> None:
        self._pass_through = True

    def drain_later(self, background: set[asyncio.Task[Any]]) -> None:
        """`drain` in a task of its own, kept in `background` until it ends: the `waitUntil` work goes on after the
        answer, as on Cloudflare. No task for a request that gave it none."""
        if not self._tasks:
            return
        task = asyncio.ensure_future(self.drain())
        background.add(task)
        task.add_done_callback(background.discard)

    async def drain(self, limit: float = 30.0) -> None:
        """Wait for the `waitUntil` work (Cloudflare allows up to 30 s after the response)."""
        if not self._tasks:
            return
        done, pending = await asyncio.wait(self._tasks, timeout=limit)
        for task in pending:
            task.cancel()
            log.error("waitUntil task cancelled after %.0f s", limit)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                log.error("waitUntil task failed: %s: %s", type(exc).__name__, exc)


class ScheduledController:
    """What a `scheduled` handler receives: the cron that fired and when (ms since the epoch)."""

    type = "scheduled"

    def __init__(self, cron: str, scheduled_time: float | None = None) -> None:
        self.cron = cron
        self.scheduledTime = int((scheduled_time if scheduled_time is not None else time.time()) * 1000)
        self._no_retry = False

    def noRetry(self) -> None:
        self._no_retry = True
