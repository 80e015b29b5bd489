"""Posting a webhook: the SSRF guard before every request, redirects followed by hand, bounded time and size.

    outcome = await deliver(env, url, body, delivery_id="job_...", event="order.paid")

Each hop: `ssrf.check` (refused: `Refused`, for good), then one POST of the signed body with a time limit
(`TIMEOUT` seconds per request) and at most `MAX_RESPONSE_BYTES` of the answer read. A 301/302/303/307/308
with a `Location` is followed, at most `MAX_REDIRECTS` times, with the same signed POST, after checking
the new URL again (a redirect to `http://169.254.169.254/` is refused like the URL itself would be).

How a request is sent depends on the runtime, so that nothing follows a redirect behind the guard's back:
- CPython (local): `httpx.AsyncClient` with `follow_redirects=False`, connecting to the addresses the guard
  resolved (the URL's host in `Host` and in TLS's SNI, so certificates are checked against the name): a
  second DNS lookup cannot answer differently;
- Pyodide (Cloudflare): JavaScript `fetch` with `redirect: "manual"`. Not httpx: workerd makes httpx send
  through `fetch` without a redirect mode, and fetch's default ("follow") would follow redirects itself,
  unchecked (workerd's `patches/httpx.py`; `dotdo_dev/conformance/runtime_patches.py`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

import signing
import ssrf
from shared.settings import setting

MAX_REDIRECTS = 3
TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
#: How much of the answer is kept in the job's result.
EXCERPT = 256
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "dotdo-queue/0.1 (+webhook-delivery)"


class DeliveryError(Exception):
    """A delivery that did not succeed: `code`, `retryable` (a later try may succeed), the reason as message."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def allow_loopback(env: Any) -> bool:
    """The local-development flag `WEBHOOK_ALLOW_LOOPBACK` (`1`, `true` or `yes`)."""
    return (setting(env, "WEBHOOK_ALLOW_LOOPBACK") or "").lower() in ("1", "true", "yes")


def signing_secret(env: Any) -> str:
    secret = setting(env, "WEBHOOK_SIGNING_SECRET")
    if secret is None or len(secret) < signing.MIN_SECRET:
        raise DeliveryError(
            "SIGNING_SECRET_MISSING",
            f"WEBHOOK_SIGNING_SECRET is not set (or shorter than {signing.MIN_SECRET} characters): "
            "deliveries are never sent unsigned",
            retryable=False,
        )
    return secret


async def deliver(
    env: Any,
    url: str,
    body: bytes,
    *,
    delivery_id: str,
    event: str,
    now: float,
    resolver: ssrf.Resolver | None = None,
    send: Any = None,
) -> dict[str, Any]:
    """POST `body` signed to `url`, following redirects after checking each; what happened, or `DeliveryError`."""
    secret = signing_secret(env)
    loopback = allow_loopback(env)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        signing.SIGNATURE_HEADER.lower(): signing.sign(secret, body, int(now)),
        signing.DELIVERY_HEADER.lower(): delivery_id,
        signing.EVENT_HEADER.lower(): event,
    }
    send = send or default_sender()
    current, hops = url, []
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = await ssrf.check(current, allow_loopback=loopback, resolver=resolver)
        except ssrf.Refused as refused:
            where = "" if current == url else f" (redirected to {current[:200]})"
            retryable = refused.code == "SSRF_UNRESOLVED"
            raise DeliveryError(refused.code, refused.message + where, retryable=retryable) from None
        try:
            answer = await asyncio.wait_for(send(target, headers, body), TIMEOUT + 5)
        except (TimeoutError, httpx.TimeoutException):
            message = f"{target.host} did not answer within {TIMEOUT:g} s"
            raise DeliveryError("WEBHOOK_TIMEOUT", message, retryable=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryError("WEBHOOK_UNREACHABLE", f"{target.host}: {type(exc).__name__}", retryable=True) from None
        location = answer.headers.get("location")
        if answer.status in REDIRECTS and location:
            hops.append({"url": target.url, "status": answer.status})
            current = urljoin(target.url, location)
            continue
        return _outcome(target, answer, hops)
    raise DeliveryError(
        "TOO_MANY_REDIRECTS", f"more than {MAX_REDIRECTS} redirects (last to {current[:200]})", retryable=False
    )


def _outcome(target: ssrf.Target, answer: Answer, hops: list[dict[str, Any]]) -> dict[str, Any]:
    excerpt = answer.body[:EXCERPT].decode("utf-8", "replace")
    if 200 <= answer.status < 300:
        return {"status": answer.status, "url": target.url, "redirects": hops, "response": excerpt}
    retryable = answer.status >= 500 or answer.status in (408, 425, 429)
    code = "WEBHOOK_SERVER_ERROR" if retryable else "WEBHOOK_REJECTED"
    raise DeliveryError(code, f"{target.host} answered {answer.status}", retryable=retryable)


# -- sending one request ---------------------------------------------------------------------------------


def default_sender() -> Any:
    return send_with_fetch if sys.platform == "emscripten" else send_with_httpx


async def send_with_httpx(target: ssrf.Target, headers: dict[str, str], body: bytes) -> Answer:
    """One POST with httpx (no redirects), to the first address the guard resolved, reading at most
    `MAX_RESPONSE_BYTES` of the answer."""
    url, extensions = target.url, {}
    if target.addresses and target.literal is None:
        address = ipaddress.ip_address(target.addresses[0])
        netloc = f"[{address}]" if address.version == 6 else str(address)
        default = 443 if target.scheme == "https" else 80
        url = f"{target.scheme}://{netloc}{'' if target.port == default else f':{target.port}'}{target.path}"
        extensions = {"sni_hostname": target.host}
        headers = {**headers, "host": target.host if target.port == default else f"{target.host}:{target.port}"}
    timeout = httpx.Timeout(TIMEOUT)
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        request = client.build_request("POST", url, headers=headers, content=body, extensions=extensions)
        response = await client.send(request, stream=True)
        try:
            data = b""
            async for chunk in response.aiter_raw():
                data += chunk
                if len(data) >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
    return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, data[:MAX_RESPONSE_BYTES])


async def send_with_fetch(target: ssrf.Target, headers: dict[str, str], body: bytes) -> Answer:  # pragma: no cover
    """One POST with JavaScript fetch (Cloudflare), `redirect: "manual"`, aborted after `TIMEOUT` seconds."""
    from js import AbortSignal, Object, fetch  # only under Pyodide
    from pyodide.ffi import to_js

    init = {
        "method": "POST",
        "headers": to_js(list(map(list, headers.items()))),
        "body": to_js(body),
        "redirect": "manual",
        "signal": AbortSignal.timeout(int(TIMEOUT * 1000)),
    }
    try:
        reply = await fetch(target.url, to_js(init, dict_converter=Object.fromEntries))
    except Exception as exc:  # a JS TypeError (network) or AbortError (timeout)
        if "abort" in str(exc).lower() or "timeout" in str(exc).lower():
            raise httpx.TimeoutException(str(exc)) from None
        raise httpx.TransportError(str(exc)) from None
    data = b""
    if reply.body is not None:
        reader = reply.body.getReader()
        while len(data) < MAX_RESPONSE_BYTES:
            chunk = await reader.read()
            if chunk.done:
                break
            data += chunk.value.to_bytes()
        await reader.cancel()
    headers_out = {str(k).lower(): str(v) for k, v in reply.headers.entries()}
    return Answer(int(reply.status), headers_out, data[:MAX_RESPONSE_BYTES])
