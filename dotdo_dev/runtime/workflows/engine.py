"""The local Workflows engine: runs instances of one Workflow class in the worker's process.

Each instance runs its class's `run(event, step)` as an asyncio task. What a step settles (a
`step.do` result or final error, a finished sleep, an event taken by `wait_for_event`) is written to
the Workflow's SQLite file (`store.py`) before the run goes on, so when the instance runs again
(the worker restarted, the process crashed) `run` is replayed from the top and every settled step
returns its stored outcome without running again, as on Cloudflare. A step attempt that was cut short
by a crash counts as a failed attempt.

Statuses as Cloudflare names them: `queued` until the task starts, `running`, `waiting` (in a sleep
or a wait for an event), `waitingForPause` (paused while a step callback runs; it becomes `paused`
when the callback returns), `paused`, `complete` (with `output`), `errored` (with `error`:
`{"name", "message"}`), `terminated`. A paused instance stops at its next step; a sleep keeps
counting while paused. Timing is real time: a one-hour sleep takes an hour (across restarts: its end
time is stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workers._invocation import invocation
from workers.rpc import JsDict
from workers.workflows import NonRetryableError

from dotdo_dev.runtime import wire
from dotdo_dev.runtime.context import ExecutionContext
from dotdo_dev.runtime.workflows.steps import (
    WorkflowStep,
    WorkflowTimeoutError,
    describe,
    rebuild_error,
    resolve_config,
    retry_delay_ms,
)
from dotdo_dev.runtime.workflows.store import WorkflowStore

__all__ = ["InstanceError", "StepRunner", "WorkflowEngine"]

log = logging.getLogger("dotdo.workflows")

#: Cloudflare's instance ids: letters, digits, `-` and `_`, not starting with `-`, at most 100 characters.
INSTANCE_ID = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,99}$")
MAX_STEP_NAME = 256
_CONTROL = re.compile(r"[\x00-\x1f]")
FINISHED = ("complete", "errored", "terminated")


class InstanceError(Exception):
    """A binding call the instance's state does not allow (unknown id, resume of a running instance, ...)."""


class _Fatal(Exception):
    """Ends an instance as errored at once, whatever `run` catches (a step result that cannot be stored)."""


@dataclass
class _Live:
    """An instance running in this process."""

    task: asyncio.Task[Any] | None = None
    #: Set while the instance may go on; cleared by `pause`.
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set by `send_event`, so a waiting `wait_for_event` looks again.
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: Step callbacks running now (a pause asked meanwhile is `waitingForPause`).
    in_callback: int = 0


