"""The job types, each declared once: its name, the pydantic model of its payload, and its handler.

    @JOB_TYPES.job("webhook-delivery", WebhookDelivery)
    async def deliver_webhook(run: Run) -> dict: ...          # the result recorded on the job

The producer (`POST /jobs`) validates a payload against the model before anything is recorded; the
consumer validates every message against it again (a message that fails goes to the dead letters with
the fields in error, never into a retry loop). A handler returns the job's result, or raises:
- `JobFailed(code, message, retryable=False)`: it can never succeed as it is (a refused URL, no email
  service bound): dead-lettered at once, with the reason;
- `JobFailed(..., retryable=True)` or any other exception: tried again with exponential backoff, and
  dead-lettered after the queue's `max_retries` with the last error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import delivery
from shared.errors import from_rpc_exception
from shared.principals import service_principal

_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,63}$")
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # no control characters but tab and line breaks
_LINE = r"^[^\x00-\x1f\x7f]*$"  # one line: no control characters at all (headers)
_EVENT = r"^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*$"
MAX_WEBHOOK_BYTES = 64 * 1024


class JobFailed(Exception):
    """A handler's failure with a code; `retryable=False` dead-letters the job at once."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass
class Run:
    """One run of a job: the worker's `env`, the job record, its validated payload, and the time (unix s)."""

    env: Any
    job: dict[str, Any]
    payload: BaseModel
    now: float


