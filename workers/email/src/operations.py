"""email's operations, each declared once: RPC, HTTP, MCP and OpenAPI follow.

Sending and previewing need `email:send`; a caller sees its own sends (every send with `email:admin`); the
suppression list needs `email:admin`; `apply_delivery_event` needs `email:events`, which the webhooks service's
principal holds. Another service sends over RPC with a principal of its own, as the queue's send-email job does:
`env.EMAIL_SERVICE.send(service_principal("queue", permissions=("email:send",)), {"to": [...], "subject": ...,
"text": ..., "idempotency_key": job_id})`, or with a template: `{"to": [...], "template": "welcome", "data": {...}}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

import addresses
import deliveries
import sending
import store
from email_templates import NAMES, TEMPLATES, render
from shared.clock import parse_iso, to_iso
from shared.errors import NotFound
from shared.permissions import allows
from shared.service import Call, NoInput, Service
from tables import REASONS, STATUSES

service = Service(
    "email",
    version="0.1.0",
    description="Transactional email: templates rendered safely, sent through Resend, recorded with delivery events.",
)

SEND = "email:send"
ADMIN = "email:admin"
EVENTS = "email:events"
MAX_RECIPIENTS = 50  # Resend's limit per email
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


def _address(value: str) -> str:
    return addresses.check(value)


#: A recipient: a bare address (`addresses.check`).
Address = Annotated[str, AfterValidator(_address)]


class SendInput(BaseModel):
    """An email: recipients, and either a template with its data or a subject with a text and/or HTML body."""

    model_config = ConfigDict(extra="forbid")

    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS, description="Recipients (bare addresses)")
    template: str | None = Field(default=None, description="A template's name (GET /templates)")
    data: dict[str, Any] | None = Field(default=None, description="The template's variables")
    subject: str | None = Field(default=None, min_length=1, max_length=300, pattern=_ONE_LINE)
    text: str | None = Field(default=None, max_length=100_000, pattern=_TEXT)
    html: str | None = Field(default=None, max_length=200_000, description="Sent as given: the caller's markup")
    reply_to: Address | None = None
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="The same key again (same request) answers the first send and sends nothing",
    )

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _a_body(self) -> SendInput:
        if self.template is not None:
            if self.subject is not None or self.text is not None or self.html is not None:
                raise ValueError("give a template with its data, or a subject with text/html, not both")
            if self.template not in TEMPLATES:
                raise ValueError(f"template must be one of {', '.join(NAMES)}")
        else:
            if self.data is not None:
                raise ValueError("data goes with a template")
            if not self.subject or not (self.text or self.html):
                raise ValueError("give a template, or a subject and text, html or both")
        return self


class PreviewInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)


class EmailId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=_ID)


class ListEmails(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    template: str | None = Field(default=None, max_length=64)
    created_by: str | None = Field(default=None, max_length=128, description="Whose sends (email:admin only)")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)


class DeliveryEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_id: str = Field(min_length=1, max_length=128, pattern=_ID, description="Resend's email id (data.email_id)")
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z]+(?:\.[a-z_]+)+$", description="e.g. email.bounced")
    created_at: str = Field(
        min_length=10, max_length=40, description="When the event happened (the event's created_at, with a zone)"
    )

    @field_validator("created_at")
    @classmethod
    def _moment(cls, value: str) -> str:
        try:
            return to_iso(parse_iso(value))  # one form, so events compare and dedupe as text
        except ValueError:
            raise ValueError("must be an ISO-8601 time with a zone, e.g. 2026-12-01T10:00:00.000Z") from None


class AddressInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=254)

    @field_validator("address")
    @classmethod
    def _valid(cls, value: str) -> str:
        return addresses.normalize(_address(value.strip()))


class SuppressInput(AddressInput):
    reason: Literal["manual", "unsubscribed"] = "manual"
    note: str | None = Field(default=None, max_length=500, pattern=_ONE_LINE)


class ListSuppressions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal[REASONS] | None = None  # type: ignore[valid-type]
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)


def _principal(call: Call) -> dict[str, Any]:
    assert call.principal is not None  # the kit lets no operation here run without one
    return call.principal


def _is_admin(call: Call) -> bool:
    return allows(_principal(call).get("permissions") or (), ADMIN)


def _page(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset, "has_more": offset + len(items) < total}


# -- sending ---------------------------------------------------------------------------------------------


@service.operation(
    http="POST /send",
    permission=SEND,
    tool="email_send",
    status=lambda sent: 200 if sent.get("duplicate") else 201,
)
async def send(call: Call, args: SendInput) -> dict:
    """Send an email (a template with its data, or a subject with text/html); recorded, idempotent with a key."""
    return await sending.send(call.env, _principal(call), args, request_id=call.request_id)


@service.operation(http="POST /preview", permission=SEND, tool="email_preview")
async def preview(call: Call, args: PreviewInput) -> dict:
    """Render a template with its data (subject, HTML, text) without sending anything."""
    return render(args.template, args.data).as_dict()


@service.operation(http="GET /templates", permission=SEND, tool="email_templates")
async def templates(call: Call, args: NoInput) -> dict:
    """The templates: name, description, required and optional variables (JSON schema)."""
    return {"templates": [t.describe() for t in TEMPLATES.values()]}


# -- the record ------------------------------------------------------------------------------------------


@service.operation(http="GET /emails/{id}", permission=SEND, tool="email_get")
async def get_email(call: Call, args: EmailId) -> dict:
    """One send: status, provider id, recipients and its delivery events (your own; any with email:admin)."""
    email = await store.get_email(call.env, args.id)
    if email is None or (email["created_by"] != _principal(call)["id"] and not _is_admin(call)):
        raise NotFound(f"No email {args.id}", code="NOT_FOUND")
    return store.public(email) | {"events": await store.events_of(call.env, args.id)}  # type: ignore[operator]


@service.operation(
    http="GET /emails", permission=SEND, tool="email_list", page=("total", "limit", "offset", "has_more")
)
async def list_emails(call: Call, args: ListEmails) -> dict:
    """Sends, newest first, filtered by status and template: yours, or anyone's with email:admin."""
    owner = args.created_by if _is_admin(call) else _principal(call)["id"]
    items, total = await store.list_emails(
        call.env, status=args.status, template=args.template, created_by=owner, limit=args.limit, offset=args.offset
    )
    return _page([store.public(e) for e in items], total, args.limit, args.offset)  # type: ignore[misc]


