"""`import_from_javascript` and `patch_env`, as the SDK's `workers.utils` defines them.

There are no JavaScript modules under CPython: `import_from_javascript` provides
`cloudflare:workers` (its `env` and `waitUntil`, what Python code takes from it) and raises
ImportError naming any other module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from ._invocation import EnvProxy, replaced_env, wait_until

LOCAL_JAVASCRIPT_MODULES = ("cloudflare:workers",)


def import_from_javascript(module_name: str) -> Any:
    """Import a JavaScript ES module from Python; locally only `cloudflare:workers` (env, waitUntil) exists."""
    if module_name == "cloudflare:workers":
        return SimpleNamespace(env=EnvProxy(), waitUntil=wait_until)
    raise ImportError(
        f"Failed to import '{module_name}': the local runtime (CPython) has no JavaScript modules; "
        f"it provides only {', '.join(repr(m) for m in LOCAL_JAVASCRIPT_MODULES)} (env, waitUntil)"
    )


@contextmanager
def patch_env(d: dict[str, Any] | Sequence[tuple[str, Any]] | None = None, **kwds: dict[str, Any]) -> Iterator[None]:
    """Within the block `workers.env` is exactly the given names (the worker's own bindings are hidden)."""
    if d:
        kwds = dict(d) | kwds
    with replaced_env(SimpleNamespace(**kwds)):
        yield
