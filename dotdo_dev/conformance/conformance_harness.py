"""Runs inside Pyodide (see runner.mjs): load a worker's bundle as Cloudflare would and exercise it.

Stages, each reported by name when it fails: `import` (the main module, with workerd's global-scope
rules), `requests` (HTTP requests through the SDK's `Request`/`Response`), `rpc`, `call` (a plain
function of the worker's modules), `durable_object`, `scheduled` and `queue` (called as workerd
calls them: `(controller, env, ctx)`, `(batch, env, ctx)`).

Stand-ins replace the two runtime-only modules the real SDK imports (`_cloudflare_compat_flags`
answers what the worker's compatibility date and flags enable); threads and blocking sockets fail
loudly, because Python Workers have neither.
"""

import functools
import importlib
import json
import os
import random
import sys
import time
import traceback
import types

import dotdo_handlers
import runtime_patches

BUNDLE = "/session/metadata"
GLOBAL_SCOPE_MESSAGE = (
    "Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), "
    "setting a timeout, and generating random values are not allowed within global scope. To fix this "
    "error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/"
)


class GlobalScopeError(RuntimeError):
    """What workerd raises for randomness, timers, I/O (and here: the wall clock) at import time."""


class _Scope:
    global_scope = False


def _install_runtime_stand_ins(enabled_flags: list) -> None:
    flags = types.ModuleType("_cloudflare_compat_flags")
    on = frozenset(enabled_flags)
    flags.__getattr__ = lambda name: name in on
    sys.modules["_cloudflare_compat_flags"] = flags
    helper = types.ModuleType("_pyodide_entrypoint_helper")

    def patch_wait_until(ctx):
        ctx.wait_until = ctx.waitUntil

    helper.patchWaitUntil = patch_wait_until
    sys.modules["_pyodide_entrypoint_helper"] = helper


def _forbid_threads_and_sockets() -> None:
    import socket
    import threading

    def no_threads(self, *args, **kwargs):
        raise RuntimeError(f"Python Workers cannot start threads (Thread {self.name!r})")

    def no_sockets(self, *args, **kwargs):
        raise RuntimeError("Python Workers cannot open blocking sockets; use `workers.fetch` or httpx")

    threading.Thread.start = no_threads
    # Pyodide 314 has a socket module whose connect would block; Workers offer `connect()` from
    # `cloudflare:sockets` (asynchronous) instead.
    socket.socket.connect = no_sockets
    socket.socket.connect_ex = no_sockets
    socket.create_connection = functools.partial(no_sockets, None)


def _from_worker_code() -> bool:
    """Whether the caller of a guarded function is the worker's own code (not a vendored package)."""
    frame = sys._getframe(2)
    filename = frame.f_code.co_filename if frame else ""
    return filename.startswith(BUNDLE + "/") and not filename.startswith(BUNDLE + "/python_modules/")


def _guard(owner, name: str, what: str, *, only_worker_code: bool = False) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def guarded(*args, **kwargs):
        if _Scope.global_scope and (not only_worker_code or _from_worker_code()):
            raise GlobalScopeError(f"{GLOBAL_SCOPE_MESSAGE} ({what})")
        return original(*args, **kwargs)

    setattr(owner, name, guarded)


def _guard_global_scope() -> None:
    """Randomness and the clock refuse to run while the worker's top level runs (workerd refuses
    randomness, timers and I/O there; a wall-clock value taken there would be frozen into the
    memory snapshot). Timers and fetch are guarded on the JavaScript side (runner.mjs)."""
    for name in ("random", "uniform", "randint", "randrange", "choice", "choices", "sample", "shuffle"):
        _guard(random, name, f"random.{name}")
    for name in ("getrandbits", "randbytes", "gauss", "normalvariate", "triangular", "betavariate"):
        _guard(random, name, f"random.{name}")
    for name in ("random", "getrandbits", "randbytes"):
        _guard(random.SystemRandom, name, f"random.SystemRandom.{name}")
    _guard(os, "urandom", "os.urandom")
    # Libraries read the clock while they import (logging keeps its start time): only the
    # worker's own modules are held to this, where a frozen value would be a bug of ours.
    _guard(time, "time", "time.time", only_worker_code=True)
    _guard(time, "time_ns", "time.time_ns", only_worker_code=True)


