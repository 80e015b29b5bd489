"""The JavaScript bindings under the SDK's env wrapper, for the few calls that skip its per-call conversions.

Under Pyodide, `self.env` is the SDK's wrapper of workerd's JS env: on a binding's first access in a request it
checks the binding's JS class four ways, then wraps it in a converter that turns every argument and answer into
Python one value at a time. `js_binding(env, "DB", "D1Database")` returns the JS object itself, for a fast path
that converts once (`shared.storage`, `shared.address_limit`); None anywhere else (the local runtime's env, a
missing binding, a binding of another class), where the caller keeps the general path. `wrapped_js(db,
"prepare")` does the same for a binding the SDK has already wrapped (a D1 binding, a Durable Object's storage).
"""

from __future__ import annotations

import sys
from typing import Any


def js_binding(env: Any, name: str, js_class: str) -> Any:
    """The JS binding `name` of the JS env under the SDK's env wrapper when its JS class is `js_class`, else None."""
    try:
        js_env = vars(env).get("_env")
    except TypeError:  # no __dict__: not the SDK's wrapper
        return None
    found = getattr(js_env, name, None) if js_env is not None else None
    if found is None or getattr(getattr(found, "constructor", None), "name", None) != js_class:
        return None
    return found


def wrapped_js(wrapper: Any, member: str) -> Any:
    """Under Pyodide, the JS object under one of the SDK's binding wrappers when it has `member`, else None."""
    if sys.platform != "emscripten" or not hasattr(wrapper, "__dict__"):
        return None
    found = vars(wrapper).get("_binding")
    return found if found is not None and hasattr(found, member) else None
