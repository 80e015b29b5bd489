"""Module-level handlers (`on_fetch`, `on_scheduled`, `on_queue`), as workerd ran them before 2025-08-14.

Python Workers began with handlers as module functions (`@handler async def on_fetch(request, env)`,
Cloudflare's early examples). Since the compatibility date 2025-08-14 (flag `python_no_global_handlers`)
workerd calls only a `class Default(WorkerEntrypoint)`; before it, or with
`disable_python_no_global_handlers`, the module functions are the handlers. `legacy_entrypoint` makes an
entrypoint class that calls them, with the arity rules of `handlers` (fetch relaxed, the others with
`(event, env, ctx)`), so the rest of the runtime sees one shape. `module_handlers` finds them;
`NO_GLOBAL_HANDLERS_MESSAGE` says what to do when the date refuses them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from workers import WorkerEntrypoint

from dotdo_dev.runtime.handlers import handler_arguments

#: The module function workerd calls for each handler, before `python_no_global_handlers`.
MODULE_HANDLERS = {"fetch": "on_fetch", "scheduled": "on_scheduled", "queue": "on_queue"}
NO_GLOBAL_HANDLERS_FLAG = "python_no_global_handlers"
NO_GLOBAL_HANDLERS_MESSAGE = (
    "{main} defines module-level {names} but no `class Default(WorkerEntrypoint)`: workerd calls module-level "
    "handlers only before the compatibility date 2025-08-14 (flag python_no_global_handlers). Declare "
    "`class Default(WorkerEntrypoint)` with `async def fetch(self, request)`, or set an earlier "
    "compatibility_date (or the flag disable_python_no_global_handlers)"
)


def module_handlers(module: ModuleType) -> dict[str, Callable[..., Any]]:
    """The module's `on_fetch`/`on_scheduled`/`on_queue` functions, by the handler they are."""
    found = {}
    for handler, function_name in MODULE_HANDLERS.items():
        function = getattr(module, function_name, None)
        if callable(function):
            found[handler] = function
    return found


def legacy_entrypoint(worker_name: str, handlers: dict[str, Callable[..., Any]]) -> type[WorkerEntrypoint]:
    """A `Default` entrypoint class whose handlers call the module functions as workerd called them."""

    def method(handler_name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        async def call(self: Any, event: Any, env: Any = None, ctx: Any = None) -> Any:
            result = function(*handler_arguments(worker_name, handler_name, function, event, env, ctx))
            return await result if inspect.isawaitable(result) else result

        call.__name__ = handler_name
        call.__doc__ = f"Calls the module-level {MODULE_HANDLERS[handler_name]}."
        return call

    namespace = {name: method(name, function) for name, function in handlers.items()}
    namespace["__doc__"] = "Module-level handlers, called as workerd called them before 2025-08-14."
    return type("Default", (WorkerEntrypoint,), namespace)
