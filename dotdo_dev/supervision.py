"""Keeping the local platform's worker processes up: when to restart one, and what to say about it.

A worker process that exits without being asked to is started again after a delay that doubles
from `first` to `limit` and starts over once the worker has run `healthy_after` seconds. A worker
that dies before it ever answers (a crash on start: an import error, a bad config) is retried the
same way, until it has crashed on start `crash_limit` times within `crash_window` seconds; then it
is retried every `slow_retry` seconds only (or at once when one of its files is saved), never in
a hot loop.

Each worker's state (`WorkerHealth.describe`) is what `/__platform` reports:

    starting          first start, not answering yet
    running           answering on its socket
    restarting        it exited (e.g. killed) and is being started again
    crashed-on-start  its last start failed before it answered (with the tail of its output)
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass, field
from typing import Any

STARTING = "starting"
RUNNING = "running"
RESTARTING = "restarting"
CRASHED_ON_START = "crashed-on-start"


@dataclass(frozen=True)
class RestartPolicy:
    """Delays between restarts, in seconds."""

    first: float = 0.1
    limit: float = 5.0
    healthy_after: float = 10.0
    crash_limit: int = 5
    crash_window: float = 60.0
    slow_retry: float = 30.0


def exit_description(returncode: int | None) -> str:
    """`exit status 1`, or `signal SIGKILL` for a process a signal ended (asyncio's negative return codes)."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


@dataclass
class WorkerHealth:
    """What the platform knows about one worker across its processes."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    status: str = STARTING
    restarts: int = 0
    last_exit: str | None = None
    output: list[str] = field(default_factory=list)
    started_at: float | None = None
    retry_at: float | None = None
    _delay: float = 0.0
    _crashes: deque[float] = field(default_factory=deque)

    def spawned(self, now: float) -> None:
        """A process for this worker was started at `now`."""
        self.started_at = now
        self.retry_at = None

    def ready(self) -> None:
        """The worker answers on its socket."""
        self.status = RUNNING
        self.output = []

    def exited(self, returncode: int | None, *, was_ready: bool, now: float, output: list[str]) -> float:
        """The process exited unasked: record it and return how long to wait before starting it again."""
        policy = self.policy
        ran = now - self.started_at if self.started_at is not None else 0.0
        if was_ready and ran >= policy.healthy_after:
            self._delay = 0.0
            self._crashes.clear()
        self._delay = policy.first if self._delay == 0.0 else min(self._delay * 2, policy.limit)
        delay = self._delay
        self.last_exit = exit_description(returncode)
        self.restarts += 1
        if was_ready:
            self.status = RESTARTING
            self.output = []
        else:
            self.status = CRASHED_ON_START
            self.output = output[-20:]
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > policy.crash_window:
                self._crashes.popleft()
            if len(self._crashes) >= policy.crash_limit:
                delay = policy.slow_retry
        self.retry_at = now + delay
        return delay

    def failed_to_load(self, output: list[str]) -> None:
        """A worker run in the platform's own process (`runtime/resident.py`) could not load: it is tried again
        when a file is saved, not on a timer (nothing exited)."""
        self.status = CRASHED_ON_START
        self.last_exit = "failed to load"
        self.output = output[-20:]
        self.retry_at = None

    def edited(self) -> None:
        """Its files changed and it is being restarted: a fresh try (the backoff and crash count start over)."""
        self._delay = 0.0
        self._crashes.clear()
        if self.status == RUNNING:
            self.status = RESTARTING

    @property
    def crash_looping(self) -> bool:
        return len(self._crashes) >= self.policy.crash_limit

    def describe(self, now: float) -> dict[str, Any]:
        """This worker's entry in `/__platform`."""
        result: dict[str, Any] = {"status": self.status, "restarts": self.restarts, "last_exit": self.last_exit}
        if self.status == CRASHED_ON_START:
            result["output"] = self.output
            result["crash_looping"] = self.crash_looping
        if self.retry_at is not None and self.status in (RESTARTING, CRASHED_ON_START):
            result["retry_in_seconds"] = round(max(0.0, self.retry_at - now), 1)
        return result
