"""The local runtime's stand-in for Pyodide's `pyodide` package (Python Workers run under Pyodide).

Worker code imports `pyodide.ffi` (`to_js`, `create_proxy`, `JsProxy`, `JsException`, ...) and
`pyodide.http` (its `OSError` subclasses); under CPython the local runtime provides those two
submodules, converting values as Pyodide 314 does. What else Pyodide has (`pyodide.code`,
`pyodide.console`, `pyodide.webloop`, `pyodide.http.pyfetch`, ...) is not provided and says so.
See docs/local-runtime.md, section "pyodide.ffi and js".
"""

from __future__ import annotations

from typing import Any

from pyodide import ffi, http
from pyodide._local import missing

#: The Pyodide whose behaviour the stand-in follows (Cloudflare's runtime at compatibility date 2026-11-01).
__version__ = "314.0.7"

_NOT_PROVIDED = {
    "code": "the local runtime does not evaluate Python source for JavaScript",
    "console": "the local runtime has no Pyodide console",
    "webloop": "workers run on asyncio's own event loop locally",
}


def __getattr__(name: str) -> Any:
    raise missing("pyodide", name, _NOT_PROVIDED)


__all__ = ["__version__", "ffi", "http"]
