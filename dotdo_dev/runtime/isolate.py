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
from workers.response import FetchResponse

from dotdo_dev.config import WorkerConfig, missing_secrets, secrets_for
from dotdo_dev.runtime.context import ExecutionContext, ScheduledController
from dotdo_dev.runtime.handlers import handler_arguments
from dotdo_dev.runtime.peers import Peers
from dotdo_dev.runtime.state import StateDir

log = logging.getLogger("dotdo.runtime")

# Handler names that are not callable over RPC (as in workerd).
RESERVED_METHODS = frozenset({"fetch", "queue", "scheduled", "tail", "trace", "alarm", "connect", "constructor"})


class Env:
    """`self.env`: vars, secrets and bindings as attributes. A missing name raises AttributeError."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"<Env {sorted(self.__dict__)}>"


class WorkerError(RuntimeError):
    """A worker that cannot be loaded or invoked as asked (bad module, no such handler or method)."""


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.state = state
        self.peers = peers
        self.clock = clock
        self.queue_store: Any = None
        self.env = Env(self._build_env(bindings or {}, environ))
        self.module = self._import_main()
        self.entrypoints = self._find_entrypoints()
        self._attach_durable_object_classes()

    # -- loading -----------------------------------------------------------------------------------
    def _build_env(self, overrides: dict[str, Any], environ: dict[str, str] | None) -> dict[str, Any]:
        # Each binding module is imported only by workers that use it: a worker process starts faster.
        from dotdo_dev.runtime.bindings.services import DispatchNamespace, Fetcher

        cfg = self.config
        values: dict[str, Any] = dict(cfg.vars)
        secrets = secrets_for(cfg, environ)
        for name in missing_secrets(cfg, secrets):
            log.warning(
                "%s: secret %s is required (secrets.required) but not set in .dev.vars or the environment",
                cfg.name,
                name,
            )
        values.update(secrets)
        if cfg.d1_databases:
            from dotdo_dev.runtime.bindings.d1 import D1Database
        for d1 in cfg.d1_databases:
            values[d1.binding] = D1Database(self.state.d1(d1.database_id))
        if cfg.kv_namespaces:
            from dotdo_dev.runtime.bindings.kv import KVNamespace
        for kv in cfg.kv_namespaces:
            values[kv.binding] = KVNamespace(self.state.kv(kv.id), clock=self.clock)
        if cfg.queue_producers or cfg.queue_consumers:
            from dotdo_dev.runtime.bindings.queues import QueueProducer, QueueStore

            self.queue_store = QueueStore(self.state.queues(), clock=self.clock)
        for producer in cfg.queue_producers:
            values[producer.binding] = QueueProducer(
                self.queue_store, producer.queue, delivery_delay=producer.delivery_delay
            )
        for service in cfg.services:
            values[service.binding] = Fetcher(self._require_peers(service.binding), service.service, service.entrypoint)
        if cfg.durable_objects:
            from dotdo_dev.runtime.bindings.durable_objects import DurableObjectNamespace
        for do in cfg.durable_objects:
            values[do.name] = DurableObjectNamespace(
                worker=do.script_name or cfg.name, class_name=do.class_name, cls=None, env=None, state_dir=self.state
            )
        for ns in cfg.dispatch_namespaces:
            values[ns.binding] = DispatchNamespace(self._require_peers(ns.binding), ns.namespace)
        if cfg.ratelimits:
            from dotdo_dev.runtime.bindings.rate_limits import RateLimit, RateLimitCounters

            counters = RateLimitCounters()  # in this process's memory, as Cloudflare's are per location
        for limiter in cfg.ratelimits:
            values[limiter.name] = RateLimit(limiter, counters=counters, clock=self.clock)
        values.update(overrides)
        return values

    def _attach_durable_object_classes(self) -> None:
        """Give each `durable_objects` binding its class from the main module (as workerd does at load)."""
        from workers import DurableObject

        for do in self.config.durable_objects:
            namespace = getattr(self.env, do.name, None)
            if do.script_name not in (None, self.config.name) or not hasattr(namespace, "_cls"):
                continue  # another worker's class, or a binding replaced by a test
            cls = getattr(self.module, do.class_name, None)
            if not (isinstance(cls, type) and issubclass(cls, DurableObject)):
                raise WorkerError(
                    f"{self.config.main} must define `class {do.class_name}(DurableObject)` "
                    f"(bound as {do.name} in {self.config.path.name})"
                )
            namespace._cls = cls
            namespace._env = self.env

    def _require_peers(self, binding: str) -> Peers:
        if self.peers is None:
            return _NoPeers(self.config.name, binding)  # type: ignore[return-value]
        return self.peers

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
            raise WorkerError(f"{self.config.main} defines no `class Default(WorkerEntrypoint)`")
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
        result = handler(*handler_arguments(self.config.name, name, handler, event, self.env, ctx))
        if inspect.isawaitable(result):
            result = await result
        return result


async def invoke_rpc(
    target: Any, method: str, args: list[Any], kwargs: dict[str, Any], *, reserved: frozenset[str] = RESERVED_METHODS
) -> Any:
    """Call `target.<method>(*args, **kwargs)` as an RPC: private names and the `reserved` handlers
    cannot be called, and a missing method fails with workerd's message."""
    found = None if method.startswith("_") or method in reserved else getattr(target, method, None)
    if found is None or not callable(found):
        raise TypeError(f'The RPC receiver does not implement the method "{method}".')
    result = found(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class _NoPeers:
    """Stand-in when a worker runs alone (unit tests): using a service binding says why it fails."""

    def __init__(self, worker: str, binding: str) -> None:
        self.worker = worker
        self.binding = binding

    def __getattr__(self, name: str):
        raise RuntimeError(
            f"{self.worker}: binding {self.binding} needs the local platform (make dev), "
            "or pass a stand-in with bindings={...}"
        )
