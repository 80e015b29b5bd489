"""The worker's `env` and the current request's `ctx`, as `from workers import env, wait_until` reach them.

On Cloudflare these come from the JS module `cloudflare:workers`: `env` is a live view of the
current environment (the worker's, or the one `patch_env` put in place for the current async
context) and `waitUntil` extends the current request. Locally the runtime records the worker's
`env` when it loads the worker (`bind_worker_env`) and marks every handler call
(`invocation(env, ctx)`); context variables carry both into the tasks a handler starts.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

_worker_env: Any = None
_current_env: contextvars.ContextVar[Any] = contextvars.ContextVar("workers_env", default=None)
_current_ctx: contextvars.ContextVar[Any] = contextvars.ContextVar("workers_ctx", default=None)


def bind_worker_env(env: Any) -> None:
    """Record the worker's `env` (the runtime calls this before importing the worker's main module)."""
    global _worker_env
    _worker_env = env


@contextmanager
def invocation(env: Any, ctx: Any) -> Iterator[None]:
    """Mark a handler call: inside it `workers.env` is `env` and `workers.wait_until` uses `ctx`."""
    env_token = _current_env.set(env)
    ctx_token = _current_ctx.set(ctx)
    try:
        yield
    finally:
        _current_ctx.reset(ctx_token)
        _current_env.reset(env_token)


@contextmanager
def replaced_env(env: Any) -> Iterator[None]:
    """Make `env` the environment `workers.env` shows until the block ends (what `patch_env` does)."""
    token = _current_env.set(env)
    try:
        yield
    finally:
        _current_env.reset(token)


def current_env() -> Any:
    """The environment `workers.env` shows now; RuntimeError when no worker is loaded."""
    env = _current_env.get()
    if env is None:
        env = _worker_env
    if env is None:
        raise RuntimeError(
            "workers.env is only available inside a worker run by the local runtime "
            "(no worker has been loaded in this process)"
        )
    return env


class EnvProxy:
    """`workers.env`: attribute reads go to the current environment, so a module-level import stays valid."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(current_env(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(current_env(), name, value)

    def __dir__(self) -> list[str]:
        return dir(current_env())

    def __repr__(self) -> str:
        try:
            return f"<workers.env of {current_env()!r}>"
        except RuntimeError:
            return "<workers.env (no worker loaded)>"


def wait_until(other: Awaitable[Any]) -> None:
    """Keep `other` running after the current request's response is sent (`ctx.waitUntil`)."""
    ctx = _current_ctx.get()
    if ctx is None:
        raise RuntimeError(
            "workers.wait_until() can only be called while a request (or another event) is being handled"
        )
    ctx.waitUntil(other)
