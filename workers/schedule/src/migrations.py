"""schedule's schema in its own D1 (`SCHEDULE_DB`), as numbered migrations applied on first use.

Never edit a migration that has shipped: add the next one. Version 1:

- `runs`: one row per task run (a cron's or an admin's): its trigger, status, attempts, error or
  skip reason, result, who asked, start, end and duration. Listed newest first by rowid.
- `task_settings`: a task's switch (enabled or not) and who set it last; a task without a row is enabled.
- `leases`: which run holds a task now, until when. A run takes the lease before it starts and gives it
  back when it ends; a crashed run's lease expires, so it never blocks the task for longer than that.
"""

from shared.migrations import Migration

SCHEDULE = (
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY, task TEXT NOT NULL, trigger TEXT NOT NULL, cron TEXT, status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, error TEXT, reason TEXT, result TEXT, actor TEXT,
        started_at TEXT NOT NULL, finished_at TEXT, duration_ms INTEGER
    )""",
    "CREATE INDEX runs_task ON runs (task, started_at)",
    "CREATE INDEX runs_started ON runs (started_at)",
    """CREATE TABLE task_settings (
        name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT
    )""",
    "CREATE TABLE leases (task TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at TEXT NOT NULL)",
)

MIGRATIONS: list[Migration] = [Migration(1, "runs, task settings, leases", SCHEDULE)]

LATEST = MIGRATIONS[-1].version
