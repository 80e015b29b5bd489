"""The local stand-in for Pyodide's `pyodide.http`: its `OSError` subclasses.

Under Pyodide 314, `workers.fetch` is `pyodide.http.pyfetch`, and `pyfetch` turns a failed fetch
(the `JsException` "TypeError: fetch failed" of JavaScript's `fetch`) into `AbortError`, an `OSError`
(pyodide/http/_pyfetch.py in Pyodide 314.0.7's python_stdlib.zip: `except JsException as e: raise
AbortError(e) from None`). The local `workers.fetch` raises the same class, so `except OSError:`
behaves as on Cloudflare. `pyfetch` itself and `pyxhr` are not provided: call `workers.fetch`.
"""

from __future__ import annotations

from typing import Any

from pyodide._local import missing
from pyodide.ffi import JsException

_NOT_PROVIDED = {
    "pyfetch": "call `workers.fetch` (the same options; failures raise this module's AbortError)",
    "FetchResponse": "`workers.fetch` returns the local `workers` Response",
    "open_url": "the local runtime has no synchronous XMLHttpRequest",
    "pyxhr": "the local runtime has no XMLHttpRequest",
    "XHRError": "the local runtime has no XMLHttpRequest",
    "XHRNetworkError": "the local runtime has no XMLHttpRequest",
    "XHRTimeoutError": "the local runtime has no XMLHttpRequest",
}


class HttpStatusError(OSError):
    """A 4xx or 5xx status, raised by `raise_for_status()` under Pyodide."""

    def __init__(self, status: int, status_text: str, url: str) -> None:
        self.status = status
        self.status_text = status_text
        self.url = url
        kind = "Client" if 400 <= status < 500 else "Server"
        super().__init__(f"{status} {kind} Error: {status_text} for url: {url}")


class BodyUsedError(OSError):
    """A response body read twice."""

    def __init__(self, *args: Any) -> None:
        super().__init__("Response body is already used")


class AbortError(OSError):
    """A fetch that failed (network error, refused connection, unknown host) or was aborted."""

    def __init__(self, reason: JsException) -> None:
        super().__init__(reason.message)
        self.reason = reason


def fetch_failed(url: str, detail: object) -> AbortError:
    """The error a failed outbound fetch of `url` raises (`detail`: what the HTTP client reported)."""
    return AbortError(JsException("TypeError", f"fetch failed: {url}: {detail}"))


def __getattr__(name: str) -> Any:
    raise missing("pyodide.http", name, _NOT_PROVIDED)


__all__ = ["AbortError", "BodyUsedError", "HttpStatusError"]
