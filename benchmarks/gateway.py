"""The gateway's added latency: the same db request through the gateway and straight to db.

    .venv/bin/python benchmarks/gateway.py [--requests 1200]

Starts dispatcher, gateway, db and auth on the local platform (throw-away state), makes API keys
with `db:read`, then sends `GET /stats` with a bearer key, sequentially, alternating:
  - direct:  `Host: db.do`, `/stats` (dispatcher -> db, which validates the key with auth itself);
  - gateway: `Host: gateway.do`, `/db/stats` (dispatcher -> gateway: auth, rate-limit Durable
             Object, permission, forward -> db, which trusts the principal the gateway passed).
Keys (each of its own user) rotate so that no user reaches the gateway's limit (60 per minute). Prints p50/p99 and the
difference of the medians: what routing, authentication and rate limiting add per request.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import percentiles  # noqa: E402 - benchmarks/latency.py

from dotdo_dev.platform import LocalPlatform  # noqa: E402

CONFIGS = [ROOT / "dispatcher" / "wrangler.jsonc"] + [
    ROOT / "workers" / name / "wrangler.jsonc" for name in ("gateway", "db", "auth")
]
BOOTSTRAP = "sk_test_benchmark_gateway_0123456789abcdefghijklmnop"
SECRETS = {"API_KEY_SECRET": "b" * 48, "JWT_SECRET": "j" * 48, "BOOTSTRAP_ADMIN_KEY": BOOTSTRAP}


async def main(total: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        environ = dict(os.environ) | SECRETS
        async with (
            LocalPlatform(ROOT, configs=CONFIGS, state_dir=Path(state), port=0, environ=environ) as platform,
            httpx.AsyncClient(base_url=platform.url, timeout=30) as http,
        ):
            admin = await platform.peers.rpc("auth", None, "validate_api_key", [BOOTSTRAP], {})
            keys = []
            for n in range(total // 50 + 2):  # one user per key: each user has one budget of 60/min
                person = {"email": f"bench-{n}@example.com", "name": "bench"}
                user = await platform.peers.rpc("auth", None, "create_user", [admin, person], {})
                request = {"name": "b", "permissions": ["db:read"], "owner_id": user["id"]}
                made = await platform.peers.rpc("auth", None, "create_api_key", [admin, request], {})
                keys.append(made["key"])
            rotation = itertools.cycle(keys)
            paths = {"direct": ("db.do", "/stats"), "gateway": ("gateway.do", "/db/stats")}
            timings: dict[str, list[float]] = {name: [] for name in paths}
            for n in range(total + 100):
                key = next(rotation)
                for name, (host, path) in paths.items():
                    started = time.perf_counter()
                    reply = await http.get(path, headers={"host": host, "authorization": f"Bearer {key}"})
                    elapsed = (time.perf_counter() - started) * 1000
                    if reply.status_code != 200:
                        raise RuntimeError(f"{name}: HTTP {reply.status_code} {reply.text[:200]}")
                    if n >= 100:  # the first 100 warm every path
                        timings[name].append(elapsed)
            when = time.strftime("%Y-%m-%d")
            print(f"requests per path: {total}, sequential  (GET /stats with an API key, local platform, {when})")
            print(f"{'path':<10}{'p50 ms':>9}{'p99 ms':>9}")
            results = {name: percentiles(values) for name, values in timings.items()}
            for name, r in results.items():
                print(f"{name:<10}{r['p50']:>9.2f}{r['p99']:>9.2f}")
            added = results["gateway"]["p50"] - results["direct"]["p50"]
            print(f"gateway adds {added:.2f} ms at p50 (routing + auth + rate limit + one more hop)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1200)
    asyncio.run(main(parser.parse_args().requests))
