"""The error of a worker that cannot be loaded or invoked as asked."""

from __future__ import annotations

__all__ = ["WorkerError"]


class WorkerError(RuntimeError):
    """A worker that cannot be loaded or invoked as asked (bad module, no such handler or method)."""
