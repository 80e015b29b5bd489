"""One loaded worker: its module, its `env`, and the handlers the runtime invokes.

Like a workerd isolate, an `Isolate` holds one worker. The local platform runs each isolate in a
process of its own (see `host.py`), because every worker names its main module `entry` and its
siblings `routes`, `tools`, ... exactly as Cloudflare expects.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from workers import Request, WorkerEntrypoint
from workers._invocation import bind_worker_env, invocation
from workers.response import FetchResponse

from dotdo_dev.compat import enabled_flags
from dotdo_dev.config import NOT_PROVIDED_LOCALLY, WorkerConfig, missing_secrets, secrets_for
from dotdo_dev.runtime.bindings import BINDING_KINDS, BindingContext
from dotdo_dev.runtime.bindings.durable_objects import ALARMS_RESOURCE
from dotdo_dev.runtime.bindings.not_provided import not_provided_env
from dotdo_dev.runtime.bindings.queues import STORE_RESOURCE
from dotdo_dev.runtime.context import ExecutionContext, ScheduledController
from dotdo_dev.runtime.errors import WorkerError
from dotdo_dev.runtime.handlers import handler_arguments
from dotdo_dev.runtime.legacy_handlers import (
    MODULE_HANDLERS,
    NO_GLOBAL_HANDLERS_FLAG,
    NO_GLOBAL_HANDLERS_MESSAGE,
    legacy_entrypoint,
    module_handlers,
)
from dotdo_dev.runtime.peers import Peers
from dotdo_dev.runtime.rpc import invoke_rpc
from dotdo_dev.runtime.state import StateDir

__all__ = ["Env", "Isolate", "WorkerError"]

log = logging.getLogger("dotdo.runtime")


class Env:
    """`self.env`: vars, secrets and bindings as attributes. A missing name raises AttributeError."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"<Env {sorted(self.__dict__)}>"


