"""Runs inside Pyodide (see runner.mjs): load a worker as Cloudflare would and exercise it.

Stand-ins replace the two runtime-only modules the real SDK imports; threads and blocking
sockets are made to fail loudly, because Python Workers have neither.
"""

import importlib
import json
import sys
import time
import traceback
import types


def _install_runtime_stand_ins() -> None:
    flags = types.ModuleType("_cloudflare_compat_flags")
    flags.__getattr__ = lambda name: False
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
    socket.socket.connect = no_sockets


def _missing_module(exc: BaseException) -> str | None:
    name = getattr(exc, "name", None)
    return name if isinstance(exc, ModuleNotFoundError) and name else None


async def run(job, env, ctx, js_request, do_state=None) -> dict:
    _install_runtime_stand_ins()
    _forbid_threads_and_sockets()
    result = {"ok": False, "stage": "import"}
    started = time.perf_counter()
    try:
        module = importlib.import_module(job["main_module"])
    except BaseException as exc:
        missing = _missing_module(exc)
        result["error"] = f"module {missing!r} is not available under Pyodide" if missing else _short(exc)
        result["module"] = missing
        return result
    result["import_ms"] = round((time.perf_counter() - started) * 1000, 1)
    import workers
    from workers import python_from_rpc, python_to_rpc

    result["sdk"] = getattr(workers, "__file__", "")
    entrypoint = getattr(module, "Default", None)
    if entrypoint is None:
        result["error"] = "no class Default(WorkerEntrypoint) in the main module"
        return result
    result["stage"] = "fetch"
    try:
        instance = entrypoint(ctx, env)
        response = await instance.fetch(workers.Request(js_request))
        js_response = response.js_object
        result["status"] = js_response.status
        result["content_type"] = js_response.headers.get("content-type")
        result["body"] = await js_response.text()
    except BaseException as exc:
        result["error"] = _short(exc)
        return result

    def as_json(value):
        """What crosses RPC, as JSON: the SDK's own conversion decides what may be sent."""
        return json.loads(json.dumps(python_from_rpc(python_to_rpc(value)), default=str))

    async def rpc_call(rpc):
        from js import Object
        from pyodide.ffi import to_js

        args = python_from_rpc(to_js(rpc["args"], dict_converter=Object.fromEntries))
        return as_json(await getattr(entrypoint(ctx, env), rpc["method"])(*args))

    async def plain_call(function):
        # A plain function of one of the worker's modules: a code path no route reaches alone.
        value = getattr(importlib.import_module(function["module"]), function["function"])(*function.get("args", []))
        return json.loads(json.dumps(await value if hasattr(value, "__await__") else value, default=str))

    async def durable_calls(durable):
        # The class built as workerd builds it (`Cls(ctx, env)`, ctx a JS DurableObjectState), then called.
        instance = getattr(module, durable["class"])(do_state, env)
        method = getattr(instance, durable["method"])
        return [as_json(await method(*durable.get("args", []))) for _ in range(durable.get("calls", 1))]

    for stage, run_stage in (("rpc", rpc_call), ("call", plain_call), ("durable_object", durable_calls)):
        if job.get(stage):
            result["stage"] = stage
            try:
                result[stage] = await run_stage(job[stage])
            except BaseException as exc:
                result["error"] = _short(exc)
                return result
    result["stage"] = "done"
    result["ok"] = True
    return result


def _short(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[-2000:]
