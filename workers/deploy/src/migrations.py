"""deploy's schema in its own D1 (`DEPLOY_DB`), as numbered migrations applied on first use.

Never edit a migration that has shipped: add the next one. `tables.py` declares `deployments` (a test
holds the two together). Version 1: deployments, and the bundles uploaded, in chunks of base64 (a D1
row holds at most 2 MB; a bundle may be up to 64 MiB), keyed by the bundle's SHA-256.
"""

from shared.migrations import Migration

DEPLOYMENTS = (
    """CREATE TABLE deployments (
        id TEXT PRIMARY KEY, actor TEXT, key_id TEXT, service TEXT NOT NULL, environment TEXT NOT NULL,
        version TEXT, "commit" TEXT, branch TEXT, author TEXT, bundle_sha256 TEXT NOT NULL,
        status TEXT NOT NULL, action TEXT NOT NULL, rollback_of TEXT, cloudflare_id TEXT,
        error_code INTEGER, error_message TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX deployments_target ON deployments (service, environment, status)",
    """CREATE TABLE bundle_chunks (
        sha256 TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (sha256, seq)
    )""",
)

MIGRATIONS: list[Migration] = [Migration(1, "deployments", DEPLOYMENTS)]

LATEST = MIGRATIONS[-1].version
