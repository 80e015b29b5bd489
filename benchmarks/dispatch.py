"""Requests through the dispatcher on the local platform, against the same worker called directly.

    .venv/bin/python benchmarks/dispatch.py [--requests 2000] [--concurrency 1,16]

Starts a local platform (dispatcher + the `callee` test worker) on a free port with a throw-away
state folder, then for each concurrency level sends GET /health:
  - direct:     to the worker's own process (its Unix socket), no dispatcher: the baseline;
  - dispatcher: to the public port with `Host: callee.do` (front -> dispatcher worker -> worker).
Prints p50/p99 latency (ms) and requests/s for both, and the dispatcher's added latency.
The load generator runs on the same 2-core machine as the platform, so absolute figures are
pessimistic; the comparison between the two paths in one run is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import percentiles  # noqa: E402 - benchmarks/latency.py

from dotdo_dev.platform import LocalPlatform  # noqa: E402
from dotdo_dev.runtime.peers import OP_HEADER, TOKEN_HEADER, URL_HEADER  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "workers" / "callee" / "wrangler.jsonc"


async def measure(client: httpx.AsyncClient, url: str, headers: dict[str, str], total: int, concurrency: int):
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def run() -> None:
        while not queue.empty():
            queue.get_nowait()
            start = time.perf_counter()
            reply = await client.get(url, headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            if reply.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {reply.status_code} {reply.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(concurrency)))
    return percentiles(latencies, seconds=time.perf_counter() - started)


async def main(total: int, levels: list[int]) -> None:
    with tempfile.TemporaryDirectory() as state:
        configs = [ROOT / "dispatcher" / "wrangler.jsonc", FIXTURE]
        async with LocalPlatform(ROOT, configs=configs, state_dir=Path(state), port=0) as platform:
            direct_headers = {TOKEN_HEADER: platform.token, OP_HEADER: "fetch", URL_HEADER: "http://callee.do/health"}
            socket = str(platform.peers.socket_path("callee"))
            limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
            direct = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=socket), limits=limits)
            front = httpx.AsyncClient(limits=limits)
            async with direct, front:
                warm = min(200, total)
                await measure(direct, "http://callee/health", direct_headers, warm, 4)
                await measure(front, f"{platform.url}/health", {"Host": "callee.do"}, warm, 4)
                print(f"requests per run: {total}  (GET /health, local platform, {time.strftime('%Y-%m-%d')})")
                print(f"{'path':<12}{'conc':>6}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
                for level in levels:
                    base = await measure(direct, "http://callee/health", direct_headers, total, level)
                    via = await measure(front, f"{platform.url}/health", {"Host": "callee.do"}, total, level)
                    for label, r in (("direct", base), ("dispatcher", via)):
                        print(f"{label:<12}{level:>6}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['rps']:>10.0f}")
                    print(f"{'added':<12}{level:>6}{via['p50'] - base['p50']:>10.2f}{via['p99'] - base['p99']:>10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16")
    args = parser.parse_args()
    asyncio.run(main(args.requests, [int(c) for c in args.concurrency.split(",")]))
