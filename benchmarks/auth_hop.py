"""What authenticating a request costs: calls per authenticated request, and its latency on the local platform.

    .venv/bin/python benchmarks/auth_hop.py [--requests 200]

1. Calls per authenticated request, counted in this process (auth alone, on a D1 whose round trips are
   counted; then db alone, with a stand-in auth that counts the calls db makes to it):
   - RPCs db (or the gateway) makes to auth for one request with a bearer credential;
   - storage round trips auth makes to answer one `validate_token`: an API key whose scopes its role
     gives, one whose scope only a grant gives, and a JWT (its session); once the key's `last_used_at`
     was written this minute (that write is at most once a minute per key, and is counted apart); and
     the p50 of 500 such calls in this process (no RPC hop).
2. Latency on a running LocalPlatform (dispatcher, gateway, db, auth; throw-away state): p50/p99 of
   `--requests` sequential `GET /things` with an API key (`db:read`), straight to `db.do` (dispatcher ->
   db -> auth) and through `gateway.do/db/things` (dispatcher -> gateway -> auth, limiter -> db), after
   50 warm-up requests of each; keys (each of its own user) rotate under the gateway's 60/min limit.
   Beside them, interleaved: `db.do/health` (the same hops, no credential) and `validate_token` called
   over RPC from this process (the one hop to auth that db and the gateway make).
The load generator shares the machine with the platform: compare figures of one run, or of runs on
one quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import percentiles  # noqa: E402 - benchmarks/latency.py

BOOTSTRAP = "sk_test_benchmark_auth_hop_0123456789abcdefghijklmnop"
SECRETS = {"API_KEY_SECRET": "b" * 48, "JWT_SECRET": "j" * 48, "BOOTSTRAP_ADMIN_KEY": BOOTSTRAP}


# -- 1. counting, one worker per process ------------------------------------------------------------------


async def count_auth() -> None:
    """Storage round trips of auth's `validate_token`, printed as `label<TAB>count` lines."""
    from dotdo_dev.config import load_local
    from dotdo_dev.runtime.bindings.d1 import D1Database
    from dotdo_dev.testing import WorkerHarness, worker_root

    class CountingD1(D1Database):
        calls = 0

        async def _call(self, function, *args):
            CountingD1.calls += 1
            return await super()._call(function, *args)

    with tempfile.TemporaryDirectory() as state:
        auth_dir = worker_root(ROOT / "workers" / "auth" / "tests" / "conftest.py")
        (database,) = load_local(auth_dir).d1_databases
        d1 = CountingD1(Path(state) / "auth.sqlite3")
        auth = WorkerHarness(auth_dir, state_dir=state, bindings={database.binding: d1}, environ=SECRETS)
        admin = await auth.rpc("validate_api_key", BOOTSTRAP)
        user = await auth.rpc("create_user", admin, {"email": "count@example.com", "name": "count"})
        await auth.rpc("grant_permission", admin, {"id": user["id"], "permission": "deploy"})
        own = {"name": "c", "permissions": ["db:read"], "owner_id": user["id"]}
        granted = {"name": "g", "permissions": ["db:read", "deploy"], "owner_id": user["id"]}
        keys = {
            "API key, scopes of its role": (await auth.rpc("create_api_key", admin, own))["key"],
            "API key, a scope from a grant": (await auth.rpc("create_api_key", admin, granted))["key"],
            "JWT (HS256) and its session": await _session_token(auth, d1, user),
        }
        for label, token in keys.items():
            before = CountingD1.calls
            await auth.rpc("validate_token", token)  # an API key's first use this minute writes last_used_at
            first = CountingD1.calls - before
            before = CountingD1.calls
            await auth.rpc("validate_token", token)
            steady = CountingD1.calls - before
            latencies = []
            for _ in range(500):
                started = time.perf_counter()
                await auth.rpc("validate_token", token)
                latencies.append((time.perf_counter() - started) * 1000)
            print(f"{label}\t{steady}\t{first}\t{percentiles(latencies)['p50']:.3f}")


async def _session_token(auth, d1, user: dict) -> str:
    """A JWT for a live session of `user`, as /callback would issue one (the session written into auth's D1)."""
    sys.path.insert(0, str(ROOT / "workers" / "auth" / "src"))
    import tokens

    stamp = "2026-01-01T00:00:00.000Z"
    sql = "INSERT INTO sessions (id, user_id, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
    await d1.prepare(sql).bind("ses_count", user["id"], "2099-01-01T00:00:00.000Z", stamp, stamp).run()
    keys = tokens.SigningKeys(current_kid="k1", keys={"k1": SECRETS["JWT_SECRET"]})
    env = auth.env
    return tokens.issue_access_token(
        keys,
        subject=user["id"],
        session_id="ses_count",
        issuer=getattr(env, "JWT_ISSUER", None) or "https://auth.do",
        audience=getattr(env, "JWT_AUDIENCE", None) or "dotdo",
        claims={"role": "user", "permissions": ["db:read"]},
    )