Handler = Callable[[Run], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class JobType:
    name: str
    model: type[BaseModel]
    handler: Handler
    description: str


class JobTypes:
    """The registry of job types (one per worker; tests may add their own)."""

    def __init__(self) -> None:
        self._types: dict[str, JobType] = {}

    def job(self, name: str, model: type[BaseModel]) -> Callable[[Handler], Handler]:
        """Declare job type `name` (lower-case, hyphens) with its payload model; the handler's docstring says what
        it does."""
        if not re.fullmatch(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", name) or len(name) > 64:
            raise ValueError(f"job type {name!r}: lower-case words joined by hyphens, e.g. send-email")
        if name in self._types:
            raise ValueError(f"job type {name!r} is declared twice")

        def decorator(handler: Handler) -> Handler:
            self._types[name] = JobType(name, model, handler, (handler.__doc__ or name).strip().splitlines()[0])
            return handler

        return decorator

    def remove(self, name: str) -> None:
        self._types.pop(name, None)

    def get(self, name: Any) -> JobType | None:
        return self._types.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        return sorted(self._types)

    def describe(self) -> list[dict[str, Any]]:
        """Each type's name, description and payload JSON schema (`GET /job-types`)."""
        return [
            {"type": t.name, "description": t.description, "payload": t.model.model_json_schema()}
            for t in sorted(self._types.values(), key=lambda t: t.name)
        ]


JOB_TYPES = JobTypes()


# -- payloads --------------------------------------------------------------------------------------------


def _emails(values: list[str]) -> list[str]:
    for value in values:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not an email address")
    return values


class SendEmail(BaseModel):
    """An email: recipients, subject, and a text and/or HTML body."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1, max_length=50, description="Recipients' addresses")
    subject: str = Field(min_length=1, max_length=300, pattern=_LINE)
    text: str | None = Field(default=None, max_length=100_000, pattern=_TEXT)
    html: str | None = Field(default=None, max_length=200_000)
    reply_to: str | None = Field(default=None, max_length=320)

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return _emails(value)

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        return value if value is None else _emails([value])[0]

    @model_validator(mode="after")
    def _a_body(self) -> SendEmail:
        if not self.text and not self.html:
            raise ValueError("give text, html or both")
        return self


class WebhookDelivery(BaseModel):
    """A webhook: the https URL it is posted to, the event name, and the event's data (any JSON)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="https URL the event is posted to")
    event: str = Field(min_length=1, max_length=100, pattern=_EVENT, description="e.g. order.paid")
    data: Any = Field(default=None, description="The event's data: posted as the body's `data`")

    @field_validator("data")
    @classmethod
    def _small(cls, value: Any) -> Any:
        if len(json.dumps(value, separators=(",", ":"), default=str)) > MAX_WEBHOOK_BYTES:
            raise ValueError(f"data is larger than {MAX_WEBHOOK_BYTES} bytes as JSON")
        return value


class DeployNotify(BaseModel):
    """A deployment's outcome, mailed to the people who follow the service."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
    environment: Literal["production", "staging", "development"]
    status: Literal["uploaded", "failed", "rolled_back"]
    deployment_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    version: str | None = Field(default=None, max_length=100, pattern=_LINE)
    actor: str | None = Field(default=None, max_length=200, pattern=_LINE)
    to: list[str] = Field(min_length=1, max_length=50)

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return _emails(value)


# -- handlers ----------------------------------------------------------------------------------------------


async def send_through_email_service(env: Any, message: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
    """Hand an email to the email service (`EMAIL_SERVICE.send(principal, message)`); its answer.

    wrangler.jsonc binds it; a deployment without the binding fails the job for good (recorded, not retried:
    replay it once the service is bound). Its 4xx answers are final, anything else is retried.
    """
    service = getattr(env, "EMAIL_SERVICE", None)
    if service is None:
        raise JobFailed(
            "EMAIL_SERVICE_UNAVAILABLE",
            "No email service is bound (EMAIL_SERVICE): the email was not sent. Replay the job once it is.",
        )
    principal = service_principal("queue", permissions=("email:send",))
    try:
        answer = await service.send(principal, message | {"idempotency_key": idempotency_key})
    except Exception as exc:
        error = from_rpc_exception(exc, service="email")
        retryable = error.status >= 500 or error.status == 429
        raise JobFailed(error.code, f"email: {error.message}", retryable=retryable) from None
    return answer.to_py() if hasattr(answer, "to_py") else dict(answer or {})


@JOB_TYPES.job("send-email", SendEmail)
async def send_email(run: Run) -> dict[str, Any]:
    """Send an email through the email service."""
    payload = run.payload.model_dump(exclude_none=True)
    sent = await send_through_email_service(run.env, payload, idempotency_key=run.job["id"])
    return {"email": sent}


@JOB_TYPES.job("deploy-notify", DeployNotify)
async def deploy_notify(run: Run) -> dict[str, Any]:
    """Mail a deployment's outcome to the people who follow the service."""
    p: DeployNotify = run.payload  # type: ignore[assignment]
    subject = f"[{p.environment}] {p.service}: deployment {p.status.replace('_', ' ')}"
    lines = [
        f"Service: {p.service}",
        f"Environment: {p.environment}",
        f"Status: {p.status}",
        f"Deployment: {p.deployment_id}",
        *([f"Version: {p.version}"] if p.version else []),
        *([f"By: {p.actor}"] if p.actor else []),
    ]
    message = {"to": p.to, "subject": subject, "text": "\n".join(lines) + "\n"}
    sent = await send_through_email_service(run.env, message, idempotency_key=run.job["id"])
    return {"email": sent}


@JOB_TYPES.job("webhook-delivery", WebhookDelivery)
async def deliver_webhook(run: Run) -> dict[str, Any]:
    """Post a signed event to an external https URL (after the SSRF guard, redirects checked at every hop)."""
    p: WebhookDelivery = run.payload  # type: ignore[assignment]
    body = {"id": run.job["id"], "event": p.event, "created_at": run.job["created_at"], "data": p.data}
    data = json.dumps(body, separators=(",", ":"), default=str).encode()
    try:
        return await delivery.deliver(run.env, p.url, data, delivery_id=run.job["id"], event=p.event, now=run.now)
    except delivery.DeliveryError as exc:
        raise JobFailed(exc.code, exc.message, retryable=exc.retryable) from None
