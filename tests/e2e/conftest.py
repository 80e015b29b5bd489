"""What the end-to-end tests share: the platform with chosen workers, its secrets, keys for new users.

Each test module starts its own platform (module scope) with real worker processes, the real
dispatcher in front, and throw-away state; auth's secrets come through the environment, as
`.dev.vars` would give them, with a bootstrap admin key.
"""

import contextlib
import os
import uuid
from pathlib import Path

from dotdo_dev.config import load_local
from dotdo_dev.platform import LocalPlatform
from dotdo_dev.runtime.bindings.d1 import D1Database

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "sk_test_e2e_bootstrap_key_0123456789abcdefghijklmnop"
SECRETS = {"API_KEY_SECRET": "e" * 48, "JWT_SECRET": "f" * 48, "BOOTSTRAP_ADMIN_KEY": BOOTSTRAP}
#: webhooks' signing secrets, as its .dev.vars would give them (the Resend one: whsec_ + base64 of its key).
WEBHOOK_SECRETS = {
    "STRIPE_WEBHOOK_SECRET": "whsec_e2e_stripe_0123456789abcdefghij",
    "WORKOS_WEBHOOK_SECRET": "w" * 40,
    "GITHUB_WEBHOOK_SECRET": "g" * 40,
    "RESEND_WEBHOOK_SECRET": "whsec_ZTJlLXJlc2VuZC1rZXktMDEyMzQ1Njc4OWFiY2RlZg==",
}
SECRETS |= WEBHOOK_SECRETS


@contextlib.asynccontextmanager
async def running_platform(state: Path, *workers: str, **options):
    """The dispatcher and `workers` (folders under workers/) on a free port (`options`: LocalPlatform's)."""
    configs = [ROOT / "dispatcher" / "wrangler.jsonc"] + [ROOT / "workers" / w / "wrangler.jsonc" for w in workers]
    environ = dict(os.environ) | SECRETS
    async with LocalPlatform(ROOT, configs=configs, state_dir=state, port=0, environ=environ, **options) as platform:
        yield platform


async def rpc(platform, worker, method, *args):
    """Call `worker`'s RPC method as another worker would."""
    return await platform.peers.rpc(worker, None, method, list(args), {})


async def new_key(platform, permissions, *, grants=()):
    """An API key with `permissions` of a new user of its own (each user has one rate budget), granted
    `grants` beyond its role first (a key carries only what its user may do)."""
    admin = await rpc(platform, "auth", "validate_api_key", BOOTSTRAP)
    person = {"email": f"e2e-{uuid.uuid4().hex[:12]}@example.com", "name": "e2e"}
    user = await rpc(platform, "auth", "create_user", admin, person)
    for permission in grants:
        await rpc(platform, "auth", "grant_permission", admin, {"id": user["id"], "permission": permission})
    request = {"name": "e2e", "permissions": permissions, "owner_id": user["id"]}
    return (await rpc(platform, "auth", "create_api_key", admin, request))["key"]


def auth_database(platform) -> D1Database:
    """auth's own D1 on the running platform (a SQLite file in its state folder), as auth opens it."""
    config = load_local(ROOT / "workers" / "auth")
    (database,) = config.d1_databases
    return D1Database(platform.state.d1(database.database_id))


def as_(key: str, host: str) -> dict[str, str]:
    """Headers of a request to `host` with `key` as its bearer token."""
    return {"authorization": f"Bearer {key}", "host": host}
