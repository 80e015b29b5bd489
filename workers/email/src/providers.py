"""The provider interface, and Resend over httpx.

    provider = provider_for(env)                       # EMAIL_PROVIDER ("resend"), configured from env
    accepted = await provider.send(Outgoing(...), idempotency_key="svc_queue/job_1")
    accepted.provider_id                               # the provider's id of the email (delivery events name it)

A provider is any object with a `name` and `async send(message, *, idempotency_key) -> Accepted` that raises
`ProviderError` when the email was not accepted: `PROVIDERS` maps each `EMAIL_PROVIDER` value to a factory
`(env) -> Provider`, so another provider (SES, Postmark, a log-only one) is one class and one entry here.

Resend (resend.com/docs/api-reference/emails/send-email): `POST {RESEND_API_URL}/emails` with
`Authorization: Bearer RESEND_API_KEY`, JSON `{from, to: [...], subject, html, text, reply_to?, tags?}` and an
`Idempotency-Key` header (Resend keeps it 24 hours: a retry after a lost answer is not a second email); 200
`{"id": "<uuid>"}`. Errors are `{"statusCode", "name", "message"}` (resend.com/docs/api-reference/errors),
mapped to ours below, never a 500: the key refused (401, or 403 `*_api_key`) is 502 PROVIDER_AUTH_FAILED (our
configuration, not the caller's fault); another 403 (an unverified sending domain) 502 PROVIDER_FORBIDDEN;
400/422 (`validation_error`) is 422 PROVIDER_REJECTED with Resend's message; 409 (the idempotency key reused
with another body, or in flight) is 409 PROVIDER_IDEMPOTENCY_CONFLICT; 429 (`rate_limit_exceeded`,
`daily_quota_exceeded`) is 429 PROVIDER_RATE_LIMITED; 5xx, an unreadable answer, a timeout or no connection is
502 PROVIDER_UNAVAILABLE. The queue service retries 429 and 5xx and gives up on the other 4xx. The API key is
never in a message or a log.

On Cloudflare `httpx.AsyncClient` sends with JavaScript `fetch` (workerd patches httpx; a `transport=` would do
nothing there), so the client below is a plain AsyncClient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from shared.errors import AppError, ServiceUnavailable

RESEND_API_URL = "https://api.resend.com"
TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Outgoing:
    """One email as a provider sends it."""

    sender: str
    to: list[str]
    subject: str
    html: str | None = None
    text: str | None = None
    reply_to: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    """The provider took the email: its id there."""

    provider_id: str


class ProviderError(AppError):
    """The provider did not accept the email; `retryable` when the same request may succeed later."""

    status, code = 502, "PROVIDER_UNAVAILABLE"

    def __init__(self, message: str, *, code: str, status: int, provider: str, upstream: Any = None) -> None:
        super().__init__(message, code=code, status=status, details={"provider": provider, "upstream": upstream})

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


class Provider(Protocol):
    name: str

    async def send(self, message: Outgoing, *, idempotency_key: str | None = None) -> Accepted: ...


class Resend:
    """Resend's send-email API."""

    name = "resend"

    def __init__(self, api_key: str, base_url: str = RESEND_API_URL, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_env(cls, env: Any) -> Resend:
        key = getattr(env, "RESEND_API_KEY", None)
        if not key:
            raise ServiceUnavailable(
                "No email provider is configured (RESEND_API_KEY is not set): nothing was sent",
                code="EMAIL_NOT_CONFIGURED",
            )
        return cls(str(key), str(getattr(env, "RESEND_API_URL", None) or RESEND_API_URL))

    def body(self, message: Outgoing) -> dict[str, Any]:
        """The JSON Resend takes."""
        body: dict[str, Any] = {"from": message.sender, "to": list(message.to), "subject": message.subject}
        if message.html is not None:
            body["html"] = message.html
        if message.text is not None:
            body["text"] = message.text
        if message.reply_to:
            body["reply_to"] = message.reply_to
        if message.tags:
            body["tags"] = [{"name": k, "value": v} for k, v in message.tags.items()]
        return body

    async def send(self, message: Outgoing, *, idempotency_key: str | None = None) -> Accepted:
        headers = {"authorization": f"Bearer {self._api_key}", "content-type": "application/json"}
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key[:256]
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.post(f"{self.base_url}/emails", json=self.body(message), headers=headers)
        except httpx.TimeoutException:
            raise self._error("Resend did not answer in time", 502, "PROVIDER_UNAVAILABLE") from None
        except httpx.HTTPError as exc:
            said = f"Resend could not be reached ({type(exc).__name__})"
            raise self._error(said, 502, "PROVIDER_UNAVAILABLE") from None
        return self._accepted(reply)

    def _accepted(self, reply: httpx.Response) -> Accepted:
        try:
            data = reply.json()
        except ValueError:
            data = None
        if 200 <= reply.status_code < 300:
            if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
                return Accepted(data["id"])
            raise self._error("Resend accepted the email but its answer had no id", 502, "PROVIDER_UNAVAILABLE")
        name = data.get("name") if isinstance(data, dict) else None
        said = data.get("message") if isinstance(data, dict) else None
        said = self._scrub(str(said)[:500]) if said else f"HTTP {reply.status_code}"
        upstream = {"status": reply.status_code, "name": name if isinstance(name, str) else None}
        status = reply.status_code
        if status == 401 or (status == 403 and str(name).endswith("_api_key")):
            return self._raise(f"Resend refused the API key: {said}", 502, "PROVIDER_AUTH_FAILED", upstream)
        if status == 403:  # e.g. the sending domain is not verified there: our configuration, not the caller's
            return self._raise(f"Resend refused to send from here: {said}", 502, "PROVIDER_FORBIDDEN", upstream)
        if status == 409:
            return self._raise(f"Resend: {said}", 409, "PROVIDER_IDEMPOTENCY_CONFLICT", upstream)
        if status == 429:
            return self._raise(f"Resend's limit was reached: {said}", 429, "PROVIDER_RATE_LIMITED", upstream)
        if 400 <= status < 500:
            return self._raise(f"Resend refused the email: {said}", 422, "PROVIDER_REJECTED", upstream)
        return self._raise(f"Resend failed: {said}", 502, "PROVIDER_UNAVAILABLE", upstream)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[RESEND_API_KEY]") if self._api_key else text

    def _error(self, message: str, status: int, code: str, upstream: Any = None) -> ProviderError:
        return ProviderError(message, code=code, status=status, provider=self.name, upstream=upstream)

    def _raise(self, message: str, status: int, code: str, upstream: Any) -> Accepted:
        raise self._error(message, status, code, upstream)


#: EMAIL_PROVIDER -> a factory of the provider from the worker's env.
PROVIDERS: dict[str, Callable[[Any], Provider]] = {"resend": Resend.from_env}


def provider_for(env: Any) -> Provider:
    name = str(getattr(env, "EMAIL_PROVIDER", None) or "resend")
    factory = PROVIDERS.get(name)
    if factory is None:
        raise ServiceUnavailable(f"EMAIL_PROVIDER {name[:40]!r} is not a provider here", code="EMAIL_NOT_CONFIGURED")
    return factory(env)
