"""What each of the 28 event types does (the README's table lists them). Each handler gets the verified payload
and answers a small result (kept with the event); an exception fails the try and the event stays retryable.

Every effect may be applied twice without changing anything (the event is marked `done` only after its
handler returned, so a crash in between runs it again): billing records are keyed by Stripe's object id and
keep the newest state, GitHub records by delivery id, directory objects by WorkOS id; auth's
`apply_directory_event` sets a user's state rather than toggling it, and email's `apply_delivery_event` is
keyed by the provider's id and the event type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import store
from shared.principals import service_principal
from shared.rpc import call

#: Who webhooks acts as when it calls other services: auth:webhooks (directory events), email:events.
PRINCIPAL = service_principal("webhooks", permissions=("auth:webhooks", "email:events"))

Handler = Callable[[Any, "Event"], Awaitable[dict[str, Any]]]
HANDLERS: dict[tuple[str, str], Handler] = {}


@dataclass(frozen=True)
class Event:
    """One recorded event being processed: its row's id, provider, type, the provider's event id, the payload, and
    when it was received here (its row's `created_at`: the first delivery)."""

    id: str
    provider: str
    type: str
    event_id: str
    payload: Any
    received_at: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        data = self.payload.get("data") if isinstance(self.payload, dict) else None
        return data if isinstance(data, dict) else {}


class HandlerError(Exception):
    """A try that failed for a reason worth recording as it is (a missing binding, a refused call)."""


def handles(provider: str, *types: str) -> Callable[[Handler], Handler]:
    def decorator(fn: Handler) -> Handler:
        for kind in types:
            HANDLERS[(provider, kind)] = fn
        return fn

    return decorator


def known(provider: str, kind: str) -> bool:
    return (provider, kind) in HANDLERS


def _text(value: Any, limit: int = 500) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- Stripe: billing records ------------------------------------------------------------------------------------

_STRIPE_STATUS = {
    "payment_intent.succeeded": ("payment", "succeeded"),
    "payment_intent.payment_failed": ("payment", "failed"),
    "customer.subscription.created": ("subscription", None),  # the subscription's own status
    "customer.subscription.updated": ("subscription", None),
    "customer.subscription.deleted": ("subscription", "canceled"),
    "invoice.payment_succeeded": ("invoice", "paid"),
    "invoice.payment_failed": ("invoice", "payment_failed"),
}


@handles("stripe", *_STRIPE_STATUS)
async def stripe_billing(env: Any, event: Event) -> dict[str, Any]:
    """The payment intent, subscription or invoice in the event, upserted into `billing_records`."""
    obj = event.data.get("object")
    if not isinstance(obj, dict) or not _text(obj.get("id")):
        raise HandlerError("the event carries no data.object with an id")
    kind, status = _STRIPE_STATUS[event.type]
    amount = obj.get("amount") if kind == "payment" else obj.get("amount_paid" if status == "paid" else "amount_due")
    detail: dict[str, Any] = {}
    if kind == "payment" and isinstance(obj.get("last_payment_error"), dict):
        detail["error"] = _text(obj["last_payment_error"].get("message"))
    if kind == "subscription":
        detail |= {k: obj.get(k) for k in ("current_period_end", "cancel_at_period_end") if k in obj}
    if kind == "invoice":
        detail |= {k: _text(obj.get(k)) for k in ("subscription", "number", "hosted_invoice_url") if obj.get(k)}
    customer = obj.get("customer")
    record = await store.upsert_billing(
        env,
        {
            "kind": kind,
            "stripe_id": obj["id"][:255],
            "status": status or _text(obj.get("status"), 64) or "unknown",
            "customer": _text(customer if isinstance(customer, str) else (customer or {}).get("id"), 255),
            "amount": _int(amount),
            "currency": _text(obj.get("currency"), 8),
            "detail": detail,
            "event_id": event.event_id,
            "event_created": _int(event.payload.get("created")),
        },
    )
    return {"billing_record": record["id"], "kind": kind, "status": record["status"]}


# -- WorkOS: directory sync -> auth's users and organisations, directories and groups here ---------------------


async def _auth(env: Any, action: str, values: dict[str, Any]) -> dict[str, Any]:
    auth = getattr(env, "AUTH_SERVICE", None)
    if auth is None:
        raise HandlerError("AUTH_SERVICE is not bound")
    result = await call(auth.apply_directory_event, PRINCIPAL, {"action": action, **values}, service="auth")
    return result.to_py() if hasattr(result, "to_py") else dict(result)


def _primary_email(data: dict[str, Any]) -> str | None:
    emails = data.get("emails")
    if isinstance(emails, list):
        dicts = [e for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)]
        primary = next((e for e in dicts if e.get("primary")), dicts[0] if dicts else None)
        if primary:
            return primary["value"]
    return _text(data.get("email"), 254)


@handles("workos", "dsync.activated", "dsync.deleted")
async def workos_directory(env: Any, event: Event) -> dict[str, Any]:
    """A directory connected (its organisation made in auth) or deleted; kept in `directory_objects`."""
    data = event.data
    if not _text(data.get("id")):
        raise HandlerError("the event's data has no directory id")
    org = _text(data.get("organization_id"), 128)
    result: dict[str, Any] = {}
    if event.type == "dsync.activated" and org:
        result["organization"] = (await _auth(env, "organization.upsert", {"workos_org_id": org}))["id"]
    state = "active" if event.type == "dsync.activated" else "deleted"
    values = {"kind": "directory", "workos_id": data["id"][:128], "directory_id": data["id"][:128], "state": state}
    record = await store.upsert_directory(env, values | {"organization_id": org, "name": _text(data.get("name"))})
    return result | {"directory_object": record["id"], "state": state}


