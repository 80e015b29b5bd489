"""webhooks' record tables, declared column by column (the types: `shared.records`).

`events`: every verified webhook, once per (provider, event id), with its processing status. The effects of
the events that have no other service to land in: `billing_records` (Stripe payments, subscriptions and
invoices), `github_events` (GitHub pushes, pull requests, issues and releases), `directory_objects` (WorkOS
directories and groups). `migrations.py` makes them in webhooks' own D1 (a test holds the two together).
"""

from __future__ import annotations

from shared.records import Table, table, tables

PROVIDERS = ("stripe", "workos", "github", "resend")
#: An event's life: `received` (recorded, its message sent) -> `processing` (claimed by one delivery) -> `done`;
#: a failed try: `failed` (retried by the queue, by the provider's retry, or replayed). `unhandled`: a type no
#: handler knows, stored and acknowledged, never processed (an admin may replay it once a handler exists).
STATUSES = ("received", "processing", "done", "failed", "unhandled")
#: Statuses a delivery may claim the event from.
CLAIMABLE = ("received", "failed")

TABLES: dict[str, Table] = tables(
    table(
        "events",
        "whe",
        "provider event_id type status",
        provider="text",
        event_id="text",
        type="text",
        status="text",
        payload="text",
        source="text",
        request_id="text",
        deliveries="integer",
        attempts="integer",
        lease_until="timestamp",
        result="json",
        error="text",
        processed_at="timestamp",
    ),
    table(
        "billing_records",
        "bil",
        "kind stripe_id status",
        kind="text",
        stripe_id="text",
        status="text",
        customer="text",
        amount="integer",
        currency="text",
        detail="json",
        event_id="text",
        event_created="integer",
    ),
    table(
        "github_events",
        "ghe",
        "delivery_id event",
        delivery_id="text",
        event="text",
        action="text",
        repository="text",
        ref="text",
        sha="text",
        sender="text",
        number="integer",
        title="text",
        deploy_relevant="boolean",
    ),
    table(
        "directory_objects",
        "dir",
        "kind workos_id state",
        kind="text",
        workos_id="text",
        directory_id="text",
        organization_id="text",
        name="text",
        state="text",
        event_id="text",
    ),
)
