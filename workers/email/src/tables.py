"""email's record tables, declared column by column (the types: `shared.records`).

`emails`: every send, its status and what the provider said of it. `suppressions`: addresses never mailed
(bounced, complained, unsubscribed, added by an admin). `email_events`: each delivery event applied, once.
`migrations.py` makes them in email's own D1 (a test holds the declaration and the migration together).
"""

from __future__ import annotations

from shared.records import Table, table, tables

#: A send's life: `sending` (recorded, the provider being asked) -> `sent` (the provider took it) or `failed`
#: (refused or unreachable: a retry with the same idempotency key tries again); then the provider's delivery
#: events: `delivery_delayed`, `delivered`, `bounced`, `complained`, `suppressed` (by the provider).
STATUSES = ("sending", "sent", "failed", "delivery_delayed", "delivered", "bounced", "complained", "suppressed")
#: Why an address is suppressed.
REASONS = ("bounced", "complained", "unsubscribed", "manual", "provider")

TABLES: dict[str, Table] = tables(
    table(
        "emails",
        "em",
        "provider status recipients subject request_hash",
        provider="text",
        provider_id="text",
        status="text",
        template="text",
        recipients="json",
        subject="text",
        sender="text",
        created_by="text",
        idempotency_key="text",
        request_hash="text",
        request_id="text",
        attempts="integer",
        error_code="text",
        error="text",
        sent_at="timestamp",
        delivered_at="timestamp",
        opened_at="timestamp",
        clicked_at="timestamp",
        last_event="text",
        last_event_at="timestamp",
    ),
    table(
        "suppressions",
        "sup",
        "address reason",
        address="text",
        reason="text",
        email_id="text",
        note="text",
        created_by="text",
    ),
    table(
        "email_events",
        "eve",
        "email_id type occurred_at",
        email_id="text",
        provider_id="text",
        type="text",
        occurred_at="timestamp",
        applied_by="text",
    ),
)