@handles("workos", "dsync.user.created", "dsync.user.updated", "dsync.user.deleted")
async def workos_user(env: Any, event: Event) -> dict[str, Any]:
    """A directory user made or updated in auth (by WorkOS id, else email), disabled when deleted or inactive."""
    data = event.data
    workos_id = _text(data.get("id"), 128)
    if not workos_id:
        raise HandlerError("the event's data has no user id")
    if event.type == "dsync.user.deleted":
        user = await _auth(env, "user.deactivate", {"workos_user_id": workos_id})
        return {"user": user.get("id"), "active": False}
    name = " ".join(p for p in (data.get("first_name"), data.get("last_name")) if isinstance(p, str) and p)
    values = {
        "workos_user_id": workos_id,
        "email": _primary_email(data),
        "name": name[:100] or None,
        "workos_org_id": _text(data.get("organization_id"), 128),
        "active": data.get("state", "active") == "active",
    }
    user = await _auth(env, "user.upsert", values)
    return {"user": user.get("id"), "active": values["active"]}


@handles("workos", "dsync.group.created", "dsync.group.updated", "dsync.group.deleted")
async def workos_group(env: Any, event: Event) -> dict[str, Any]:
    """A directory group kept in `directory_objects` (auth has no groups; its state says whether it was deleted)."""
    data = event.data
    if not _text(data.get("id")):
        raise HandlerError("the event's data has no group id")
    values = {
        "kind": "group",
        "workos_id": data["id"][:128],
        "directory_id": _text(data.get("directory_id"), 128),
        "organization_id": _text(data.get("organization_id"), 128),
        "name": _text(data.get("name")),
        "state": "deleted" if event.type == "dsync.group.deleted" else "active",
    }
    record = await store.upsert_directory(env, values | {"event_id": event.event_id})
    return {"directory_object": record["id"], "state": values["state"]}


# -- GitHub: recorded deliveries ------------------------------------------------------------------------------


@handles("github", "push", "pull_request", "issues", "release")
async def github_event(env: Any, event: Event) -> dict[str, Any]:
    """The delivery recorded in `github_events`; a push to the default branch or a published release is
    marked `deploy_relevant` (what a deploy trigger would look at)."""
    p = event.payload if isinstance(event.payload, dict) else {}
    repository = p.get("repository") if isinstance(p.get("repository"), dict) else {}
    sender = p.get("sender") if isinstance(p.get("sender"), dict) else {}
    item = p.get({"pull_request": "pull_request", "issues": "issue", "release": "release"}.get(event.type, ""))
    item = item if isinstance(item, dict) else {}
    ref = _text(p.get("ref"), 255)
    action = _text(p.get("action"), 64)
    relevant = (event.type == "push" and ref == f"refs/heads/{repository.get('default_branch')}") or (
        event.type == "release" and action == "published"
    )
    values = {
        "delivery_id": event.event_id,
        "event": event.type,
        "action": action,
        "repository": _text(repository.get("full_name"), 255),
        "ref": ref or _text(item.get("tag_name"), 255),
        "sha": _text(p.get("after"), 64) or _text((item.get("head") or {}).get("sha"), 64),
        "sender": _text(sender.get("login"), 64),
        "number": _int(item.get("number")),
        "title": _text(item.get("title") or item.get("name")),
        "deploy_relevant": bool(relevant),
    }
    record = await store.record_github(env, values)
    return {"github_event": record["id"], "deploy_relevant": record["deploy_relevant"]}


# -- Resend: the email log of the email service -----------------------------------------------------------------


#: Resend's delivery events, each applied by the email service to the send it names.
RESEND_DELIVERY = (
    "email.sent",
    "email.delivered",
    "email.delivery_delayed",
    "email.opened",
    "email.clicked",
    "email.bounced",
    "email.complained",
    "email.failed",
    "email.suppressed",
)


@handles("resend", *RESEND_DELIVERY)
async def resend_delivery(env: Any, event: Event) -> dict[str, Any]:
    """The email's record in the email service updated (`apply_delivery_event`, permission email:events). A
    payload without `created_at` is applied at the time the event was received here (email requires a time)."""
    email = getattr(env, "EMAIL_SERVICE", None)
    if email is None:
        raise HandlerError("EMAIL_SERVICE is not bound: the email service is not deployed here")
    provider_id = _text(event.data.get("email_id"), 255)
    if not provider_id:
        raise HandlerError("the event's data has no email_id")
    created = _text(event.payload.get("created_at"), 64) if isinstance(event.payload, dict) else None
    created = created or event.received_at
    if not created:
        raise HandlerError("the event has no created_at and no time it was received")
    args = {"provider_id": provider_id, "type": event.type, "created_at": created}
    result = await call(email.apply_delivery_event, PRINCIPAL, args, service="email")
    result = result.to_py() if hasattr(result, "to_py") else result
    return {"email": result if isinstance(result, dict) else {"value": result}}