def _missing_module(exc: BaseException) -> str | None:
    name = getattr(exc, "name", None)
    return name if isinstance(exc, ModuleNotFoundError) and name else None


def _bundle_modules() -> set:
    """Modules loaded from the bundle (the worker's and its vendored packages'), by name."""
    return {
        name
        for name, module in list(sys.modules.items())
        if (getattr(module, "__file__", None) or "").startswith(BUNDLE + "/")
    }


async def run(job, js) -> dict:
    from pyodide.ffi import create_proxy

    if job.get("bytecode"):  # the runner keeps compiled modules for the next job of this bundle (runner.mjs)
        sys.pycache_prefix, sys.dont_write_bytecode = job["bytecode"], False
    _install_runtime_stand_ins(job.get("compat_flags") or [])
    runtime_patches.install()  # what workerd does to httpx when the worker imports it
    _forbid_threads_and_sockets()
    _guard_global_scope()
    result = {"ok": False, "stage": "import", "worker": job["worker"]}
    # What the interpreter holds before the worker is imported: the same from a snapshot as from a boot.
    result["interpreter_modules"] = sorted(sys.modules)
    env, ctx = js.env, js.ctx
    started = time.perf_counter()
    _Scope.global_scope = True
    setattr(js.scope, "global", True)  # `global` is a Python keyword
    try:
        import workers  # the SDK from the bundle's python_modules

        module = importlib.import_module(job["main_module"])
    except BaseException as exc:
        missing = _missing_module(exc)
        result["error"] = (
            f"worker {job['worker']!r}: module {missing!r} is not in the bundle (imported at {_where(exc)})"
            if missing
            else f"worker {job['worker']!r}: {_short(exc)}"
        )
        result["module"] = missing
        return result
    finally:
        _Scope.global_scope = False
        setattr(js.scope, "global", False)
    result["import_ms"] = round((time.perf_counter() - started) * 1000, 1)
    from workers import python_from_rpc, python_to_rpc

    result["sdk"] = getattr(workers, "__file__", "")
    entrypoint = getattr(module, "Default", None)
    if entrypoint is None:
        result["error"] = f"worker {job['worker']!r}: no class Default(WorkerEntrypoint) in the main module"
        return result
    loaded = _bundle_modules()

    def as_json(value):
        """What crosses RPC, as JSON: the SDK's own conversion decides what may be sent."""
        return json.loads(json.dumps(python_from_rpc(python_to_rpc(value)), default=str))

    durable_objects = {}

    async def durable(class_name, object_id, method, args):
        # A Durable Object's RPC method, called through a stub of a namespace binding: the object is
        # made once per id as workerd makes it, arguments and result converted as RPC converts them.
        key = (class_name, object_id)
        if key not in durable_objects:
            durable_objects[key] = getattr(module, class_name)(js.newDurableObjectState(object_id), env)
        value = await getattr(durable_objects[key], method)(*python_from_rpc(args))
        return python_to_rpc(value)

    js.hooks.durable = create_proxy(durable)

    async def requests_stage(count):
        # The job's requests, `repeat` times over (the first pass answers; every pass is timed).
        answers, timings, standins = [], [], []
        for round_number in range(max(1, int(job.get("repeat") or 1))):
            for index in range(count):
                standin_before = js.standIn.ms
                started = time.perf_counter()
                instance = entrypoint(ctx, env)
                request = workers.Request(js.requests[index]())
                handler_args = dotdo_handlers.handler_arguments(
                    job["worker"], "fetch", instance.fetch, request, env, ctx
                )
                js_response = (await instance.fetch(*handler_args)).js_object
                body = await js_response.text()
                timings.append(round((time.perf_counter() - started) * 1000, 3))
                standins.append(round(js.standIn.ms - standin_before, 3))
                if round_number == 0:
                    answers.append(
                        {
                            "status": js_response.status,
                            "content_type": js_response.headers.get("content-type"),
                            "headers": {k: v for k, v in js_response.headers.entries()},
                            "body": body,
                        }
                    )
                if round_number == 0 and index == 0:
                    result["first_request_imports"] = sorted(_bundle_modules() - loaded)
        result["request_ms"] = timings
        result["request_standin_ms"] = standins  # of each request's time, what the stand-ins' JavaScript took
        return answers

    async def rpc_call(rpc):
        from js import Object
        from pyodide.ffi import to_js

        args = python_from_rpc(to_js(rpc["args"], dict_converter=Object.fromEntries))
        # workerd exposes only the class's own public methods (its introspection reads cls.__dict__)
        own = vars(entrypoint).get(rpc["method"])
        if rpc["method"].startswith("_") or own is None or isinstance(own, classmethod | staticmethod):
            raise TypeError(f'The RPC receiver does not implement the method "{rpc["method"]}".')
        # `rpc_repeat` calls: each timed (`rpc_ms`, an entrypoint per call as workerd makes one per call); the
        # first one answers, and what it imported from the bundle is `first_rpc_imports`.
        answer, timings, standins, before = None, [], [], _bundle_modules()
        for number in range(max(1, int(job.get("rpc_repeat") or 1))):
            standin_before = js.standIn.ms
            started = time.perf_counter()
            value = as_json(await getattr(entrypoint(ctx, env), rpc["method"])(*args))
            timings.append(round((time.perf_counter() - started) * 1000, 3))
            standins.append(round(js.standIn.ms - standin_before, 3))
            if number == 0:
                answer = value
                result["first_rpc_imports"] = sorted(_bundle_modules() - before)
        result["rpc_ms"] = timings
        result["rpc_standin_ms"] = standins
        return answer

    async def plain_call(function):
        # A plain function of one of the worker's modules: a code path no route reaches alone. With
        # `"env": true` the worker's env is its first argument.
        args = [env, *function.get("args", [])] if function.get("env") else function.get("args", [])
        value = getattr(importlib.import_module(function["module"]), function["function"])(*args)
        return json.loads(json.dumps(await value if hasattr(value, "__await__") else value, default=str))

    async def durable_calls(calls):
        # The class built as workerd builds it (`Cls(state, env)`, state a JS DurableObjectState), then called.
        instance = getattr(module, calls["class"])(js.newDurableObjectState("0" * 64), env)
        method = getattr(instance, calls["method"])
        return [as_json(await method(*calls.get("args", []))) for _ in range(calls.get("calls", 1))]

    async def handler_call(name, event):
        # As workerd calls it: relaxed, with as many of (event, env, ctx) as the handler takes (handlers.py).
        instance = entrypoint(ctx, env)
        handler = getattr(instance, name, None)
        if handler is None:
            raise TypeError(
                f"worker {job['worker']!r} has no {name} handler ({dotdo_handlers.expected_signature(name)})"
            )
        await handler(*dotdo_handlers.handler_arguments(job["worker"], name, handler, event, env, ctx))
        return True

    stages = (
        ("requests", lambda n: requests_stage(n)),
        ("rpc", rpc_call),
        ("call", plain_call),
        ("durable_object", durable_calls),
        ("scheduled", lambda _: handler_call("scheduled", js.scheduledController())),
        ("queue", lambda _: handler_call("queue", js.messageBatch())),
    )
    job_stages = dict(job)
    job_stages["requests"] = len(job.get("requests") or [])
    for stage, run_stage in stages:
        if job_stages.get(stage):
            result["stage"] = stage
            try:
                result[stage] = await run_stage(job_stages[stage])
            except BaseException as exc:
                result["error"] = f"worker {job['worker']!r}: {_short(exc)}"
                return result
    result["stage"] = "done"
    result["ok"] = True
    return result


def _where(exc: BaseException) -> str:
    """The bundle file and line of the import that failed, for a ModuleNotFoundError."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(BUNDLE + "/")]
    if not frames:
        return "the main module"
    frame = frames[-1]
    return f"{frame.filename.removeprefix(BUNDLE + '/')}:{frame.lineno}"


def _short(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[-2000:]