@service.operation(http="POST /events", permission=EVENTS)
async def apply_delivery_event(call: Call, args: DeliveryEvent) -> dict:
    """Apply one of Resend's delivery events (email.sent, .delivered, .delivery_delayed, .bounced, .complained,
    .opened, .clicked, .failed, .suppressed) to the send it names; each event once."""
    return await deliveries.apply(call.env, _principal(call), args.type, args.provider_id, args.created_at)


# -- suppressions ----------------------------------------------------------------------------------------


@service.operation(
    http="GET /suppressions",
    permission=ADMIN,
    tool="email_list_suppressions",
    page=("total", "limit", "offset", "has_more"),
)
async def list_suppressions(call: Call, args: ListSuppressions) -> dict:
    """Suppressed addresses, newest first (filter by reason: bounced, complained, unsubscribed, manual, provider)."""
    items, total = await store.list_suppressions(call.env, reason=args.reason, limit=args.limit, offset=args.offset)
    return _page(items, total, args.limit, args.offset)


@service.operation(
    http="POST /suppressions",
    permission=ADMIN,
    tool="email_suppress",
    status=lambda answer: 201 if answer.get("created") else 200,
)
async def suppress(call: Call, args: SuppressInput) -> dict:
    """Put an address on the suppression list (an unsubscribe, or by hand): no email is sent to it any more."""
    row, created = await store.suppress(call.env, args.address, args.reason, note=args.note, actor=call.actor)
    return row | {"created": created}


@service.operation(http="DELETE /suppressions/{address}", permission=ADMIN, tool="email_unsuppress")
async def unsuppress(call: Call, args: AddressInput) -> dict:
    """Take an address off the suppression list (after a bounce was fixed, or a person asked again)."""
    if not await store.unsuppress(call.env, args.address):
        raise NotFound(f"{args.address} is not suppressed", code="NOT_FOUND")
    return {"address": args.address, "removed": True}
