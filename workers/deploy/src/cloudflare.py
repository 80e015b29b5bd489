"""Cloudflare's upload API for scripts in a dispatch namespace, through httpx.

    result = await cloudflare.upload(env, "staging", "orders", bundle)    # Cloudflare's `result`
    # or CloudflareError(code, message, status): Cloudflare's first error, or why it was not reached

`PUT {CLOUDFLARE_API_URL}/accounts/{CLOUDFLARE_ACCOUNT_ID}/workers/dispatch/namespaces/dotdo-<env>/scripts/<svc>`,
multipart/form-data: a `metadata` part (JSON: main_module, compatibility_date, compatibility_flags,
bindings, tags, keep_bindings) and one part per module, its field name and file name the module's path.
The answer is Cloudflare's v4 envelope `{"success", "errors": [{code, message}], "messages", "result"}`.

`CLOUDFLARE_API_TOKEN` is a secret: it goes into the Authorization header and nowhere else (never a
log line, an error message or a response; a message Cloudflare sends back is scrubbed of it too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bundles import Bundle

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
#: Binding types Cloudflare keeps from the script's previous upload: secrets set with `wrangler secret put`.
KEEP_BINDINGS = ["secret_text"]
TIMEOUT_SECONDS = 60.0


@dataclass
class CloudflareError(Exception):
    """An upload Cloudflare refused (its error code and message), or one that could not be made (code None)."""

    code: int | None
    message: str
    status: int | None = None  # Cloudflare's HTTP status; None: no answer

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


def namespace(environment: str) -> str:
    return f"dotdo-{environment}"


def script_url(env: Any, environment: str, service: str) -> str:
    base = (getattr(env, "CLOUDFLARE_API_URL", None) or DEFAULT_API_URL).rstrip("/")
    account = getattr(env, "CLOUDFLARE_ACCOUNT_ID", None) or ""
    return f"{base}/accounts/{account}/workers/dispatch/namespaces/{namespace(environment)}/scripts/{service}"


def upload_metadata(bundle: Bundle, service: str, environment: str) -> dict[str, Any]:
    """The `metadata` part: the bundle's metadata.json in the API's fields (its `modules` list is ours, not sent)."""
    meta = bundle.metadata
    return {
        "main_module": meta["main_module"],
        "compatibility_date": meta["compatibility_date"],
        "compatibility_flags": list(meta.get("compatibility_flags") or []),
        "bindings": list(meta.get("bindings") or []),
        "tags": [f"service:{service}", f"env:{environment}"],
        "keep_bindings": list(KEEP_BINDINGS),
    }


def multipart_files(bundle: Bundle, service: str, environment: str) -> list[tuple[str, tuple[Any, bytes, str]]]:
    """httpx `files=`: the metadata part (no file name, application/json), then each module by its path."""
    metadata = json.dumps(upload_metadata(bundle, service, environment)).encode()
    parts: list[tuple[str, tuple[Any, bytes, str]]] = [("metadata", (None, metadata, "application/json"))]
    for name in sorted(bundle.modules, key=lambda n: (n != bundle.main_module, n)):
        parts.append((name, (name, bundle.modules[name], bundle.content_type(name))))
    return parts


def _configured(env: Any) -> tuple[str, str]:
    token = getattr(env, "CLOUDFLARE_API_TOKEN", None) or ""
    account = getattr(env, "CLOUDFLARE_ACCOUNT_ID", None) or ""
    if not token:
        raise CloudflareError(None, "deploy is not configured: the secret CLOUDFLARE_API_TOKEN is not set")
    if not account:
        raise CloudflareError(None, "deploy is not configured: the var CLOUDFLARE_ACCOUNT_ID is not set")
    return token, account


def scrub(text: str, token: str) -> str:
    return text.replace(token, "[redacted]") if token else text


async def upload(env: Any, environment: str, service: str, bundle: Bundle) -> dict[str, Any]:
    """Upload `bundle` as script `service` in `dotdo-<environment>`; Cloudflare's `result`, or CloudflareError."""
    import httpx  # only an upload needs it (not /health, not a listing): kept out of the start-up snapshot

    token, _ = _configured(env)
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.put(
                script_url(env, environment, service),
                headers={"authorization": f"Bearer {token}"},
                files=multipart_files(bundle, service, environment),
            )
    except httpx.HTTPError as exc:
        raise CloudflareError(None, f"Cloudflare's API could not be reached ({type(exc).__name__})") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        status = response.status_code
        raise CloudflareError(None, f"Cloudflare's API answered HTTP {status} without JSON", status)
    if response.is_success and body.get("success") is True:
        result = body.get("result")
        return result if isinstance(result, dict) else {}
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    code = first.get("code") if isinstance(first.get("code"), int) else None
    message = str(first.get("message") or f"Cloudflare's API answered HTTP {response.status_code}")
    raise CloudflareError(code, scrub(message, token)[:2000], response.status_code)
