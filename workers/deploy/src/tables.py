"""deploy's record tables, declared column by column (the types: `shared.records`).

`deployments` is served through `shared.records`; the bundles themselves are kept in `bundle_chunks`
(not a record table: content-addressed base64 chunks, `store.py`). `migrations.py` makes both in
deploy's own D1 (a test holds the declaration and the migration together).
"""

from __future__ import annotations

from shared.records import Table, table, tables

#: What a deployment's `status` may be: the upload was taken by Cloudflare, refused (or never made),
#: or a later rollback replaced it.
STATUSES = ("uploaded", "failed", "rolled_back")
#: What made a deployment: a POST /deploy, or a POST /rollback re-uploading an earlier bundle.
ACTIONS = ("deploy", "rollback")

TABLES: dict[str, Table] = tables(
    table(
        "deployments",
        "dep",
        "service environment bundle_sha256 status action",
        actor="text",
        key_id="text",
        service="text",
        environment="text",
        version="text",
        commit="text",
        branch="text",
        author="text",
        bundle_sha256="text",
        status="text",
        action="text",
        rollback_of="text",
        cloudflare_id="text",
        error_code="integer",
        error_message="text",
    ),
)
