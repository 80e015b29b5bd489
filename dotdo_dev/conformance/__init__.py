"""Conformance: run a worker under real Pyodide with Cloudflare's real Python SDK.

`check(repo_root, worker_dir)` vendors the worker's dependencies for Pyodide (`dotdo_dev.vendor`),
then runs `runner.mjs` under the repo's Node 22 with npm `pyodide` (same major as production):
it imports the worker's main module, sends `GET /health` through the real SDK's `Request` and
`Response`, optionally calls one RPC method with arguments converted as the SDK converts them,
and reports import time. Bindings are JavaScript stand-ins with Cloudflare's class names.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotdo_dev.config import WorkerConfig, load_local
from dotdo_dev.vendor import vendor

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    worker: str
    ok: bool
    stage: str
    error: str | None = None
    status: int | None = None
    body: str | None = None
    import_ms: float | None = None
    pyodide_load_ms: int | None = None
    bundle_bytes: int = 0
    module: str | None = None
    rpc: Any = None
    raw: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def bindings_of(config: WorkerConfig) -> dict[str, str]:
    kinds: dict[str, str] = {}
    kinds.update({d.binding: "d1" for d in config.d1_databases})
    kinds.update({k.binding: "kv" for k in config.kv_namespaces})
    kinds.update({q.binding: "queue" for q in config.queue_producers})
    kinds.update({s.binding: "service" for s in config.services})
    kinds.update({n.binding: "dispatch" for n in config.dispatch_namespaces})
    return kinds


def bundle_bytes(*folders: Path) -> int:
    """Size of the Python a worker uploads: its module root and its python_modules."""
    return sum(p.stat().st_size for folder in folders for p in folder.rglob("*") if p.is_file())


def check(
    repo_root: Path,
    worker_dir: Path,
    *,
    path: str = "/health",
    rpc: tuple[str, list[Any]] | None = None,
    python_modules: Path | None = None,
    secrets: dict[str, str] | None = None,
    durable_object: dict[str, Any] | None = None,
    call: dict[str, Any] | None = None,
    timeout: float = 180,
) -> Result:
    """Run `worker_dir` under Pyodide and report what happened (`secrets` join the vars, as on Cloudflare)."""
    config = load_local(worker_dir)
    modules = python_modules or vendor(worker_dir, repo_root)
    job = {
        "module_root": str(config.module_root),
        "python_modules": str(modules),
        "shared": str(repo_root / "shared"),
        "harness": str(HERE),
        "main_module": config.main_module,
        "vars": {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.vars.items()} | (secrets or {}),
        "bindings": bindings_of(config),
        "host": f"{config.name}.do",
        "path": path,
        "rpc": {"method": rpc[0], "args": rpc[1]} if rpc else None,
        # {"class", "method", "args", "calls"}: build the Durable Object class with a JS ctx and call it
        "durable_object": durable_object,
        # {"module", "function", "args"}: call a function of the worker's modules (JSON in, JSON out)
        "call": call,
    }
    node = repo_root / "node_modules" / "node" / "bin" / "node"
    with tempfile.TemporaryDirectory() as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job))
        proc = subprocess.run(  # noqa: S603 - the repo's node running our runner
            [str(node), "--no-warnings", str(HERE / "runner.mjs"), str(job_file)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return Result(config.name, False, "runner", error=(proc.stderr or proc.stdout).strip()[-2000:])
    data = json.loads(lines[-1])
    return Result(
        worker=config.name,
        ok=bool(data.get("ok")),
        stage=data.get("stage", "?"),
        error=data.get("error"),
        status=data.get("status"),
        body=data.get("body"),
        import_ms=data.get("import_ms"),
        pyodide_load_ms=data.get("pyodide_load_ms"),
        bundle_bytes=bundle_bytes(config.module_root, modules),
        module=data.get("module"),
        rpc=data.get("rpc"),
        raw=data,
    )