class Isolate:
    """Load a worker from its config and invoke its handlers."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        state: StateDir,
        peers: Peers | None = None,
        bindings: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
        overrides: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.state = state
        self.peers = peers
        self.clock = clock
        #: What binding kinds keep for the worker's host beside `env` (`BindingContext.resources`).
        self.resources: dict[str, Any] = {}
        self.env = Env(self._plain_values(environ, overrides or {}))
        bind_worker_env(self.env)  # before the import: `workers.env` works at the main module's top level
        if config.main:
            self.module = self._import_main()
            self.entrypoints = self._find_entrypoints()
        else:  # an assets-only Worker (`assets` without `main`): its assets answer every request
            self.module, self.entrypoints = ModuleType(f"{config.name}_assets_only"), {}
        self._bind(bindings or {})

    @property
    def queue_store(self) -> Any:
        """The `QueueStore` of a worker that produces or consumes queues (its consumers run on it), else None."""
        return self.resources.get(STORE_RESOURCE)

    def start_alarms(self) -> None:
        """Arm the alarms its Durable Objects keep in their storage (overdue ones run at once), as
        Cloudflare keeps them across restarts. Call it in the running event loop (the host does at start)."""
        for namespace in self.resources.get(ALARMS_RESOURCE, ()):
            namespace.start_alarms()

    def stop_alarms(self) -> None:
        """Cancel its alarm timers and running alarm handlers (the stored alarms stay for the next start)."""
        for namespace in self.resources.get(ALARMS_RESOURCE, ()):
            namespace.stop_alarms()

    # -- loading -----------------------------------------------------------------------------------
    def _plain_values(self, environ: dict[str, str] | None, overrides: dict[str, str]) -> dict[str, Any]:
        """`vars` and secrets (`.dev.vars`, then the process environment, then the platform's `overrides`);
        a missing required secret is logged."""
        cfg = self.config
        values: dict[str, Any] = dict(cfg.vars)
        secrets = secrets_for(cfg, environ) | overrides
        for name in missing_secrets(cfg, secrets):
            log.warning(
                "%s: secret %s is required (secrets.required) but not set in .dev.vars or the environment",
                cfg.name,
                name,
            )
        values.update(secrets)
        return values

    def _bind(self, overrides: dict[str, Any]) -> None:
        """Add each binding kind's part to `env` (once the main module is loaded, as workerd binds
        Durable Object classes), then the stand-ins a test passed as `bindings=`."""
        context = BindingContext(
            worker=self.config.name,
            config_path=self.config.path,
            main=self.config.main,
            state=self.state,
            clock=self.clock,
            module=self.module,
            env=self.env,
            peers=self.peers,
            resources=self.resources,
        )
        values = vars(self.env)
        for kind in BINDING_KINDS:
            values.update(kind.bind(self.config.bindings, context))
        values.update(not_provided_env(self.config.not_provided, NOT_PROVIDED_LOCALLY))
        values.update(overrides)

    def _import_main(self) -> ModuleType:
        root = str(self.config.module_root)
        if not self.config.main_path.is_file():
            raise WorkerError(f"{self.config.path}: main module {self.config.main} does not exist")
        if root not in sys.path:
            sys.path.insert(0, root)
        name = self.config.main_module
        existing = sys.modules.get(name)
        if existing is not None and getattr(existing, "__file__", None) != str(self.config.main_path):
            raise WorkerError(
                f"module {name!r} is already loaded from another worker ({existing.__file__}); "
                "run each worker in its own process"
            )
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise WorkerError(
                f"{self.config.name}: cannot import {exc.name!r} (imported by {self.config.main})"
            ) from exc

    def _find_entrypoints(self) -> dict[str, type]:
        found: dict[str, type] = {}
        for attr, value in vars(self.module).items():
            is_entrypoint = (
                isinstance(value, type) and issubclass(value, WorkerEntrypoint) and value is not WorkerEntrypoint
            )
            if is_entrypoint and (value.__module__ == self.module.__name__ or attr == "Default"):
                found[attr] = value
        if "Default" not in found:
            legacy = module_handlers(self.module)
            if not legacy:
                raise WorkerError(f"{self.config.main} defines no `class Default(WorkerEntrypoint)`")
            flags = enabled_flags(self.config.compatibility_date, self.config.compatibility_flags)
            if NO_GLOBAL_HANDLERS_FLAG in flags:
                names = ", ".join(MODULE_HANDLERS[name] for name in legacy)
                raise WorkerError(NO_GLOBAL_HANDLERS_MESSAGE.format(main=self.config.main, names=names))
            found["Default"] = legacy_entrypoint(self.config.name, legacy)
        return found

    # -- invocation --------------------------------------------------------------------------------
    def _instance(self, entrypoint: str | None) -> tuple[Any, ExecutionContext]:
        name = entrypoint or "Default"
        cls = self.entrypoints.get(name)
        if cls is None:
            raise WorkerError(f"worker {self.config.name!r} has no entrypoint named {name!r}")
        ctx = ExecutionContext()
        return cls(ctx, self.env), ctx

    async def fetch(self, request: Request, *, entrypoint: str | None = None) -> tuple[FetchResponse, ExecutionContext]:
        """Run the `fetch` handler. Exceptions propagate: the caller decides what the client sees."""
        instance, ctx = self._instance(entrypoint)
        handler = getattr(instance, "fetch", None)
        if handler is None:
            raise WorkerError(f"worker {self.config.name!r} has no fetch handler")
        result = await self._invoke("fetch", handler, request, ctx)
        if not isinstance(result, FetchResponse):
            raise TypeError(f"fetch handler of {self.config.name!r} returned {type(result).__name__}, not a Response")
        return result, ctx

    async def call(
        self, entrypoint: str | None, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> tuple[Any, ExecutionContext]:
        """Call an RPC method of an entrypoint (arguments already deserialized)."""
        instance, ctx = self._instance(entrypoint)
        with invocation(self.env, ctx):
            return await invoke_rpc(instance, method, args, kwargs), ctx

    async def scheduled(self, cron: str, scheduled_time: float | None = None) -> ExecutionContext:
        instance, ctx = self._instance(None)
        handler = getattr(instance, "scheduled", None)
        if handler is None:
            raise WorkerError(f"worker {self.config.name!r} has no scheduled handler")
        await self._invoke("scheduled", handler, ScheduledController(cron, scheduled_time), ctx)
        return ctx

    async def queue(self, batch: Any) -> None:
        instance, ctx = self._instance(None)
        handler = getattr(instance, "queue", None)
        if handler is None:
            raise WorkerError(f"worker {self.config.name!r} consumes a queue but has no queue handler")
        await self._invoke("queue", handler, batch, ctx)
        await ctx.drain()

    async def _invoke(self, name: str, handler: Callable[..., Any], event: Any, ctx: ExecutionContext) -> Any:
        """Call a handler as workerd does: `fetch` with as many of (event, env, ctx) as it accepts,
        every other handler with all three (a signature that cannot take them raises TypeError)."""
        with invocation(self.env, ctx):  # what `workers.env` and `workers.wait_until` reach during the call
            result = handler(*handler_arguments(self.config.name, name, handler, event, self.env, ctx))
            if inspect.isawaitable(result):
                result = await result
        return result
