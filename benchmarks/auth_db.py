"""Per-call cost of auth's validation and db's reads over service-binding RPC on the local platform.

    .venv/bin/python benchmarks/auth_db.py [--calls 1000]

Starts db and auth (real worker processes, each with its own D1 on SQLite in a throw-away folder),
stores a bootstrap admin key, makes a user, an API key and a session, puts 1,000 things into db,
then times sequential RPC calls as another worker makes them (`platform.peers.rpc`):
  - baseline:          db.migrate once the schema is current: an RPC that reads nothing (the hop);
  - db.get_thing:      one row by primary key;
  - db.list_things:    a page of 20 with total (a batch of two queries);
  - db.search_things:  FTS5 over 1,000 things;
  - auth.validate_api_key: key record + owner + grants, one query of auth's own D1 (a write at most
    once a minute per key); no call to db;
  - auth.validate_token (JWT): HS256 verification + the session record, from auth's own D1.
Prints p50/p99 (ms) and calls/s; the figures to compare are each line against the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import percentiles  # noqa: E402 - benchmarks/latency.py

from dotdo_dev.config import load_local  # noqa: E402
from dotdo_dev.platform import LocalPlatform  # noqa: E402
from dotdo_dev.runtime.bindings.d1 import D1Database  # noqa: E402

CONFIGS = [ROOT / "workers" / "db" / "wrangler.jsonc", ROOT / "workers" / "auth" / "wrangler.jsonc"]
BOOTSTRAP = "sk_test_benchmark_bootstrap_0123456789abcdefghijklmnop"
SECRETS = {"API_KEY_SECRET": "b" * 48, "JWT_SECRET": "j" * 48, "BOOTSTRAP_ADMIN_KEY": BOOTSTRAP}


async def timed(call, total: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(total):
        begin = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - begin) * 1000)
    return percentiles(latencies, seconds=time.perf_counter() - started)


async def main(total: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        environ = dict(os.environ) | SECRETS
        async with LocalPlatform(ROOT, configs=CONFIGS, state_dir=Path(state), port=0, environ=environ) as platform:

            async def rpc(worker: str, method: str, *args):
                return await platform.peers.rpc(worker, None, method, list(args), {})

            admin = await rpc("auth", "validate_api_key", BOOTSTRAP)
            created = await rpc("auth", "create_api_key", admin, {"name": "bench", "permissions": ["db:read"]})
            key = created["key"]
            user = await rpc("auth", "create_user", admin, {"email": "bench@example.com", "name": "bench"})
            # a user's own things: reads go through the access condition (owner, organisation, visibility)
            me = {"id": user["id"], "type": "user", "role": "user", "permissions": ["db:read", "db:write"]}
            for n in range(1000):
                words = f"thing number {n} about {'cats' if n % 2 else 'dogs'} and more"
                await rpc("db", "upsert_thing", me, {"ns": "bench", "id": f"t{n}", "type": "Note", "content": words})
            token = await _session_token(platform, user)
            cases = [
                ("baseline (RPC, no storage)", lambda: rpc("db", "migrate")),
                ("db.get_thing", lambda: rpc("db", "get_thing", me, "bench", "t500")),
                ("db.list_things (20 + total)", lambda: rpc("db", "list_things", me, {"ns": "bench", "limit": 20})),
                ("db.search_things (FTS5)", lambda: rpc("db", "search_things", me, "cats 42*")),
                ("auth.validate_api_key", lambda: rpc("auth", "validate_api_key", key)),
                ("auth.validate_token (JWT)", lambda: rpc("auth", "validate_token", token)),
            ]
            for _, call in cases:  # warm every path
                await timed(call, 50)
            print(f"calls per case: {total}, sequential  (local platform, {time.strftime('%Y-%m-%d')})")
            print(f"{'call':<30}{'p50 ms':>9}{'p99 ms':>9}{'calls/s':>10}")
            for label, call in cases:
                r = await timed(call, total)
                print(f"{label:<30}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['rps']:>10.0f}")


async def _session_token(platform, user: dict) -> str:
    """A JWT for a live session of `user`, signed with the benchmark's JWT_SECRET (as /callback would)."""
    sys.path.insert(0, str(ROOT / "workers" / "auth" / "src"))
    import tokens

    # the session, written into auth's own D1 (a SQLite file in the platform's state folder)
    (database,) = load_local(ROOT / "workers" / "auth").d1_databases
    auth_db = D1Database(platform.state.d1(database.database_id))
    stamp = "2026-01-01T00:00:00.000Z"
    sql = "INSERT INTO sessions (id, user_id, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
    session = {"id": "ses_benchmark"}
    await auth_db.prepare(sql).bind(session["id"], user["id"], "2099-01-01T00:00:00.000Z", stamp, stamp).run()
    keys = tokens.SigningKeys(current_kid="k1", keys={"k1": SECRETS["JWT_SECRET"]})
    claims = {"role": "user", "permissions": ["db:read"]}
    return tokens.issue_access_token(
        keys,
        subject=user["id"],
        session_id=session["id"],
        issuer="https://auth.dev.do",
        audience="dotdo-development",
        claims=claims,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    asyncio.run(main(parser.parse_args().calls))