class WorkflowEngine:
    """The instances of one Workflow (`workflows[].name`), run with class `cls` of this worker."""

    def __init__(
        self,
        *,
        name: str,
        cls: type,
        env: Any,
        store: WorkflowStore,
        implicit_dependencies: bool = True,
    ) -> None:
        self.name = name
        self._cls = cls
        self._env = env
        self._store = store
        self._implicit = implicit_dependencies
        self._live: dict[str, _Live] = {}
        self._recovered = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def recover(self) -> None:
        """Start again every instance whose run is not over (once per engine; needs a running event loop)."""
        if self._recovered:
            return
        self._recovered = True
        for instance_id in self._store.unfinished():
            if instance_id not in self._live:
                self._start(instance_id)

    async def aclose(self) -> None:
        """Stop every running instance where it is, recording nothing (what a crash or a shutdown does)."""
        lives = list(self._live.values())
        self._live.clear()
        for live in lives:
            if live.task is not None:
                live.task.cancel()
        for live in lives:
            if live.task is not None:
                await asyncio.gather(live.task, return_exceptions=True)

    def _start(self, instance_id: str) -> None:
        row = self._store.instance(instance_id)
        live = _Live()
        if row is None or not row.pause_requested:
            live.gate.set()
        self._live[instance_id] = live
        live.task = asyncio.get_running_loop().create_task(self._execute(instance_id, live))

    # -- binding operations ------------------------------------------------------------------------
    async def create(self, instance_id: str | None, params: Any) -> str:
        """Queue a new instance and start it; returns its id."""
        self.recover()
        if instance_id is None:
            instance_id = str(uuid.uuid4())
        if not isinstance(instance_id, str) or not INSTANCE_ID.match(instance_id):
            raise InstanceError(
                f"Workflow instance has invalid id {instance_id!r}: up to 100 letters, digits, '-' and '_', "
                "not starting with '-'"
            )
        if not self._store.add(instance_id, params, time.time()):
            raise InstanceError(f"instance.already_exists: {self.name} already has an instance {instance_id!r}")
        self._start(instance_id)
        return instance_id

    def exists(self, instance_id: str) -> bool:
        self.recover()
        return isinstance(instance_id, str) and self._store.instance(instance_id) is not None

    async def status(self, instance_id: str) -> JsDict:
        """`{"status", "error", "output"}` of an instance."""
        row = self._row(instance_id)
        return JsDict(status=row.status, error=None if row.error is None else JsDict(row.error), output=row.output)

    async def pause(self, instance_id: str) -> None:
        row = self._row(instance_id)
        if row.status in FINISHED:
            raise InstanceError(f"instance {instance_id!r} is {row.status}: only a running instance can be paused")
        self._store.request_pause(instance_id, True)
        live = self._live.get(instance_id)
        if live is not None:
            live.gate.clear()
        self._store.set_status(instance_id, "waitingForPause" if live and live.in_callback else "paused")

    async def resume(self, instance_id: str) -> None:
        row = self._row(instance_id)
        if not row.pause_requested:
            raise InstanceError(f"instance {instance_id!r} is {row.status}, not paused: there is nothing to resume")
        self._store.request_pause(instance_id, False)
        self._store.set_status(instance_id, "running")
        live = self._live.get(instance_id)
        if live is None:
            self._start(instance_id)
        else:
            live.gate.set()

    async def terminate(self, instance_id: str) -> None:
        row = self._row(instance_id)
        if row.status in FINISHED:
            raise InstanceError(f"instance {instance_id!r} is {row.status}: it cannot be terminated")
        await self._stop(instance_id)
        self._store.finish(instance_id, "terminated")

    async def restart(self, instance_id: str) -> None:
        """Run the instance again from the start, forgetting its steps' results and pending events."""
        self._row(instance_id)
        await self._stop(instance_id)
        self._store.reset(instance_id)
        self._start(instance_id)

    async def send_event(self, instance_id: str, event_type: str, payload: Any) -> None:
        row = self._row(instance_id)
        if row.status in FINISHED:
            raise InstanceError(f"instance {instance_id!r} is {row.status}: it takes no more events")
        self._store.add_event(instance_id, event_type, payload, time.time())
        live = self._live.get(instance_id)
        if live is not None:
            live.arrived.set()

    def _row(self, instance_id: str) -> Any:
        self.recover()
        row = self._store.instance(instance_id) if isinstance(instance_id, str) else None
        if row is None:
            raise InstanceError(f"instance.not_found: {self.name} has no instance {instance_id!r}")
        return row

    async def _stop(self, instance_id: str) -> None:
        live = self._live.pop(instance_id, None)
        if live is not None and live.task is not None and live.task is not asyncio.current_task():
            live.task.cancel()
            await asyncio.gather(live.task, return_exceptions=True)

    # -- running an instance -----------------------------------------------------------------------
    async def _execute(self, instance_id: str, live: _Live) -> None:
        row = self._store.instance(instance_id)
        if row is None:
            return
        runner = StepRunner(self._store, instance_id, live)
        ctx = ExecutionContext()
        event = JsDict(
            payload=row.params,
            timestamp=datetime.datetime.fromtimestamp(row.created),
            instanceId=instance_id,
            workflowName=self.name,
        )
        try:
            await runner.checkpoint()
            with invocation(self._env, ctx):
                workflow = self._cls(ctx, self._env)
                result = workflow.run(event, WorkflowStep(runner, implicit_dependencies=self._implicit))
                if inspect.isawaitable(result):
                    result = await result
            output = _crossed(result, "the value run() returned")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = runner.fatal or exc
            log.info("workflow %s instance %s errored: %s", self.name, instance_id, describe(error))
            self._store.finish(instance_id, "errored", error=describe(error))
        else:
            self._store.finish(instance_id, "complete", output=output)
        finally:
            if self._live.get(instance_id) is live:
                del self._live[instance_id]
        await ctx.drain()