async def count_db() -> None:
    """RPCs db makes to auth for one `GET /things` with a bearer credential, printed as one number."""
    from dotdo_dev.testing import StandInAuth, WorkerHarness, bearer, worker_root

    with tempfile.TemporaryDirectory() as state:
        db_dir = worker_root(ROOT / "workers" / "db" / "tests" / "conftest.py")
        principal = {"id": "usr_count", "type": "user", "role": "user", "permissions": ["db:read"]}
        auth = StandInAuth({"a-token": principal})
        db = WorkerHarness(db_dir, state_dir=state, bindings={"AUTH_SERVICE": auth})
        await db.fetch("/things", headers=bearer("a-token"))  # warm
        before = len(auth.calls)
        reply = await db.fetch("/things", headers=bearer("a-token"))
        if reply.status != 200:
            raise RuntimeError(f"db GET /things: HTTP {reply.status}")
        print(len(auth.calls) - before)


def counted(part: str) -> str:
    """The output of this script run with `--count part` in a process of its own."""
    command = [sys.executable, __file__, "--count", part]
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout


# -- 2. latency on the local platform -----------------------------------------------------------------------


async def latency(total: int) -> dict[str, dict[str, float]]:
    from dotdo_dev.platform import LocalPlatform

    configs = [ROOT / "dispatcher" / "wrangler.jsonc"]
    configs += [ROOT / "workers" / name / "wrangler.jsonc" for name in ("gateway", "db", "auth")]
    with tempfile.TemporaryDirectory() as state:
        environ = dict(os.environ) | SECRETS
        async with (
            LocalPlatform(ROOT, configs=configs, state_dir=Path(state), port=0, environ=environ) as platform,
            httpx.AsyncClient(base_url=platform.url, timeout=30) as http,
        ):

            async def rpc(method: str, *args):
                return await platform.peers.rpc("auth", None, method, list(args), {})

            admin = await rpc("validate_api_key", BOOTSTRAP)
            keys = []
            for n in range((total + 50) // 40 + 1):  # one user per key: each user has 60 requests a minute
                user = await rpc("create_user", admin, {"email": f"hop-{n}@example.com", "name": "hop"})
                request = {"name": "hop", "permissions": ["db:read"], "owner_id": user["id"]}
                keys.append((await rpc("create_api_key", admin, request))["key"])
            paths = {
                "db.do /health (no credential)": ("db.do", "/health"),
                "db.do /things": ("db.do", "/things"),
                "gateway.do /db/things": ("gateway.do", "/db/things"),
            }
            timings: dict[str, list[float]] = {name: [] for name in [*paths, "auth.validate_token (RPC)"]}
            rotation = itertools.cycle(keys)
            for n in range(total + 50):  # the paths interleaved, so that a busy moment of the machine hits all
                key = next(rotation)
                for name, (host, path) in paths.items():
                    headers = {"host": host, "authorization": f"Bearer {key}"}
                    started = time.perf_counter()
                    reply = await http.get(path, headers=headers)
                    elapsed = (time.perf_counter() - started) * 1000
                    if reply.status_code != 200:
                        raise RuntimeError(f"{name}: HTTP {reply.status_code} {reply.text[:200]}")
                    if n >= 50:
                        timings[name].append(elapsed)
                started = time.perf_counter()
                await rpc("validate_token", key)  # the hop db and the gateway make, from another process
                if n >= 50:
                    timings["auth.validate_token (RPC)"].append((time.perf_counter() - started) * 1000)
            return {name: percentiles(values) for name, values in timings.items()}


def main(total: int) -> None:
    rpcs = counted("db").split()[-1]
    rows = [line.split("\t") for line in counted("auth").splitlines() if "\t" in line]
    results = asyncio.run(latency(total))
    print(f"authentication per request  (local platform, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)")
    print(f"RPCs to auth per request with a bearer credential (db.do; the gateway likewise): {rpcs}")
    print(f"{'credential':<32}{'storage round trips':>21}{'first use this minute':>23}{'in-process p50 ms':>19}")
    for label, steady, first, p50 in rows:
        print(f"{label:<32}{steady:>21}{first:>23}{float(p50):>19.3f}")
    print(f"{'with an API key':<32}{'p50 ms':>9}{'p99 ms':>9}   ({total} sequential requests each, interleaved)")
    for name, r in results.items():
        print(f"{name:<32}{r['p50']:>9.2f}{r['p99']:>9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--count", choices=("auth", "db"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count == "auth":
        asyncio.run(count_auth())
    elif args.count == "db":
        asyncio.run(count_db())
    else:
        main(args.requests)
