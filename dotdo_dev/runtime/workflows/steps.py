"""The `step` a Workflow's `run(event, step)` receives, shaped as the SDK's (workers-runtime-sdk 1.9.5).

    @step.do("fetch user", config={"retries": {"limit": 2, "delay": "1 second", "backoff": "linear"}})
    async def fetch_user():
        return {"id": 1}

    user = await fetch_user()                   # the decorator makes a step; calling it runs the step
    await step.sleep("cool down", "10 seconds")
    event = await step.wait_for_event("approval", "approved", timeout="1 hour")

`step.do` is a decorator only, as in the SDK. With the `python_workflows_implicit_dependencies`
compatibility flag (on from 2026-02-25) it is `do(name=None, *, concurrent=False, config=None)` and a
parameter named after an earlier step receives that step's result; without it it is
`do(name, depends=None, concurrent=False, config=None)` with dependencies listed in `depends`. A
parameter named `ctx` receives the step context (`step.name`, `step.count`, `attempt`, `config`).
What a step does (retries, persistence, replay) is the engine's (`engine.StepRunner`).
"""

from __future__ import annotations

import asyncio
import builtins
import datetime
import inspect
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workers.workflows import NonRetryableError

from dotdo_dev.runtime.workflows.durations import to_ms

if TYPE_CHECKING:
    from dotdo_dev.runtime.workflows.engine import StepRunner

__all__ = ["WorkflowStep", "WorkflowTimeoutError", "resolve_config", "retry_delay_ms"]

#: Cloudflare's defaults for a step without a config (developers.cloudflare.com/workflows/build/sleeping-and-retrying/).
DEFAULT_CONFIG: dict[str, Any] = {
    "retries": {"limit": 5, "delay": 10000, "backoff": "exponential"},
    "timeout": "10 minutes",
}
BACKOFFS = ("constant", "linear", "exponential")
_CTX = object()  # marks the parameter that receives the step context


class WorkflowTimeoutError(Exception):
    """A step attempt or a `wait_for_event` ran out of time (the engine's `WorkflowTimeoutError`)."""


