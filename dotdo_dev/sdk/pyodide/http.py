"""The local stand-in for Pyodide's `pyodide.http`: its `OSError` subclasses.

Under Pyodide 314, `workers.fetch` is `pyodide.http.pyfetch`, and `pyfetch` turns a failed fetch
(the `JsException` "TypeError: fetch failed" of JavaScript's `fetch`) into `AbortError`, an `OSError`
(pyodide/http/_pyfetch.py in Pyodide 314.0.7's python_stdlib.zip: `except JsException as e: raise
AbortError(e) from None`). The local `workers.fetch` raises the same class, so `except OSError:`
behaves as on Cloudflare. `pyfetch` itself and `pyxhr` are not provided: call `workers.fetch`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

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
    """The error a failed outbound fetch of `url` raises (`detail`: what the HTTP client reported).

    The message names the host and what went wrong in words (`fetch failed: https://example.com/: cannot
    reach example.com: the network is unreachable or the host unknown (Name or service not known)`), so
    that a worker run offline says why, without the HTTP client's own exception types."""
    return AbortError(JsException("TypeError", f"fetch failed: {url}: {describe_failure(url, detail)}"))


def describe_failure(url: str, detail: object) -> str:
    """Why a request to `url` failed, naming its host, from the HTTP client's error `detail`."""
    host = urlsplit(url).hostname or url
    chain: list[BaseException | object] = [detail]  # the client's error, then what caused it
    while isinstance(chain[-1], BaseException) and len(chain) < 10:
        below = chain[-1].__cause__ or chain[-1].__context__
        if below is None:
            break
        chain.append(below)
    if any(isinstance(error, ConnectionRefusedError) for error in chain):
        return f"{host} refused the connection (connection refused)"
    text = str(detail) or type(detail).__name__
    reason = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    name = type(detail).__name__
    lowered = text.lower()
    if "timeout" in name.lower() or "timed out" in lowered:
        return f"no answer from {host} in time ({reason})"
    if "refused" in lowered:
        return f"{host} refused the connection ({reason})"
    if any(word in lowered for word in ("name or service", "nodename", "temporary failure in name", "getaddrinfo")):
        return f"cannot reach {host}: the network is unreachable or the host unknown ({reason})"
    if "unreachable" in lowered or "no route" in lowered:
        return f"cannot reach {host}: the network is unreachable ({reason})"
    return f"cannot reach {host} ({reason})"


def __getattr__(name: str) -> Any:
    raise missing("pyodide.http", name, _NOT_PROVIDED)


__all__ = ["AbortError", "BodyUsedError", "HttpStatusError"]
