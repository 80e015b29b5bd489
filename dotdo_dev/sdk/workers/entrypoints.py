"""Base classes for worker entrypoints, Durable Objects and Workflows, as in Cloudflare's SDK."""

from __future__ import annotations

import functools
from typing import Any


class WorkerEntrypoint:
    """Base class used to define a Worker Entrypoint. The runtime creates one per invocation."""

    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any):
        self.ctx = ctx
        self.env = env


class DurableObject:
    """Base class used to define a Durable Object."""

    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any):
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base class used to define a Workflow Entrypoint (`async def run(self, event, step)`).

    The local runtime runs it for a `workflows` binding of the worker that defines it
    (`dotdo_dev.runtime.workflows`), see docs/local-runtime.md.
    """

    ctx: Any
    env: Any

    def __init__(self, ctx: Any, env: Any):
        self.ctx = ctx
        self.env = env


def handler(func):
    """Mark a module-level handler (`on_fetch` and friends). Arguments are already Python objects locally."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper
