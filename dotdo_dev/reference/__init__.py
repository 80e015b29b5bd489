"""Cloudflare's local simulator (npm `miniflare` 4) as the reference for the local bindings.

`run_ops(repo_root, ops)` runs binding operations in a JavaScript worker under real miniflare and
returns each result (`{"ok": value}` or `{"error": message}`), bytes as `{"$bytes": [...]}`.
tests/reference runs the same operations through `dotdo_dev.runtime.bindings` and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_ops(repo_root: Path, ops: list[dict[str, Any]], *, timeout: float = 120) -> list[dict[str, Any]]:
    """Binding operations (D1 as `DB`, KV as `KV`) run in a JavaScript worker under miniflare."""
    return _run(repo_root, "miniflare_ops.mjs", ops, timeout)


def run_queue_scenario(repo_root: Path, scenario: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
    """A queue scenario (see queue_scenario.mjs): per message, the attempts seen and whether it died."""
    return _run(repo_root, "queue_scenario.mjs", scenario, timeout)


def run_ratelimit_ops(
    repo_root: Path, ratelimits: dict[str, Any], ops: list[dict[str, Any]], *, timeout: float = 120
) -> list[dict[str, Any]]:
    """Rate Limiting calls (`{"binding", "options"}`) under miniflare with `ratelimits` as miniflare takes them."""
    return _run(repo_root, "ratelimit_ops.mjs", {"ratelimits": ratelimits, "ops": ops}, timeout)


def run_r2_ops(repo_root: Path, ops: list[dict[str, Any]], *, timeout: float = 120) -> list[dict[str, Any]]:
    """R2 operations (see r2_ops.mjs) on a bucket bound as `BUCKET` under miniflare."""
    return _run(repo_root, "r2_ops.mjs", ops, timeout)


def _run(repo_root: Path, script: str, payload: Any, timeout: float) -> Any:
    node = repo_root.resolve() / "node_modules" / "node" / "bin" / "node"
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps(payload))
        proc = subprocess.run(  # noqa: S603 - the repo's node running our script
            [str(node), "--no-warnings", str(HERE / script), str(job)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=tmp,
            env={**os.environ, "NODE_NO_WARNINGS": "1", "MINIFLARE_TELEMETRY": "false"},
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("[", "{"))]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"miniflare run failed: {(proc.stderr or proc.stdout)[-2000:]}")
    return json.loads(lines[-1])
