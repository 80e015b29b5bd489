"""email's schema in its own D1 (`EMAIL_DB`), as numbered migrations applied on first use.

Never edit a migration that has shipped: add the next one. `tables.py` declares the tables (a test holds the
two together). Version 1: emails, one per (caller, idempotency key) and one per provider id; suppressions, one
per address (stored lower-case); delivery events, one per (email, type, time): a provider's retry is one event.
"""

from shared.migrations import Migration

SCHEMA = (
    """CREATE TABLE emails (
        id TEXT PRIMARY KEY, provider TEXT NOT NULL, provider_id TEXT, status TEXT NOT NULL, template TEXT,
        recipients TEXT NOT NULL, subject TEXT NOT NULL, sender TEXT, created_by TEXT, idempotency_key TEXT,
        request_hash TEXT NOT NULL, request_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, error_code TEXT,
        error TEXT, sent_at TEXT, delivered_at TEXT, opened_at TEXT, clicked_at TEXT, last_event TEXT,
        last_event_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX emails_idempotency ON emails (coalesce(created_by, ''), idempotency_key) "
    "WHERE idempotency_key IS NOT NULL",
    "CREATE UNIQUE INDEX emails_provider_id ON emails (provider, provider_id) WHERE provider_id IS NOT NULL",
    "CREATE INDEX emails_status ON emails (status)",
    "CREATE INDEX emails_owner ON emails (created_by, created_at)",
    """CREATE TABLE suppressions (
        id TEXT PRIMARY KEY, address TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, email_id TEXT, note TEXT,
        created_by TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE email_events (
        id TEXT PRIMARY KEY, email_id TEXT NOT NULL, provider_id TEXT, type TEXT NOT NULL,
        occurred_at TEXT NOT NULL, applied_by TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        UNIQUE (email_id, type, occurred_at)
    )""",
)

MIGRATIONS: list[Migration] = [Migration(1, "emails_suppressions_events", SCHEMA)]

LATEST = MIGRATIONS[-1].version
