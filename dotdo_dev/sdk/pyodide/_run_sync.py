"""`pyodide.ffi.run_sync` and `can_run_sync` for the local runtime.

Under Pyodide, `run_sync(awaitable)` blocks synchronous Python code until the awaitable settles, by
suspending the WebAssembly stack (JSPI): a WSGI app (Django, Flask) runs synchronously inside the async
`fetch`, and django-cf's D1 backend calls `run_sync(stmt.all())` from Django's synchronous cursor; the
SDK's `wsgi` reads the request body the same way.

CPython cannot suspend a thread's stack, so the local runtime runs such synchronous code in a thread of its
own (`in_thread`, used by the `wsgi` bridge) and `run_sync` there hands the awaitable to the worker's event
loop and waits for its result. The loop stays free meanwhile: other requests, and the binding call itself,
go on. On the event loop's own thread nothing can wait for the loop, so `run_sync` raises RuntimeError there
(where Cloudflare would suspend); `can_run_sync()` says which case applies.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: The event loop `run_sync` hands awaitables to; set in the context `in_thread` runs its function in.
_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "dotdo_run_sync_loop", default=None
)
#: Threads for synchronous app code, apart from asyncio's default executor (which bindings may use: a thread
#: waiting in `run_sync` must never hold the one its awaitable needs).
_THREADS: ThreadPoolExecutor | None = None
_MAX_THREADS = 32
_POLL = 0.5  # seconds between two looks at whether the loop still runs


def _target_loop() -> asyncio.AbstractEventLoop | None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return None  # the loop's own thread: blocking it would wait forever
    loop = _LOOP.get()
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


def bridge_loop() -> asyncio.AbstractEventLoop | None:
    """The worker's event loop when called from a thread `in_thread` runs (else None): where code of that
    thread hands work to the loop (`run_sync`, `ctx.waitUntil`)."""
    return _target_loop()


def can_run_sync() -> bool:
    """Whether `run_sync` can block here: in synchronous code the local runtime runs for a request in a
    thread (a WSGI app, through `workers.wsgi`), not on the event loop's thread."""
    return _target_loop() is not None


def run_sync(x: Awaitable[T]) -> T:
    """Block until the awaitable `x` settles and return its result (or raise its exception)."""
    loop = _target_loop()
    if loop is None:
        if inspect.iscoroutine(x):
            x.close()  # never awaited: no "coroutine was never awaited" warning on top of the error
        raise RuntimeError(
            "run_sync() cannot block here: locally it works in synchronous code the runtime runs in a thread "
            "for a request (a WSGI app through workers.wsgi), not on the event loop's thread; await the "
            "awaitable instead (docs/local-runtime.md, pyodide.ffi)"
        )
    future = asyncio.run_coroutine_threadsafe(_awaited(x), loop)
    while True:
        try:
            return future.result(timeout=_POLL)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the awaitable's own TimeoutError
            if not loop.is_running():  # the worker is stopping: never wait for a loop that will not run it
                future.cancel()
                raise RuntimeError("run_sync(): the worker's event loop stopped before the awaitable settled") from None


async def _awaited(x: Awaitable[T]) -> T:
    return await x


async def in_thread(function: Callable[..., T], /, *args: Any) -> T:
    """Run `function(*args)` in a thread, in a copy of the current context, where `run_sync` waits on the
    running loop; await its result."""
    global _THREADS
    loop = asyncio.get_running_loop()
    if _THREADS is None:
        _THREADS = ThreadPoolExecutor(max_workers=_MAX_THREADS, thread_name_prefix="dotdo-sync-app")
    context = contextvars.copy_context()
    context.run(_LOOP.set, loop)
    return await loop.run_in_executor(_THREADS, context.run, function, *args)
