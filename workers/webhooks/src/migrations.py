"""webhooks' schema in its own D1 (`WEBHOOKS_DB`), as numbered migrations applied on first use.

Never edit a migration that has shipped: add the next one. `tables.py` declares the tables (a test holds the
two together). Version 1: events, unique per (provider, event id), so a provider's retry finds the event it
delivered before; the effect tables, each unique on the provider's own id so applying an event twice
changes nothing.
"""

from shared.migrations import Migration

INITIAL = (
    """CREATE TABLE events (
        id TEXT PRIMARY KEY, provider TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,
        status TEXT NOT NULL, payload TEXT, source TEXT, request_id TEXT, deliveries INTEGER NOT NULL DEFAULT 1,
        attempts INTEGER NOT NULL DEFAULT 0, lease_until TEXT, result TEXT, error TEXT, processed_at TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX events_provider_event ON events (provider, event_id)",
    "CREATE INDEX events_status ON events (status, created_at)",
    "CREATE INDEX events_type ON events (provider, type, created_at)",
    """CREATE TABLE billing_records (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, stripe_id TEXT NOT NULL, status TEXT NOT NULL, customer TEXT,
        amount INTEGER, currency TEXT, detail TEXT, event_id TEXT, event_created INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX billing_records_stripe ON billing_records (kind, stripe_id)",
    """CREATE TABLE github_events (
        id TEXT PRIMARY KEY, delivery_id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, action TEXT, repository TEXT,
        ref TEXT, sha TEXT, sender TEXT, number INTEGER, title TEXT, deploy_relevant INTEGER,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX github_events_repository ON github_events (repository, event, created_at)",
    """CREATE TABLE directory_objects (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, workos_id TEXT NOT NULL, directory_id TEXT, organization_id TEXT,
        name TEXT, state TEXT NOT NULL, event_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX directory_objects_workos ON directory_objects (kind, workos_id)",
)

MIGRATIONS: list[Migration] = [Migration(1, "events_and_effects", INITIAL)]

LATEST = MIGRATIONS[-1].version
