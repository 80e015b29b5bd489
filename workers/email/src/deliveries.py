"""Delivery events from the provider (Resend's webhooks, verified and handed over by the webhooks service):

    await apply(env, principal, "email.bounced", provider_id, "2026-12-01T10:00:00.000Z")

Each event is kept once per (email, type, time): a provider's retry changes nothing a second time. A send's
status moves only forward (`EVENT_RANK`): a `delivered` that arrives after a `bounced` does not undo the bounce, and a
late `email.sent` does not hide a delivery. `email.opened` and `email.clicked` stamp `opened_at` / `clicked_at`
(the first time) and leave the status. `email.bounced` and `email.complained` put the recipients on the
suppression list (`bounced`, `complained`), as does `email.suppressed` (Resend's own list: `provider`). Events
of other types (`email.scheduled`, `email.received`, domain and contact events) are acknowledged, not applied.
An event naming a provider id no send here has is answered `applied: false` (another sender on the account).
"""

from __future__ import annotations

from typing import Any

import store

#: Resend's email event types (resend.com/docs/webhooks/event-types) -> the status each gives a send.
STATUS_OF = {
    "email.sent": "sent",
    "email.delivery_delayed": "delivery_delayed",
    "email.delivered": "delivered",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.failed": "failed",
    "email.suppressed": "suppressed",
}
#: Events that stamp a time and leave the status.
STAMPS = {"email.opened": "opened_at", "email.clicked": "clicked_at"}
#: Events that suppress the send's recipients, and the reason they are recorded with.
SUPPRESS = {"email.bounced": "bounced", "email.complained": "complained", "email.suppressed": "provider"}
EVENT_TYPES = (*STATUS_OF, *STAMPS)
#: How far along a send is: a status given by an event only gives way to an event ranked higher (a repeated
#: `delivery_delayed` refreshes `last_event_at`). Before any event: `sending` 0, `failed` 1 (the provider
#: refused it), `sent` 2 (the provider took it).
EVENT_RANK = {
    "email.sent": 2,
    "email.delivery_delayed": 3,
    "email.delivered": 4,
    "email.failed": 5,
    "email.suppressed": 5,
    "email.bounced": 5,
    "email.complained": 6,
}
STATUS_RANK = {"sending": 0, "failed": 1, "sent": 2}


async def apply(
    env: Any, principal: dict[str, Any], type: str, provider_id: str, occurred_at: str, *, provider: str = "resend"
) -> dict[str, Any]:
    """Apply one delivery event to the send it names; what it did."""
    answer: dict[str, Any] = {"type": type, "provider_id": provider_id, "applied": False}
    if type not in EVENT_TYPES:
        return answer | {"reason": "not a delivery event of a send"}
    email = await store.find_by_provider_id(env, provider, provider_id)
    if email is None:
        return answer | {"reason": "no send here has this provider id"}
    answer["email_id"] = email["id"]
    if not await store.record_event(env, email["id"], provider_id, type, occurred_at, principal["id"]):
        return answer | {"duplicate": True, "status": email["status"]}
    values: dict[str, Any] = {}
    if type in STAMPS:
        if email.get(STAMPS[type]) is None:
            values[STAMPS[type]] = occurred_at
    else:
        status = STATUS_OF[type]
        last = email.get("last_event")
        current = EVENT_RANK[last] if last in EVENT_RANK else STATUS_RANK.get(email["status"], 0)
        if EVENT_RANK[type] > current or (type == last == "email.delivery_delayed"):
            values |= {"status": status, "last_event": type, "last_event_at": occurred_at}
        if status == "delivered" and email.get("delivered_at") is None:
            values["delivered_at"] = occurred_at
    if values:
        email = await store.update_email(env, email["id"], values) or email
    suppressed = []
    if type in SUPPRESS:
        for address in email["recipients"]:
            row, new = await store.suppress(env, address, SUPPRESS[type], email_id=email["id"], actor=principal["id"])
            if new:
                suppressed.append(row["address"])
    return answer | {"applied": True, "duplicate": False, "status": email["status"], "suppressed": suppressed}
