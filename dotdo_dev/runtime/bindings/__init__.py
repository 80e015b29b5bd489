"""The binding kinds of the local runtime, each in a module of its own, registered in one list.

`dotdo_dev.config` parses a worker's `wrangler.jsonc` with every kind in `BINDING_KINDS`, and
`Isolate` builds the worker's `env` with every kind, in this order. A new kind (R2, Workflows, AI) is
a `BindingKind` in a new module (see `kind.py`) plus its entry here.
"""

from __future__ import annotations

from dotdo_dev.runtime.bindings.ai import AIKind
from dotdo_dev.runtime.bindings.assets import AssetsKind
from dotdo_dev.runtime.bindings.d1 import D1Kind
from dotdo_dev.runtime.bindings.dispatch_namespaces import DispatchNamespacesKind
from dotdo_dev.runtime.bindings.durable_objects import DurableObjectsKind
from dotdo_dev.runtime.bindings.kind import BindingContext, BindingKind
from dotdo_dev.runtime.bindings.kv import KVKind
from dotdo_dev.runtime.bindings.queues import QueuesKind
from dotdo_dev.runtime.bindings.r2 import R2Kind
from dotdo_dev.runtime.bindings.rate_limits import RateLimitsKind
from dotdo_dev.runtime.bindings.services import ServicesKind
from dotdo_dev.runtime.bindings.workflows import WorkflowsKind

__all__ = ["BINDING_KINDS", "BindingContext", "BindingKind"]

#: Every binding kind, in the order `env` is built.
BINDING_KINDS: list[BindingKind] = [
    D1Kind(),
    KVKind(),
    QueuesKind(),
    ServicesKind(),
    DurableObjectsKind(),
    DispatchNamespacesKind(),
    RateLimitsKind(),
    WorkflowsKind(),
    AssetsKind(),
    R2Kind(),
    AIKind(),
]
