"""Cold start of each worker under real Pyodide 314 with Cloudflare's real SDK, against hello-world.

    .venv/bin/python benchmarks/cold_start.py

For every worker (the dispatcher, each service under workers/, the test fixtures and a freshly
generated domain service) a fresh Pyodide imports the worker's main module; the import time is the
worker's cold-start cost on Cloudflare (before memory snapshots). Bundle size = the worker's module
root plus its vendored python_modules. Ratios are against the minimal `hello` worker measured in
the same run. Each worker is measured `--runs` times; the table shows the median.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dotdo_dev import vendor as vendoring  # noqa: E402
from dotdo_dev.conformance import check  # noqa: E402
from dotdo_dev.generator.create_service import create_service  # noqa: E402
from dotdo_dev.testing import copy_repo  # noqa: E402


def measure(repo: Path, worker: Path, runs: int) -> tuple[float, int, float]:
    modules = vendoring.vendor(worker, repo)
    results = [check(repo, worker, python_modules=modules) for _ in range(runs)]
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{worker}: {failed[0].error}")
    return (
        statistics.median(r.import_ms for r in results),
        results[0].bundle_bytes,
        statistics.median(r.pyodide_load_ms for r in results),
    )


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_repo(ROOT, Path(tmp) / "repo")
        generated = create_service(repo, name="orders")
        workers = [("hello (baseline)", repo / "tests/fixtures/workers/hello"), ("dispatcher", repo / "dispatcher")]
        workers += [(p.name, p) for p in sorted((repo / "workers").glob("*")) if p != generated and p.is_dir()]
        workers += [("orders (generated)", generated), ("callee (fixture)", repo / "tests/fixtures/workers/callee")]
        rows = [(label, *measure(repo, path, runs)) for label, path in workers]
        base_ms, base_size = rows[0][1], rows[0][2]
        load = statistics.median(r[3] for r in rows)
        print(f"cold start under Pyodide 314 (median of {runs} runs; Pyodide itself loads in ~{load:.0f} ms)")
        print(f"{'worker':<22}{'import ms':>10}{'x hello':>9}{'bundle MB':>11}{'x hello':>9}")
        for label, import_ms, size, _ in rows:
            print(
                f"{label:<22}{import_ms:>10.0f}{import_ms / base_ms:>9.1f}{size / 1e6:>11.2f}{size / base_size:>9.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    main(parser.parse_args().runs)
