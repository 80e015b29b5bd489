"""Local Workflows binding: `env.MY_WORKFLOW` for a `workflows` entry, running the Workflow in this worker.

    "workflows": [{"name": "signup", "binding": "SIGNUP", "class_name": "SignupWorkflow"}]

    instance = await env.SIGNUP.create(id="user-1", params={"email": "a@b.c"})   # or create({"id": ..., ...})
    await instance.status()            # {"status": "running", "error": None, "output": None}
    await instance.send_event(type="approved", payload={"by": "ops"})           # or sendEvent({...})
    same = await env.SIGNUP.get("user-1")
    await same.pause(); await same.resume(); await same.terminate(); await same.restart()
    await env.SIGNUP.create_batch([{"id": "a"}, {"id": "b", "params": {...}}])  # or createBatch

Call shapes are the SDK's: its binding wrapper passes arguments through to the JS binding, where
Pyodide turns keyword arguments into one options object, so `create(id=..., params=...)` and
`create({"id": ..., "params": ...})` are the same call, and so are `send_event(type=..., payload=...)`
and `send_event({"type": ..., "payload": ...})`. Unknown option keys raise `TypeError` (Cloudflare
would ignore them, so a misspelt `param` would silently start the instance without its parameters).

The Workflow runs in the worker's process (`dotdo_dev.runtime.workflows`); its instances and step
results live in `<state>/workflows/<worker>/<workflow name>.sqlite`. A Workflow of another worker
(`script_name`) is not offered locally: its binding fails on first use, saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from workers import WorkflowEntrypoint

from dotdo_dev.compat import enabled_flags
from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime import wire
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind
from dotdo_dev.runtime.errors import WorkerError
from dotdo_dev.runtime.workflows import WorkflowEngine, WorkflowStore

__all__ = ["Workflow", "WorkflowConfig", "WorkflowInstance", "WorkflowsKind", "shutdown"]

STATE_FOLDER = "workflows"
#: Where a worker's engines are kept in `BindingContext.resources`, by workflow name.
ENGINES_RESOURCE = "workflows"
MAX_BATCH = 100
_CREATE_OPTIONS = frozenset({"id", "params"})
_EVENT_OPTIONS = frozenset({"type", "payload"})
_IMPLICIT_FLAG = "python_workflows_implicit_dependencies"


@dataclass(frozen=True)
class WorkflowConfig:
    """A `workflows` entry: `env.<binding>` runs Workflow `name`, defined by `class_name` (of `script_name`)."""

    name: str
    binding: str
    class_name: str
    script_name: str | None = None
    #: Not a wrangler key: whether `step.do` resolves dependencies by parameter name (the
    #: `python_workflows_implicit_dependencies` flag of the worker's compatibility date and flags).
    implicit_dependencies: bool = True


class WorkflowInstance:
    """One instance: `.id`, and `status`, `pause`, `resume`, `terminate`, `restart`, `send_event`."""

    def __init__(self, engine: WorkflowEngine, instance_id: str) -> None:
        self._engine = engine
        self.id = instance_id

    async def status(self) -> Any:
        """`{"status", "error", "output"}`: status is one of queued, running, paused, errored, terminated,
        complete, waiting, waitingForPause; error is `{"name", "message"}` of an errored instance."""
        return await self._engine.status(self.id)

    async def pause(self) -> None:
        await self._engine.pause(self.id)

    async def resume(self) -> None:
        await self._engine.resume(self.id)

    async def terminate(self) -> None:
        await self._engine.terminate(self.id)

    async def restart(self) -> None:
        await self._engine.restart(self.id)

    async def send_event(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Send an event: `send_event(type="approved", payload={...})`, or the same as one dict (`sendEvent` too)."""
        sent = _options("send_event", options, kwargs, _EVENT_OPTIONS)
        event_type = sent.get("type")
        if not isinstance(event_type, str) or not event_type:
            raise TypeError("send_event needs a type: send_event(type='approved', payload={...})")
        await self._engine.send_event(self.id, event_type, wire.cross(sent.get("payload")))

    sendEvent = send_event

    def __repr__(self) -> str:
        return f"WorkflowInstance({self._engine.name!r}, {self.id!r})"


