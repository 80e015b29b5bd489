"""Local Workflows: the engine that runs `WorkflowEntrypoint` classes, their steps, and their SQLite store.

`dotdo_dev.runtime.bindings.workflows` turns a worker's `workflows` config into `env` bindings backed
by a `WorkflowEngine` (`engine.py`); `steps.py` is the `step` object `run` receives; `store.py` is
the SQLite file that makes settled steps survive restarts; `durations.py` reads durations.
"""

from dotdo_dev.runtime.workflows.engine import InstanceError, WorkflowEngine
from dotdo_dev.runtime.workflows.steps import WorkflowTimeoutError
from dotdo_dev.runtime.workflows.store import WorkflowStore

__all__ = ["InstanceError", "WorkflowEngine", "WorkflowStore", "WorkflowTimeoutError"]
