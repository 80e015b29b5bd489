"""Each worker's upload bundle under real Pyodide 314 with Cloudflare's real SDK, against hello-world.

    .venv/bin/python benchmarks/cold_start.py [--runs 3] [--requests 200]

For every worker (the dispatcher, each service under workers/ and a freshly generated domain
service) the bundle is built as `wrangler deploy` would upload it (`dotdo build`), then each run
starts a fresh Pyodide that mounts the bundle alone, imports the main module (on Cloudflare this
happens once, at deploy, and lands in the memory snapshot), sends `GET /health` `--requests` times
and reports: the import, the first request (what a new isolate pays after restoring the snapshot),
the median of the later (warm) requests, and the bundle's size raw and gzipped as wrangler reports
it. Ratios are against the minimal `hello` worker measured in the same run; each figure is the
median over `--runs` fresh Pyodides. Pyodide's own start (~2 s) is not part of any worker's cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dotdo_dev.build import build  # noqa: E402
from dotdo_dev.conformance import check  # noqa: E402
from dotdo_dev.generator.create_service import create_service  # noqa: E402
from dotdo_dev.testing import copy_repo  # noqa: E402

SECRETS = {"auth": {"JWT_SECRET": "x" * 40, "API_KEY_SECRET": "y" * 40}}


def measure(repo: Path, worker: Path, outdir: Path, runs: int, requests: int) -> dict[str, float]:
    bundle = build(repo, worker, outdir)
    imports, firsts, warms, loads = [], [], [], []
    for _ in range(runs):
        result = check(
            repo, worker, bundle=bundle.outdir, repeat=requests, secrets=SECRETS.get(worker.name), fresh_process=True
        )
        if not result.ok:
            raise SystemExit(f"{worker}: {result.error}")
        if result.first_request_imports:
            print(f"  note: {worker.name}'s first request imported {result.first_request_imports}", file=sys.stderr)
        imports.append(result.import_ms)
        firsts.append(result.request_ms[0])
        warms.append(statistics.median(result.request_ms[1:]))
        loads.append(result.pyodide_load_ms)
    return {
        "import": statistics.median(imports),
        "first": statistics.median(firsts),
        "warm": statistics.median(warms),
        "raw": bundle.raw_bytes / 2**20,
        "gzip": bundle.gzip_bytes / 2**20,
        "load": statistics.median(loads),
    }


def main(runs: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_repo(ROOT, Path(tmp) / "repo")
        generated = create_service(repo, name="orders")
        workers = [("hello (baseline)", repo / "tests/fixtures/workers/hello"), ("dispatcher", repo / "dispatcher")]
        workers += [(p.name, p) for p in sorted((repo / "workers").glob("*")) if p != generated and p.is_dir()]
        workers += [("orders (generated)", generated)]
        rows = []
        for label, path in workers:
            rows.append((label, measure(repo, path, Path(tmp) / "bundles" / path.name, runs, requests)))
        base = rows[0][1]
        load = statistics.median(r["load"] for _, r in rows)
        print(
            f"bundles under Pyodide 314, GET /health (median of {runs} fresh Pyodides, {requests} requests each; "
            f"Pyodide itself starts in ~{load:.0f} ms)"
        )
        header = ("worker", "import ms", "x", "1st req ms", "x", "warm ms", "x", "MB raw", "x", "MB gzip", "x")
        print(f"{header[0]:<20}" + "".join(f"{h:>11}" if h != "x" else f"{h:>6}" for h in header[1:]))
        for label, r in rows:
            cells = ""
            for key, digits in (("import", 0), ("first", 1), ("warm", 2), ("raw", 2), ("gzip", 2)):
                cells += f"{r[key]:>11.{digits}f}{r[key] / base[key]:>6.1f}"
            print(f"{label:<20}{cells}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    main(args.runs, args.requests)
