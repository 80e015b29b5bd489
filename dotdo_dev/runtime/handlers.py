"""The handlers workerd calls on a Python `WorkerEntrypoint`, and with which arguments.

Every handler of a `WorkerEntrypoint` (`fetch`, `scheduled`, `queue`, `test`) is called "relaxed": it
gets as many of `(event, env, ctx)` as its signature accepts, so `async def fetch(self, request)`,
`async def scheduled(self, controller)` and `async def scheduled(self, controller, env, ctx)` all work.
The evidence: Cloudflare's docs write `scheduled(self, controller, env, ctx)` and `queue(self, batch,
env, ctx)`, while Cloudflare's own example 08-cron declares `scheduled(self, controller)` and their
examples' CI asserts a 200 from `/cdn-cgi/handler/scheduled` for it under real workerd (a failing
handler answers 500); only a relaxed call runs both. A handler that cannot take the call (more than
three required parameters, a required keyword-only one) fails, here as there, and the local runtime
says what the signature must be.

A Durable Object's handlers (`fetch`, `alarm`, `webSocketMessage`, `webSocketClose`,
`webSocketError`) are all called relaxed, with the arguments the docs give them and no env or ctx:
`async def alarm(self)` and `async def alarm(self, alarm_info)` both work, `async def alarm(self,
info, extra)` fails (`durable_object_handler_arguments`).

Standard library only: this module may be copied into Pyodide (the conformance harness).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

# Handlers called with as many of (event, env, ctx) as they accept: every WorkerEntrypoint handler.
RELAXED_HANDLERS = frozenset({"fetch", "test", "scheduled", "queue"})

# The number of arguments workerd passes to every handler: (event, env, ctx).
HANDLER_ARGUMENTS = 3

EXPECTED_SIGNATURES = {
    "fetch": "async def fetch(self, request)",
    "scheduled": "async def scheduled(self, controller, env, ctx)",
    "queue": "async def queue(self, batch, env, ctx)",
    "test": "async def test(self, controller, env, ctx)",
}


#: What workerd passes each Durable Object handler (python-entrypoint-helper.ts: `SPECIAL_DO_HANDLER_NAMES`
#: and `fetch`, each called relaxed): a handler gets as many of these as its signature accepts.
DURABLE_OBJECT_HANDLERS: dict[str, tuple[str, ...]] = {
    "fetch": ("request",),
    "alarm": ("alarm_info",),
    "webSocketMessage": ("ws", "message"),
    "webSocketClose": ("ws", "code", "reason", "was_clean"),
    "webSocketError": ("ws", "error"),
}


def expected_signature(handler_name: str) -> str:
    """How a handler must be declared, e.g. `async def queue(self, batch, env, ctx)`."""
    return EXPECTED_SIGNATURES.get(handler_name, f"async def {handler_name}(self, event, env, ctx)")


def check_handler_arity(worker_name: str, handler_name: str, handler: Callable[..., Any]) -> None:
    """Raise TypeError, naming the worker, the handler and the signature it needs, when workerd's
    call of `handler` (a bound method) would fail for its arity."""
    _check(worker_name, handler_name, _shape(handler))


def handler_arguments(
    worker_name: str, handler_name: str, handler: Callable[..., Any], event: Any, env: Any, ctx: Any
) -> tuple[Any, ...]:
    """The positional arguments workerd calls `handler` with; TypeError as `check_handler_arity`."""
    shape = _shape(handler)
    _check(worker_name, handler_name, shape)
    return (event, env, ctx)[: _passed(handler_name, shape)]


def durable_object_handler_arguments(
    class_name: str, handler_name: str, handler: Callable[..., Any], arguments: tuple[Any, ...]
) -> tuple[Any, ...]:
    """The positional arguments workerd calls a Durable Object's `handler` (a bound method) with: as many
    of `arguments` (see `DURABLE_OBJECT_HANDLERS`) as it accepts. TypeError, naming the class, the
    handler and the signature it needs, when that call would fail for its arity."""
    shape = _shape(handler)
    passed = len(arguments) if shape is None or shape.maximum is None else min(shape.maximum, len(arguments))
    problem = _arity_problem(shape, passed)
    if problem is not None:
        names = DURABLE_OBJECT_HANDLERS.get(handler_name, ())
        signature = f"async def {handler_name}({', '.join(('self', *names))})"
        raise TypeError(
            f"{class_name}: {handler_name} handler must be '{signature}' (workerd passes it as many of "
            f"({', '.join(names)}) as it accepts, at most {len(arguments)}); {problem}"
        )
    return arguments[:passed]


class _Shape(NamedTuple):
    required: int  # positional parameters without a default (besides self)
    maximum: int | None  # positional parameters it can take; None with *args
    keyword_only: list[str]  # keyword-only parameters without a default


def _shape(handler: Callable[..., Any]) -> _Shape | None:
    """The handler's parameters; None when its signature cannot be read (then the call decides).

    Read once per function: a handler is a method bound to a new instance on every request, and reading a
    signature costs more than the rest of the call's bookkeeping."""
    function = getattr(handler, "__func__", None)
    if function is None or getattr(handler, "__self__", None) is None:
        return _read_shape(handler)
    try:
        return _method_shapes[function]
    except KeyError:
        shape = _method_shapes[function] = _read_shape(handler)
        return shape
    except TypeError:  # an unhashable callable
        return _read_shape(handler)


#: Shapes of bound methods, by their function (the same for every instance they are bound to).
_method_shapes: dict[Any, _Shape | None] = {}


def _read_shape(handler: Callable[..., Any]) -> _Shape | None:
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return None
    required, maximum = 0, 0
    keyword_only: list[str] = []
    unbounded = False
    for param in signature.parameters.values():
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            maximum += 1
            required += param.default is param.empty
        elif param.kind is param.VAR_POSITIONAL:
            unbounded = True
        elif param.kind is param.KEYWORD_ONLY and param.default is param.empty:
            keyword_only.append(param.name)
    return _Shape(required, None if unbounded else maximum, keyword_only)


def _passed(handler_name: str, shape: _Shape | None) -> int:
    """How many of (event, env, ctx) workerd passes: all three, or for a relaxed handler what it accepts."""
    if handler_name not in RELAXED_HANDLERS or shape is None or shape.maximum is None:
        return HANDLER_ARGUMENTS
    return min(shape.maximum, HANDLER_ARGUMENTS)


def _check(worker_name: str, handler_name: str, shape: _Shape | None) -> None:
    problem = _arity_problem(shape, _passed(handler_name, shape))
    if problem is None:
        return
    if handler_name in RELAXED_HANDLERS:
        how = f"workerd passes it as many of (event, env, ctx) as it accepts, at most {HANDLER_ARGUMENTS}"
    else:
        how = f"workerd calls it with {HANDLER_ARGUMENTS} arguments"
    raise TypeError(
        f"{worker_name}: {handler_name} handler must be '{expected_signature(handler_name)}' ({how}); {problem}"
    )


def _arity_problem(shape: _Shape | None, passed: int) -> str | None:
    if shape is None:
        return None
    if shape.keyword_only:
        return "it requires keyword-only " + ", ".join(repr(name) for name in shape.keyword_only)
    if shape.required <= passed and (shape.maximum is None or passed <= shape.maximum):
        return None
    if shape.maximum is None:
        return f"it takes at least {shape.required}"
    if shape.required == shape.maximum:
        return f"it takes {shape.required}"
    return f"it takes {shape.required} to {shape.maximum}"
