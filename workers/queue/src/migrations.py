"""queue's schema in its own D1 (`QUEUE_DB`), as numbered migrations applied on first use.

Never edit a migration that has shipped: add the next one. `tables.py` declares both tables (a test
holds the two together). Version 1: jobs, with one job per (caller, idempotency key), and dead letters,
one per queue message (a dead-letter queue may deliver a message twice: it is recorded once).
"""

from shared.migrations import Migration

JOBS = (
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
        idempotency_key TEXT, request_hash TEXT NOT NULL, created_by TEXT, request_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, delay_seconds INTEGER NOT NULL DEFAULT 0, run_after TEXT,
        lease_until TEXT, result TEXT, error_code TEXT, last_error TEXT, completed_at TEXT, dead_letter_id TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX jobs_idempotency ON jobs (coalesce(created_by, ''), idempotency_key) "
    "WHERE idempotency_key IS NOT NULL",
    "CREATE INDEX jobs_status ON jobs (status)",
    "CREATE INDEX jobs_owner ON jobs (created_by, status)",
    """CREATE TABLE dead_letters (
        id TEXT PRIMARY KEY, message_id TEXT NOT NULL UNIQUE, job_id TEXT, type TEXT, body TEXT,
        reason TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL,
        resolved_by TEXT, resolved_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX dead_letters_status ON dead_letters (status)",
)

MIGRATIONS: list[Migration] = [Migration(1, "jobs_and_dead_letters", JOBS)]

LATEST = MIGRATIONS[-1].version
