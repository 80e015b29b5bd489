"""The local runtime's stand-in for Pyodide's `js` module (JavaScript's global scope, seen from Python).

Provided: `Object`, `Map`, `Array`, `JSON`, `Math`, `Date`, `console`, `crypto` (`randomUUID`,
`getRandomValues`), `Headers`, `URL`, `URLSearchParams`, `Request`, `Response`, `fetch` and
`HTMLRewriter` (`js/_html_rewriter.py`), `WebSocketPair` and `WebSocket` (`js/_websocket.py`). They take and give
the local JavaScript values of `pyodide.ffi`
(`to_js` results) and the local `workers` Request and Response. Other JavaScript globals that exist on
Cloudflare (streams, timers, ...) raise `NotProvidedError` (an `ImportError`) naming
them; a name that is not a JavaScript global at all raises `AttributeError`, as under Pyodide. See
docs/local-runtime.md, "pyodide.ffi and js".
"""

from __future__ import annotations

from typing import Any

from js._builtins import JSON, Array, Date, Map, Math, Object, console, crypto
from js._html_rewriter import HTMLRewriter
from js._web import URL, Headers, Request, Response, URLSearchParams, fetch
from js._websocket import WebSocket, WebSocketPair
from pyodide._local import missing

_STREAMS = "streams are not emulated: bodies are bytes in the local runtime"
_TIMERS = "use asyncio (asyncio.sleep, loop.call_later) in the local runtime"
_NOT_PROVIDED = {
    "ReadableStream": _STREAMS,
    "WritableStream": _STREAMS,
    "TransformStream": _STREAMS,
    "CompressionStream": _STREAMS,
    "DecompressionStream": _STREAMS,
    "TextEncoder": "use str.encode",
    "TextDecoder": "use bytes.decode",
    "FormData": "use workers.FormData",
    "Blob": "use workers.Blob",
    "File": "use workers.File",
    "AbortController": "fetches cannot be aborted locally",
    "AbortSignal": "fetches cannot be aborted locally",
    "setTimeout": _TIMERS,
    "setInterval": _TIMERS,
    "clearTimeout": _TIMERS,
    "clearInterval": _TIMERS,
    "queueMicrotask": _TIMERS,
    "scheduler": _TIMERS,
    "Promise": "JavaScript calls of the local stand-ins return Python awaitables",
    "structuredClone": "use copy.deepcopy",
    "caches": "the Cache API is not emulated",
    "Uint8Array": "to_js(bytes) gives a local Uint8Array; the constructor is not provided",
    "ArrayBuffer": "byte data is bytes in the local runtime",
    "DataView": "byte data is bytes in the local runtime",
    "atob": "use base64.b64decode",
    "btoa": "use base64.b64encode",
    "Set": "to_js(set) gives a local Set; the constructor is not provided",
    "Symbol": "not emulated",
    "Reflect": "not emulated",
    "Proxy": "not emulated",
    "Number": "JavaScript numbers are int and float locally",
    "String": "JavaScript strings are str locally",
    "Error": "raise Python exceptions; JavaScript errors arrive as pyodide.ffi.JsException",
    "TypeError": "raise Python exceptions; JavaScript errors arrive as pyodide.ffi.JsException",
    "Intl": "not emulated",
    "navigator": "not emulated",
    "performance": "use time.perf_counter",
    "EventTarget": "not emulated",
    "Event": "not emulated",
    "MessageChannel": "not emulated",
    "globalThis": "this module is the local global scope",
    "self": "this module is the local global scope",
    "DurableObjectState": "the local runtime builds Durable Object state itself",
    "ExecutionContext": "the local runtime builds the execution context itself",
    "Env": "bindings come through self.env",
}


def __getattr__(name: str) -> Any:
    raise missing("js", name, _NOT_PROVIDED)


__all__ = [
    "JSON",
    "URL",
    "Array",
    "Date",
    "HTMLRewriter",
    "Headers",
    "Map",
    "Math",
    "Object",
    "Request",
    "Response",
    "URLSearchParams",
    "WebSocket",
    "WebSocketPair",
    "console",
    "crypto",
    "fetch",
]
