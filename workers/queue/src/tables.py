"""queue's record tables, declared column by column (the types: `shared.records`).

`jobs`: every job enqueued, its status and outcome. `dead_letters`: every message that could not be
processed (invalid, refused for good, or out of retries), with the reason. `migrations.py` makes both
in queue's own D1 (a test holds the declaration and the migration together).
"""

from __future__ import annotations

from shared.records import Table, table, tables

#: A job's life: `queued` (waiting, perhaps delayed) -> `running` (claimed by a consumer) -> `done`; a try
#: that failed and will be tried again: `retrying`; dead-lettered: `dead` (then `queued` again when replayed,
#: or `discarded`).
STATUSES = ("queued", "running", "retrying", "done", "dead", "discarded")
#: Statuses a delivery may claim the job from (a `running` job is claimed again only once its lease ran out).
CLAIMABLE = ("queued", "retrying")
#: Statuses after which a delivery of the job's message is acknowledged without running anything.
SETTLED = ("done", "dead", "discarded")
#: A dead letter: kept (`dead`), re-enqueued (`replayed`) or given up on (`discarded`).
DEAD_LETTER_STATUSES = ("dead", "replayed", "discarded")

TABLES: dict[str, Table] = tables(
    table(
        "jobs",
        "job",
        "type payload status attempts delay_seconds request_hash",
        type="text",
        payload="json",
        status="text",
        idempotency_key="text",
        request_hash="text",
        created_by="text",
        request_id="text",
        attempts="integer",
        delay_seconds="integer",
        run_after="timestamp",
        lease_until="timestamp",
        result="json",
        error_code="text",
        last_error="text",
        completed_at="timestamp",
        dead_letter_id="text",
    ),
    table(
        "dead_letters",
        "dl",
        "message_id reason status attempts",
        message_id="text",
        job_id="text",
        type="text",
        body="json",
        reason="text",
        error="text",
        attempts="integer",
        status="text",
        resolved_by="text",
        resolved_at="timestamp",
    ),
)
