"""Limits per client address, counted by Cloudflare's Rate Limiting binding (`ratelimits` in wrangler.jsonc).

    key = client_key(request.headers)           # "ip:203.0.113.7", "ip:2001:db8:1:2::/64" or "unknown"
    verdict = await admitted(env, "FRONT_DOOR_LIMITER", key, worker="dispatcher", request_id=rid)

The key is the client's address from `CF-Connecting-IP`, which Cloudflare's edge sets on every request
(locally the front door sets it from the TCP peer and drops any a client sent): an IPv4 address as it is
(an IPv4-mapped IPv6 one too), an IPv6 address by its /64 (one subscriber's prefix, which it can rotate
within). A request without a readable address spends the shared budget `unknown`.

The binding is approximate on Cloudflare (per location, eventually consistent) and exact locally. A
limiter that fails lets the request through and is logged: a limit protects, it must not take a
service down.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from shared.js_env import js_binding
from shared.logs import log

if sys.platform == "emscripten":  # Pyodide: the limiter is called on the JS binding under the SDK's wrapper
    import js
    from pyodide.ffi import to_js as _to_js
else:  # the local runtime's binding is a Python object
    js = _to_js = None

UNKNOWN = "unknown"


def client_key(headers: Any) -> str:
    """Whose budget a request spends: `ip:<IPv4>`, `ip:<IPv6 /64>`, or `unknown`."""
    raw = (headers.get("cf-connecting-ip") or "").strip()
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return UNKNOWN
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Address(int(address) >> 64 << 64)}/64"
    return f"ip:{address}"


async def admitted(env: Any, binding: str, key: str, *, worker: str, request_id: str | None) -> bool | None:
    """True when `key` may go on, False when its budget is spent, None when `env` has no `binding`.

    A limiter that raises counts as True; the failure is logged as `worker`'s, with the request id.
    """
    options: Any = {"key": key}
    limiter = _js_limiter(env, binding)
    if limiter is not None:
        options = _to_js(options, dict_converter=js.Object.fromEntries)
    else:
        limiter = getattr(env, binding, None)
        if limiter is None:
            return None
    try:
        outcome = await limiter.limit(options)
        return bool(outcome.success)
    except Exception as exc:
        line = {"level": "error", "worker": worker, "message": "rate limiter failed", "request_id": request_id}
        log(line | {"error": f"{type(exc).__name__}: {exc}"[:300]})
        return True


def _js_limiter(env: Any, binding: str) -> Any:
    """Under Pyodide, the JS `Ratelimit` binding of the JS env under the SDK's env wrapper, else None.

    Through the wrappers each call checked the binding's class four ways (on the request's first access),
    converted the options dict by the SDK's generic converter and the answer into a `JsDict`; the options
    are one JS object either way, and `success` is read off the JS answer alike."""
    return None if js is None else js_binding(env, binding, "Ratelimit")