class Workflow:
    """A `workflows` binding: `create`, `create_batch` (`createBatch`) and `get`."""

    def __init__(self, engine: WorkflowEngine) -> None:
        self._engine = engine

    async def create(self, options: Mapping[str, Any] | None = None, /, **kwargs: Any) -> WorkflowInstance:
        """Start an instance: `create()`, `create(id="x", params={...})` or `create({"id": ..., "params": ...})`.

        Without an id one is made (a UUID). Raises `InstanceError` for a malformed or taken id."""
        given = _options("create", options, kwargs, _CREATE_OPTIONS)
        params = wire.cross(given.get("params", {}))
        return WorkflowInstance(self._engine, await self._engine.create(given.get("id"), params))

    async def create_batch(self, batch: list[Mapping[str, Any]]) -> list[WorkflowInstance]:
        """Start up to 100 instances, each from a `{"id"?, "params"?}` dict."""
        if not isinstance(batch, list) or not batch:
            raise TypeError("create_batch takes a non-empty list of {'id': ..., 'params': ...} dicts")
        if len(batch) > MAX_BATCH:
            raise ValueError(f"create_batch takes at most {MAX_BATCH} instances, not {len(batch)}")
        return [await self.create(options) for options in batch]

    createBatch = create_batch

    async def get(self, instance_id: str) -> WorkflowInstance:
        """The instance with this id; raises `InstanceError` (instance.not_found) when there is none."""
        await self._engine.status(instance_id)  # raises for an unknown id
        return WorkflowInstance(self._engine, instance_id)


class _OtherWorkersWorkflow:
    """A binding to a Workflow of another worker (`script_name`): not offered locally."""

    def __init__(self, name: str, script_name: str) -> None:
        self._message = (
            f"Workflow {name!r} is defined by worker {script_name!r}; the local platform runs a Workflow only "
            "in the worker that defines it (bind it there, or call that worker)"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise RuntimeError(self._message)


def _options(call: str, options: Mapping[str, Any] | None, kwargs: dict[str, Any], allowed: frozenset[str]) -> dict:
    if options is not None and kwargs:
        raise TypeError(f"{call} takes one options dict or keyword arguments, not both")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"{call} takes an options dict with {', '.join(sorted(allowed))}, not {options!r}")
    given = dict(options if options is not None else kwargs)
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"{call} got unknown options {unknown}: allowed are {', '.join(sorted(allowed))}")
    return given


async def shutdown(resources: Mapping[str, Any]) -> None:
    """Stop every Workflow instance running in an isolate (given its `resources`), recording nothing: what a
    crash or the end of the process does. Their runs go on when the worker starts again."""
    for engine in resources.get(ENGINES_RESOURCE, {}).values():
        await engine.aclose()


class WorkflowsKind(ListKind):
    """`workflows`: `env.<binding>` is a `Workflow` running class `class_name` of this worker."""

    key = "workflows"
    state_folder = STATE_FOLDER

    def parse(self, reader: ConfigReader, config: Mapping[str, Any]) -> dict[str, Any]:
        sections = super().parse(reader, config)
        entries = sections[self.key]
        if entries:
            try:
                flags = enabled_flags(config.get("compatibility_date", ""), config.get("compatibility_flags", []))
            except ValueError:
                return sections  # the date or flags are refused where config.py reads them
            local = [e for e in entries if e.script_name in (None, config.get("name"))]
            if local and "python_workflows" not in flags:
                raise reader.fail(
                    "compatibility_flags",
                    'Python Workflows need the "python_workflows" compatibility flag '
                    "(implied by python_workers from 2025-09-20)",
                )
            implicit = _IMPLICIT_FLAG in flags
            sections[self.key] = [replace(e, implicit_dependencies=implicit) for e in entries]
        return sections

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> WorkflowConfig:
        return WorkflowConfig(
            name=reader.string(item, "name", required=True, prefix=where),
            binding=reader.string(item, "binding", required=True, prefix=where),
            class_name=reader.string(item, "class_name", required=True, prefix=where),
            script_name=reader.string(item, "script_name", prefix=where),
        )

    def binding(self, entry: WorkflowConfig, context: BindingContext) -> Any:
        if entry.script_name not in (None, context.worker):
            return _OtherWorkersWorkflow(entry.name, entry.script_name)
        engines = context.resources.setdefault(ENGINES_RESOURCE, {})
        engine = engines.get(entry.name)
        if engine is None:
            engine = engines[entry.name] = WorkflowEngine(
                name=entry.name,
                cls=_workflow_class(entry, context),
                env=context.env,
                store=WorkflowStore(self.state_file(context.state, context.worker, entry.name)),
                implicit_dependencies=entry.implicit_dependencies,
            )
            if _loop_running():
                engine.recover()  # the worker (re)starts: unfinished instances go on at once
        return Workflow(engine)


def _workflow_class(entry: WorkflowConfig, context: BindingContext) -> type:
    cls = getattr(context.module, entry.class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, WorkflowEntrypoint)):
        raise WorkerError(
            f"{context.main} must define `class {entry.class_name}(WorkflowEntrypoint)` "
            f"(bound as {entry.binding} in {context.config_path.name})"
        )
    if not callable(getattr(cls, "run", None)):
        raise WorkerError(f"{context.main}: Workflow class {entry.class_name} must define run(self, event, step)")
    return cls


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