class StepRunner:
    """What one run of an instance does for its steps: replay what is stored, run and store the rest."""

    def __init__(self, store: WorkflowStore, instance_id: str, live: _Live) -> None:
        self._store = store
        self._id = instance_id
        self._live = live
        self._counts: dict[str, int] = {}
        #: Set when a step ended the instance for good (its error wins over what `run` raises).
        self.fatal: Exception | None = None

    def _key(self, kind: str, name: str) -> tuple[str, int]:
        if not isinstance(name, str) or len(name) > MAX_STEP_NAME or _CONTROL.search(name):
            raise ValueError(
                f"step name {name!r} must be a string of at most {MAX_STEP_NAME} characters without control characters"
            )
        count = self._counts.get(f"{kind}:{name}", 0) + 1
        self._counts[f"{kind}:{name}"] = count
        return f"{kind}:{name}:{count}", count

    async def is_settled(self, kind: str, name: str) -> bool:
        """Whether the next `kind` step called `name` is already settled (replayed)."""
        row = self._store.step(self._id, f"{kind}:{name}:{self._counts.get(f'{kind}:{name}', 0) + 1}")
        return row is not None and row.settled

    def _status(self, status: str) -> None:
        if not self._live.gate.is_set():
            status = "waitingForPause" if self._live.in_callback else "paused"
        self._store.set_status(self._id, status)

    async def checkpoint(self) -> None:
        """Between steps: wait here while the instance is paused, then mark it running."""
        if not self._live.gate.is_set():
            self._status("paused")
            await self._live.gate.wait()
        self._status("running")

    async def do(self, name: str, config: Any, call: Callable[[Any], Any]) -> Any:
        """One `step.do`: its stored result, or run `call(ctx)` with retries and store what it returns."""
        if self.fatal is not None:
            raise self.fatal
        resolved = resolve_config(config)
        key, count = self._key("do", name)
        await self.checkpoint()
        row = self._store.step(self._id, key)
        if row is not None and row.settled:
            if row.error is not None:
                raise rebuild_error(row.error)
            return row.value
        attempts = row.attempts if row is not None else 0  # an attempt cut short by a crash has failed
        limit = resolved["retries"]["limit"]
        timeout = _seconds(resolved["timeout"])
        while True:
            attempts += 1
            self._store.begin_step(self._id, key, attempts=attempts)
            ctx = wire.cross({"step": {"name": name, "count": count}, "attempt": attempts, "config": resolved})
            self._live.in_callback += 1
            try:
                result = call(ctx)
                if inspect.isawaitable(result):
                    result = await asyncio.wait_for(result, timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
                if isinstance(exc, TimeoutError):
                    error = WorkflowTimeoutError(f"Execution timed out after {timeout * 1000:.0f}ms")
                if isinstance(error, NonRetryableError) or attempts > limit:
                    self._store.settle_step(self._id, key, error=describe(error))
                    raise error from None
                log.info("step %r attempt %d failed (%s); retrying", name, attempts, describe(error))
            else:
                try:
                    value = _crossed(result, f"the value step {name!r} returned")
                except _Fatal as exc:
                    self.fatal = exc
                    self._store.settle_step(self._id, key, error=describe(exc))
                    raise
                self._store.settle_step(self._id, key, value=value)
                return value
            finally:
                self._live.in_callback -= 1
                if self._live.in_callback == 0 and not self._live.gate.is_set():
                    self._status("paused")
            await asyncio.sleep(retry_delay_ms(resolved, attempts) / 1000)
            await self.checkpoint()

    async def sleep(self, name: str, duration_ms: float) -> None:
        """One sleep: its end time is stored, so a restarted instance sleeps only what is left."""
        key, _ = self._key("sleep", name)
        await self.checkpoint()
        row = self._store.step(self._id, key)
        if row is not None and row.settled:
            return
        until = row.until if row is not None and row.until is not None else time.time() + duration_ms / 1000
        self._store.begin_step(self._id, key, until=until)
        self._status("waiting")
        await asyncio.sleep(max(0.0, until - time.time()))
        self._store.settle_step(self._id, key, value=True)
        await self.checkpoint()

    async def wait_for_event(self, name: str, event_type: str, timeout_ms: float) -> Any:
        """One wait: the oldest unclaimed event of `event_type` (waiting up to the stored deadline)."""
        key, _ = self._key("event", name)
        await self.checkpoint()
        row = self._store.step(self._id, key)
        if row is not None and row.settled:
            if row.error is not None:
                raise rebuild_error(row.error)
            return row.value
        until = row.until if row is not None and row.until is not None else time.time() + timeout_ms / 1000
        self._store.begin_step(self._id, key, until=until)
        self._status("waiting")
        while True:
            self._live.arrived.clear()
            taken = self._store.take_event(self._id, event_type)
            if taken is not None:
                payload, timestamp = taken
                value = {
                    "payload": payload,
                    "timestamp": datetime.datetime.fromtimestamp(timestamp),
                    "type": event_type,
                }
                self._store.settle_step(self._id, key, value=value)
                await self.checkpoint()
                return wire.cross(value)
            remaining = until - time.time()
            if remaining <= 0:
                error = WorkflowTimeoutError(f"Execution timed out after {timeout_ms:.0f}ms")
                self._store.settle_step(self._id, key, error=describe(error))
                raise error
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._live.arrived.wait(), remaining)


def _seconds(duration: Any) -> float:
    from dotdo_dev.runtime.workflows.durations import to_ms

    return to_ms(duration) / 1000


def _crossed(value: Any, what: str) -> Any:
    """`value` as the engine stores it (it crosses RPC); a value RPC cannot carry ends the instance."""
    try:
        return wire.cross(value)
    except (TypeError, ValueError) as exc:
        raise _Fatal(f"{what} is not serialisable: {exc}") from None
