"""The local platform per request over HTTP, with real miniflare serving a JS hello-world in the same rounds.

    .venv/bin/python benchmarks/http_paths.py [--rounds 5] [--requests 300] [--seconds 2] [--write-docs]

Starts real miniflare 4 (npm, `benchmarks/miniflare_hello.mjs`) and the local platform (dispatcher, gateway,
db, auth; throw-away state) and makes API keys with `db:read`, each of its own user (the gateway allows a
user 60 requests a minute). A load generator in a process of its own (this file with `--client`) keeps
HTTP/1.1 connections alive and, round after round with the order rotated, measures each path:

  miniflare hello           GET / on miniflare: the peer, the unit of every ratio
  front door only           GET /__platform: the platform's own port, no worker
  db.do/health              front door -> dispatcher worker -> db worker
  db worker socket alone    GET /health on db's Unix socket: one worker, no hop
  db.do GET /things         with a key: db validates it with auth (one RPC)
  gateway.do /db/things     the same through the gateway (auth, rate limit, forward)

c=1: `--requests` sequential requests per round (after 20 unmeasured), p50 and p99; c=16: 16 connections
for `--seconds`, requests per second. Each figure is the median over rounds, with the spread (min-max) of
the round medians. Also: start-up (spawn to first 200) and resident memory (every process) of both.
`--write-docs` puts the table into docs/performance.md between its `bench:http` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from figures import write_block  # noqa: E402

from dotdo_dev.runtime import loop  # noqa: E402
from dotdo_dev.runtime.http1 import Pool  # noqa: E402

CONFIGS = [ROOT / "dispatcher" / "wrangler.jsonc"] + [
    ROOT / "workers" / name / "wrangler.jsonc" for name in ("gateway", "db", "auth")
]
BOOTSTRAP = "sk_test_benchmark_http_paths_0123456789abcdefghijklmn"
SECRETS = {"API_KEY_SECRET": "b" * 48, "JWT_SECRET": "j" * 48, "BOOTSTRAP_ADMIN_KEY": BOOTSTRAP}
NODE = ROOT / "node_modules" / "node" / "bin" / "node"


# -- the load generator (its own process) -------------------------------------------------------------------


_sources = itertools.count(1)


def _pool(target: dict) -> Pool:
    if target.get("unix"):
        return Pool(target["unix"], authority=target.get("authority"))
    # Each connection from an address of its own on 127/8: the platform's per-address limit (10,000 a minute
    # locally, dispatcher/wrangler.jsonc) counts clients, and this generator is many.
    n = next(_sources)
    source = f"127.0.{n // 250 % 250 + 1}.{n % 250 + 1}" if target["host"].startswith("127.") else None
    return Pool(host=target["host"], port=target["port"], authority=target.get("authority"), source=source)


async def _one(pool: Pool, target: dict, n: int) -> float:
    headers = []
    keys = target.get("keys")
    if keys:
        headers.append(("authorization", f"Bearer {keys[n % len(keys)]}"))
    started = time.perf_counter()
    reply = await pool.request("GET", target["path"], headers)
    elapsed = (time.perf_counter() - started) * 1000
    if reply.status != 200:
        raise RuntimeError(f"{target['name']}: HTTP {reply.status} {reply.body[:200]!r}")
    return elapsed


async def _sequential(target: dict, requests: int, offset: int) -> list[float]:
    pool = _pool(target)
    for n in range(20):
        await _one(pool, target, offset + n)
    times = [await _one(pool, target, offset + 20 + n) for n in range(requests)]
    await pool.aclose()
    return times


async def _concurrent(target: dict, seconds: float, offset: int, connections: int = 16) -> float:
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker(k: int) -> None:
        nonlocal done
        pool = _pool(target)
        n = offset + k * 100_000
        await _one(pool, target, n)
        while time.perf_counter() < deadline:
            n += 1
            await _one(pool, target, n)
            done += 1
        await pool.aclose()

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    return done / (time.perf_counter() - started)


async def client(plan: dict) -> dict:
    targets = plan["targets"]
    results = {t["name"]: {"p50": [], "p99": [], "rps": []} for t in targets}
    offset = 0
    for round_number in range(plan["rounds"]):
        order = targets[round_number % len(targets) :] + targets[: round_number % len(targets)]
        for target in order:
            times = sorted(await _sequential(target, plan["requests"], offset))
            offset += plan["requests"] + 20
            results[target["name"]]["p50"].append(statistics.median(times))
            results[target["name"]]["p99"].append(times[min(len(times) - 1, int(len(times) * 0.99))])
        for target in order:
            results[target["name"]]["rps"].append(await _concurrent(target, plan["seconds"], offset))
            offset += 1_000_000
    return results


# -- the platform, the peer, and the report --------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


async def _first_200(pool: Pool, path: str, seconds: float = 60) -> None:
    deadline = time.perf_counter() + seconds
    while True:
        try:
            if (await pool.request("GET", path)).status == 200:
                return
        except OSError:
            if time.perf_counter() > deadline:
                raise
        await asyncio.sleep(0.01)


def start_peer() -> tuple[subprocess.Popen, str, float]:
    """Real miniflare serving the hello-world: (its process, its URL, seconds to ready)."""
    started = time.perf_counter()
    peer = subprocess.Popen(
        [str(NODE), "--no-warnings", str(ROOT / "benchmarks" / "miniflare_hello.mjs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MINIFLARE_TELEMETRY": "false", "NODE_NO_WARNINGS": "1"},
    )
    url = json.loads(peer.stdout.readline())["url"]
    return peer, url, time.perf_counter() - started


async def main(args: argparse.Namespace, peer: subprocess.Popen, url: str, peer_start: float) -> str:
    from dotdo_dev.platform import LocalPlatform

    mf_host, mf_port = url.removeprefix("http://").rstrip("/").split(":")
    await _first_200(Pool(host=mf_host, port=int(mf_port)), "/")
    with tempfile.TemporaryDirectory() as state:
        environ = dict(os.environ) | SECRETS
        started = time.perf_counter()
        platform = LocalPlatform(ROOT, configs=CONFIGS, state_dir=Path(state), port=0, environ=environ)
        async with platform:
            front_port = int(platform.url.rsplit(":", 1)[1])
            await _first_200(Pool(host="127.0.0.1", port=front_port, authority="db.do"), "/health")
            platform_start = time.perf_counter() - started
            keys = await _keys(platform, args.keys)
            memory = {
                "miniflare": _rss_mib(_descendants(peer.pid)),
                "platform": _rss_mib(sorted(set(_descendants(os.getpid())) - set(_descendants(peer.pid)))),
            }
            front = {"host": "127.0.0.1", "port": front_port}
            db_socket = str(platform.peers.socket_path("db"))
            gateway = {"authority": "gateway.do", "path": "/db/things", "keys": keys}
            targets = [
                {"name": "miniflare hello", "host": mf_host, "port": int(mf_port), "path": "/"},
                {"name": "front door only", **front, "path": "/__platform"},
                {"name": "db.do/health", **front, "authority": "db.do", "path": "/health"},
                {"name": "db worker socket alone", "unix": db_socket, "path": "/health"},
                {"name": "db.do GET /things", **front, "authority": "db.do", "path": "/things", "keys": keys},
                {"name": "gateway.do /db/things", **front, **gateway},
            ]
            plan = {"targets": targets, "rounds": args.rounds, "requests": args.requests, "seconds": args.seconds}
            loader = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            out, _ = await loader.communicate(json.dumps(plan).encode())
            if loader.returncode != 0:
                raise SystemExit("the load generator failed")
            results = json.loads(out)
    return _report(results, memory, {"miniflare": peer_start, "platform": platform_start}, args)


async def _keys(platform, count: int) -> list[str]:
    admin = await platform.peers.rpc("auth", None, "validate_api_key", [BOOTSTRAP], {})
    keys = []
    for n in range(count):
        person = {"email": f"b{n}@example.com", "name": "bench"}
        user = await platform.peers.rpc("auth", None, "create_user", [admin, person], {})
        made = await platform.peers.rpc(
            "auth",
            None,
            "create_api_key",
            [admin, {"name": "b", "permissions": ["db:read"], "owner_id": user["id"]}],
            {},
        )
        keys.append(made["key"])
    return keys


def _report(results: dict, memory: dict, start: dict, args: argparse.Namespace) -> str:
    unit = results["miniflare hello"]
    unit_p50, unit_rps = statistics.median(unit["p50"]), statistics.median(unit["rps"])
    lines = [
        f"`.venv/bin/python benchmarks/http_paths.py` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
        f"{args.rounds} rounds of {args.requests} sequential requests and {args.seconds:g} s at c=16 per path; "
        "medians of the rounds, spread min-max)",
        "",
        "| path | c=1 p50 ms | x miniflare | c=1 p99 ms | c=16 req/s | x miniflare |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        p50, rps = statistics.median(r["p50"]), statistics.median(r["rps"])
        lines.append(
            f"| {name} | {p50:.2f} ({min(r['p50']):.2f}-{max(r['p50']):.2f}) | {p50 / unit_p50:.1f} | "
            f"{statistics.median(r['p99']):.2f} | {rps:,.0f} ({min(r['rps']):,.0f}-{max(r['rps']):,.0f}) | "
            f"{rps / unit_rps:.2f} |"
        )
    lines += [
        "",
        f"Start-up to the first 200: miniflare {start['miniflare']:.2f} s, the platform (4 workers) "
        f"{start['platform']:.2f} s. Resident memory: miniflare {memory['miniflare']:.0f} MiB, the platform "
        f"{memory['platform']:.0f} MiB (every process, this benchmark's own included).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--keys", type=int, default=300, help="API keys (one user each) the requests rotate through")
    parser.add_argument("--write-docs", action="store_true")
    arguments = parser.parse_args()
    if arguments.client:
        print(json.dumps(asyncio.run(client(json.loads(sys.stdin.read())))))
    else:
        peer, url, peer_start = start_peer()
        try:
            report = loop.run(main(arguments, peer, url, peer_start))  # the event loop make dev runs on
        finally:
            peer.stdin.close()
            peer.wait(timeout=30)
        print(report)
        if arguments.write_docs:
            write_block("http", report, heading="The local platform over HTTP")