def resolve_config(config: Any) -> dict[str, Any]:
    """A step's config merged over the defaults, checked as the engine checks it.

    Raises `TypeError` for a config that is not a dict or has keys the engine does not know, and
    `ValueError` for a bad limit, delay, backoff or timeout."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"a step config is a dict like {DEFAULT_CONFIG!r}, not {config!r}")
    unknown = set(config) - {"retries", "timeout"}
    retries = config.get("retries", {})
    if not isinstance(retries, dict):
        raise TypeError(f"step config 'retries' is a dict with limit, delay and backoff, not {retries!r}")
    unknown |= {f"retries.{k}" for k in set(retries) - {"limit", "delay", "backoff"}}
    if unknown:
        raise TypeError(
            f"unknown step config keys {sorted(unknown)}: allowed are retries (limit, delay, backoff), timeout"
        )
    merged = {
        "retries": {**DEFAULT_CONFIG["retries"], **retries},
        "timeout": config.get("timeout", DEFAULT_CONFIG["timeout"]),
    }
    limit = merged["retries"]["limit"]
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0 or math.isnan(limit):
        raise ValueError(f"step config retries.limit must be a number >= 0 (or math.inf), not {limit!r}")
    if merged["retries"]["backoff"] not in BACKOFFS:
        raise ValueError(f"step config retries.backoff must be one of {', '.join(BACKOFFS)}")
    to_ms(merged["retries"]["delay"], what="step config retries.delay")
    if to_ms(merged["timeout"], what="step config timeout") == 0:
        raise ValueError("step config timeout must be more than 0")
    return merged


def retry_delay_ms(config: dict[str, Any], attempts: int) -> float:
    """How long to wait after failed attempt number `attempts` (1-based) before the next one."""
    delay = to_ms(config["retries"]["delay"])
    backoff = config["retries"]["backoff"]
    if backoff == "exponential":
        return delay * 2 ** (attempts - 1)
    if backoff == "linear":
        return delay * attempts
    return delay


class WorkflowStep:
    """What `run` gets as `step`: `do` (a decorator), `sleep`, `sleep_until`, `wait_for_event`."""

    def __init__(self, runner: StepRunner, *, implicit_dependencies: bool) -> None:
        self._runner = runner
        self._results: dict[Any, Any] = {}
        self._running: dict[Any, asyncio.Task[Any]] = {}
        self._declared: dict[str, Callable[..., Any]] = {}
        self._implicit = implicit_dependencies
        self.do = self._do_implicit if implicit_dependencies else self._do_with_depends

    # -- step.do -----------------------------------------------------------------------------------
    def _do_implicit(
        self, name: str | None = None, *callback: Any, concurrent: bool = False, config: Any = None
    ) -> Any:
        """`@step.do(name=None, *, concurrent=False, config=None)`: dependencies by parameter name."""
        if callback:  # the SDK takes one positional argument; say why rather than count arguments
            raise TypeError(
                "step.do is a decorator in Python Workflows: write @step.do(name) above an async def, "
                "then await the function (step.do(name, callback) is the JavaScript form)"
            )
        return self._decorator(name, None, concurrent, config)

    def _do_with_depends(
        self, name: str, depends: list[Any] | None = None, concurrent: bool = False, config: Any = None
    ) -> Any:
        """`@step.do(name, depends=None, concurrent=False, config=None)`: dependencies listed in `depends`."""
        if depends is not None and not isinstance(depends, list | tuple):
            raise TypeError(
                "step.do is a decorator: write @step.do(name) above an async def, then await the function "
                f"(depends must be a list of steps, not {depends!r})"
            )
        return self._decorator(name, depends, concurrent, config)

    def _decorator(self, name: Any, depends: list[Any] | None, concurrent: bool, config: Any) -> Any:
        if callable(name):
            raise TypeError("step.do is a decorator factory: write @step.do() or @step.do('name'), with parentheses")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"a step name is a string, not {name!r}")
        resolve_config(config)  # refuse a bad config where it is written

        def decorator(func: Callable[..., Any]) -> Callable[[], Any]:
            step_name = func.__name__ if name is None else name
            sources = self._sources(func, depends)

            async def run_step() -> Any:
                if concurrent:
                    values = await asyncio.gather(*(self._resolve(s) for s in sources))
                else:
                    values = [await self._resolve(s) for s in sources]
                return await self._run(step_name, run_step, config, func, values)

            run_step._step_name = step_name  # type: ignore[attr-defined]
            self._declared[func.__name__] = run_step
            return run_step

        return decorator

    def _sources(self, func: Callable[..., Any], depends: list[Any] | None) -> list[Any]:
        """Where each parameter of a step function comes from: the step context or an earlier step."""
        params = list(inspect.signature(func).parameters.values())
        if depends is None and not self._implicit:
            depends = []
        if depends is not None:
            others = [p for p in params if p.name != "ctx"]
            if len(others) != len(depends):
                raise TypeError(
                    f"step {func.__name__!r} takes {len(others)} parameter(s) besides ctx; depends lists {len(depends)}"
                )
            listed = iter(depends)
            sources = []
            for p in params:
                if p.name == "ctx":
                    sources.append(_CTX)
                    continue
                dep = next(listed)
                if not hasattr(dep, "_step_name"):
                    raise TypeError(f"depends entry for {p.name!r} is not a function decorated with step.do")
                sources.append(dep)
            return sources
        sources = []
        for p in params:
            if p.name == "ctx":
                sources.append(_CTX)
            elif p.name in self._declared:
                sources.append(self._declared[p.name])
            else:
                raise TypeError(
                    f"step {func.__name__!r} takes {p.name!r}, which names no earlier step (nor ctx, the step context)"
                )
        return sources

    async def _resolve(self, source: Any) -> Any:
        if source is _CTX:
            return _CTX
        if source in self._results:
            return self._results[source]
        if source in self._running:
            return await self._running[source]
        return await source()

    async def _run(self, name: str, key: Any, config: Any, func: Callable[..., Any], values: list[Any]) -> Any:
        def call(ctx: Any) -> Any:
            return func(*(ctx if v is _CTX else v for v in values))

        task = asyncio.ensure_future(self._runner.do(name, config, call))
        self._running[key] = task
        try:
            result = await task
            self._results[key] = result
        finally:
            self._running.pop(key, None)
        return result

    # -- sleeping and waiting ----------------------------------------------------------------------
    async def sleep(self, name: str, duration: int | float | str) -> None:
        """Sleep for `duration`: milliseconds, or a string such as "10 seconds"."""
        await self._runner.sleep(name, to_ms(duration, what="step.sleep duration"))

    async def sleep_until(self, name: str, timestamp: datetime.datetime | int | float) -> None:
        """Sleep until `timestamp`: a `datetime`, or milliseconds since the Unix epoch (as the engine takes it)."""
        if isinstance(timestamp, datetime.datetime):
            target_ms = timestamp.timestamp() * 1000
        elif isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
            target_ms = float(timestamp)
        else:
            raise TypeError(f"step.sleep_until takes a datetime or milliseconds since the epoch, not {timestamp!r}")
        remaining = target_ms - time.time() * 1000
        if remaining < 0 and not await self._runner.is_settled("sleep", name):
            raise ValueError("You can't sleep until a time in the past, time-traveler")
        await self._runner.sleep(name, max(remaining, 0.0))

    async def wait_for_event(
        self,
        name: str,
        event_type: str,
        /,
        timeout: int | float | str = "24 hours",  # noqa: ASYNC109 - the SDK's signature; the engine times it
    ) -> Any:
        """Wait for an event of `event_type` sent with `send_event`; raises `WorkflowTimeoutError` after `timeout`.

        Returns `{"payload", "timestamp", "type"}` (a JsDict). An event sent before the wait is kept for it."""
        if not isinstance(event_type, str) or not event_type:
            raise TypeError(f"wait_for_event needs an event type (a non-empty string), not {event_type!r}")
        return await self._runner.wait_for_event(name, event_type, to_ms(timeout, what="wait_for_event timeout"))


def rebuild_error(error: dict[str, str]) -> BaseException:
    """The exception a stored step error stands for when the step is replayed."""
    name, message = error.get("name", "Error"), error.get("message", "")
    known: dict[str, type[Exception]] = {
        "NonRetryableError": NonRetryableError,
        "WorkflowTimeoutError": WorkflowTimeoutError,
    }
    cls = known.get(name) or getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:
            pass
    return Exception(message)


def describe(exc: BaseException) -> dict[str, str]:
    """`{"name", "message"}` of an exception, as Workflows reports errors."""
    return {"name": type(exc).__name__, "message": str(exc)}
