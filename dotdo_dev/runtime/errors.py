"""The error of a worker that cannot be loaded or invoked as asked."""

from __future__ import annotations

__all__ = ["WorkerError", "describe"]


class WorkerError(RuntimeError):
    """A worker that cannot be loaded or invoked as asked (bad module, no such handler or method)."""


def describe(exc: BaseException) -> str:
    """What crosses to the caller of a worker whose code raised `exc`: its type and message, never a traceback
    (as on Cloudflare, only the message crosses)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
