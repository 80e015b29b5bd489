"""Conformance: run a worker's upload bundle under real Pyodide with Cloudflare's real Python SDK.

`check(repo_root, worker_dir)` builds the worker's bundle (`dotdo_dev.build`: exactly what
`wrangler deploy` would upload) and runs `runner.mjs` under the repo's Node 22 with npm `pyodide`
(same major as production). The bundle is mounted alone, where workerd puts a Python Worker: a
module missing from it fails the import stage, naming the module and the worker. The harness imports
the main module under workerd's global-scope rules, sends requests through the real SDK's `Request`
and `Response`, and can call an RPC method, a plain function, a Durable Object, and the `scheduled`
and `queue` handlers as workerd calls them. Bindings are JavaScript stand-ins with Cloudflare's
class names; service bindings can be scripted (`services=`) to stand in for auth or db.

A job enqueued in one stage can be consumed in a later one: `queue={"from_sent": "JOBS"}` makes the
queue stage's batch of what the worker sent to its producer binding `JOBS` during the stages before
(the `rpc` stage, say), as Cloudflare would deliver it; `inspect=` reads the worker's D1 afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotdo_dev.compat import enabled_flags
from dotdo_dev.config import WorkerConfig, load_local
from dotdo_dev.conformance.runner import RunnerFailed, runner_for

HERE = Path(__file__).resolve().parent
HARNESS_FILES = [HERE / "conformance_harness.py", HERE / "runtime_patches.py"]
#: The harness imports the runtime's handler rules as `dotdo_handlers` (standard library only).
HANDLERS_MODULE = HERE.parent / "runtime" / "handlers.py"


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
    responses: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def json(self, index: int = 0) -> Any:
        body = self.responses[index]["body"] if self.responses else self.body
        return json.loads(body) if body else None

    @property
    def first_request_imports(self) -> list[str]:
        return self.raw.get("first_request_imports", [])

    @property
    def request_ms(self) -> list[float]:
        """How long each request took inside Pyodide (fetch handler to body read), in order."""
        return self.raw.get("request_ms", [])

    @property
    def rpc_ms(self) -> list[float]:
        """How long each of the `rpc_repeat` RPC calls took inside Pyodide (the call and the result's conversion)."""
        return self.raw.get("rpc_ms", [])

    @property
    def request_standin_ms(self) -> list[float]:
        """Of each request's time (`request_ms`), how long the stand-ins' JavaScript took (D1's SQLite, Durable
        Object SQL, a scripted service or fetch answer, a queue's copy, the rate limiter): work that is another
        process's on Cloudflare."""
        return self.raw.get("request_standin_ms", [])

    @property
    def rpc_standin_ms(self) -> list[float]:
        """Of each RPC call's time (`rpc_ms`), how long the stand-ins' JavaScript took."""
        return self.raw.get("rpc_standin_ms", [])

    @property
    def first_rpc_imports(self) -> list[str]:
        """The bundle's modules the first RPC call imported."""
        return self.raw.get("first_rpc_imports", [])

    @property
    def output(self) -> list[str]:
        """What the worker printed or logged to the console, a line each (the first 1,000 lines of the job)."""
        return self.raw.get("output", [])

    @property
    def d1_executed(self) -> dict[str, int]:
        """How many statements each D1 binding ran in the job (a batch counts each of its statements)."""
        return self.raw.get("d1_executed", {})

    @property
    def settled(self) -> dict[str, Any]:
        """What a queue handler did with its batch: `acked`, `retried`, `ackAll`, `retryAll`."""
        return self.raw.get("settled", {})

    @property
    def sent(self) -> dict[str, list[dict[str, Any]]]:
        """What the worker sent to each queue producer binding: `[{body, options, timestamp}]`, in order."""
        return self.raw.get("sent", {})

    @property
    def inspected(self) -> dict[str, list[dict[str, Any]]]:
        """The rows each `inspect=` query read from the worker's D1 once every stage ran, by label."""
        return self.raw.get("inspected", {})


def bindings_of(config: WorkerConfig) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    kinds.update({d.binding: {"kind": "d1"} for d in config.d1_databases})
    kinds.update({k.binding: {"kind": "kv"} for k in config.kv_namespaces})
    kinds.update({q.binding: {"kind": "queue"} for q in config.queue_producers})
    kinds.update({s.binding: {"kind": "service"} for s in config.services})
    kinds.update({n.binding: {"kind": "dispatch"} for n in config.dispatch_namespaces})
    kinds.update({d.name: {"kind": "durable_object", "class_name": d.class_name} for d in config.durable_objects})
    kinds.update(
        {
            r.name: {"kind": "ratelimit", "namespace_id": r.namespace_id, "limit": r.limit, "period": r.period}
            for r in config.ratelimits
        }
    )
    return kinds


def _request(spec: str | dict[str, Any]) -> dict[str, Any]:
    """A request of the job: a path (GET), or {method, path, headers, body (str or JSON)}."""
    return {"method": "GET", "path": spec} if isinstance(spec, str) else {"method": "GET", **spec}


def pyodide_snapshot(repo_root: Path) -> Path | None:
    """The snapshot of Pyodide's memory right after it boots, made once per Pyodide version.

    Kept in `.cache/conformance/` (git-ignored). Restoring it is what workerd does for a Python
    Worker, and takes ~0.4 s where a boot takes 3-6 s on a 2-core machine. Nothing is imported or
    mounted before it is taken, so a job sees the interpreter a fresh boot gives. `None` when it
    cannot be made (the job then boots Pyodide itself).
    """
    package = json.loads((repo_root / "node_modules" / "pyodide" / "package.json").read_text())
    target = repo_root / ".cache" / "conformance" / f"pyodide-{package['version']}.snapshot"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(  # noqa: S603 - the repo's node running our runner
        [str(_node(repo_root)), "--no-warnings", str(HERE / "runner.mjs"), "--make-snapshot", str(target)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return target if proc.returncode == 0 and target.exists() else None


def _node(repo_root: Path) -> Path:
    return repo_root / "node_modules" / "node" / "bin" / "node"


def check(
    repo_root: Path,
    worker_dir: Path,
    *,
    path: str = "/health",
    requests: list[str | dict[str, Any]] | None = None,
    rpc: tuple[str, list[Any]] | None = None,
    bundle: Path | None = None,
    secrets: dict[str, str] | None = None,
    vars: dict[str, str] | None = None,
    services: dict[str, dict[str, Any]] | None = None,
    durable_object: dict[str, Any] | None = None,
    call: dict[str, Any] | None = None,
    scheduled: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
    inspect: dict[str, tuple[str, str]] | None = None,
    bindings: dict[str, dict[str, Any]] | None = None,
    repeat: int = 1,
    rpc_repeat: int = 1,
    d1_files: dict[str, Path] | None = None,
    save_d1: dict[str, Path] | None = None,
    snapshot: bool = True,
    timeout: float = 180,
    fresh_process: bool = False,
) -> Result:
    """Run the bundle of `worker_dir` under Pyodide and report what happened.

    `bundle` is a folder built by `dotdo_dev.build.build` (built into a temporary folder when not
    given). `secrets` and `vars` join the config's vars, as on Cloudflare. `requests` replaces the
    single `GET path`. `scheduled={"cron": ...}` and `queue={"queue": ..., "messages": [{id, body,
    attempts}]}` run those handlers after the requests (and `rpc`, `call`). `queue={"from_sent": "JOBS"}`
    delivers, after any `messages`, what the worker sent to its producer binding `JOBS` in the stages
    before (ids `sent-1`, ...; first attempt; delays not waited for); `queue` defaults to that binding's
    queue (the development environment's name, as `load_local` reads the config). `inspect={"jobs":
    ("QUEUE_DB", "SELECT ...")}` runs each query on that D1 binding once every stage ran (`Result.inspected`).
    `Result.sent` lists what each producer binding was sent. `bindings` replaces stand-ins the config gives
    (`{"LIMITER": {"kind": "ratelimit", "namespace_id": "1", "limit": 2, "period": 60}}`). `repeat` sends
    the requests that many times over (each timed in `request_ms`; answers are the first pass's), `rpc_repeat`
    the RPC call (each timed in `rpc_ms`; `rpc` is the first call's answer). `d1_files={"DB": file}` starts
    that D1 binding from a copy of a SQLite file, `save_d1={"DB": file}` writes what the job left in it there
    (so one job can prepare the migrated, populated database the timed jobs start from).
    `snapshot=False` boots Pyodide instead of restoring `pyodide_snapshot`. The job runs in this process's
    long-lived runner (`runner.Runner`: a Pyodide of its own, WebAssembly compiled once per process);
    `fresh_process=True` starts a Node of its own for it, compiling everything anew (a true cold start).
    """
    config = load_local(worker_dir)
    queue = _queue_stage(config, queue)
    with tempfile.TemporaryDirectory() as tmp:
        if bundle is None:
            from dotdo_dev.build import build

            bundle = build(repo_root, worker_dir, Path(tmp) / "bundle").outdir
        image = pyodide_snapshot(repo_root) if snapshot else None
        job = {
            "worker": config.name,
            "bundle": str(bundle),
            "harness_files": [str(p) for p in HARNESS_FILES],
            "main_module": config.main_module,
            "compat_flags": sorted(enabled_flags(config.compatibility_date, config.compatibility_flags)),
            "vars": {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.vars.items()}
            | (vars or {})
            | (secrets or {}),
            "bindings": bindings_of(config) | (bindings or {}),
            "services": services or {},
            "host": f"{config.name}.do",
            "requests": [_request(r) for r in (requests if requests is not None else [path])],
            "repeat": repeat,
            "rpc": {"method": rpc[0], "args": rpc[1]} if rpc else None,
            "rpc_repeat": rpc_repeat,
            "d1_files": {name: str(file) for name, file in (d1_files or {}).items()},
            "save_d1": {name: str(file) for name, file in (save_d1 or {}).items()},
            # {"class", "method", "args", "calls"}: build the Durable Object class with a JS state and call it
            "durable_object": durable_object,
            # {"module", "function", "args", "env"}: call a function of the worker's modules (JSON in, JSON
            # out; `"env": true` passes the worker's env first)
            "call": call,
            "scheduled": scheduled,
            "queue": queue,
            # {label: [D1 binding, SQL]}: what the worker's databases hold after every stage
            "inspect": {label: list(query) for label, query in (inspect or {}).items()},
            "snapshot": str(image) if image else None,
        }
        handlers_copy = Path(tmp) / "dotdo_handlers.py"
        handlers_copy.write_text(HANDLERS_MODULE.read_text())
        job["harness_files"].append(str(handlers_copy))
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job))
        try:
            data = _run_job(repo_root, job_file, timeout, fresh_process)
        except RunnerFailed as error:
            return Result(config.name, False, "runner", error=str(error)[-2000:])
        size = bundle_bytes(Path(bundle))
    responses = data.get("requests") or []
    first = responses[0] if responses else {}
    return Result(
        worker=config.name,
        ok=bool(data.get("ok")),
        stage=data.get("stage", "?"),
        error=data.get("error"),
        status=first.get("status"),
        body=first.get("body"),
        import_ms=data.get("import_ms"),
        pyodide_load_ms=data.get("pyodide_load_ms"),
        bundle_bytes=size,
        module=data.get("module"),
        rpc=data.get("rpc"),
        responses=responses,
        raw=data,
    )


def _queue_stage(config: WorkerConfig, queue: dict[str, Any] | None) -> dict[str, Any] | None:
    """The queue stage's job: `from_sent` must name a producer binding of the worker; `queue` defaults to
    its queue, `messages` to none."""
    if not queue or not queue.get("from_sent"):
        return queue
    producers = {p.binding: p.queue for p in config.queue_producers}
    binding = queue["from_sent"]
    if binding not in producers:
        raise ValueError(f"queue.from_sent: {binding!r} is not a queue producer binding of {config.name} ({producers})")
    return {"queue": producers[binding], "messages": []} | queue


def _run_job(repo_root: Path, job_file: Path, timeout: float, fresh_process: bool) -> dict[str, Any]:
    """The job's result dict, from the shared runner or a Node of its own; `RunnerFailed` if none came."""
    if not fresh_process:
        return runner_for(_node(repo_root)).run(job_file, timeout)
    try:
        proc = subprocess.run(  # noqa: S603 - the repo's node running our runner
            [str(_node(repo_root)), "--no-warnings", str(HERE / "runner.mjs"), str(job_file)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    except subprocess.TimeoutExpired:
        raise RunnerFailed("the job timed out") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RunnerFailed((proc.stderr or proc.stdout).strip())
    return json.loads(lines[-1])


def bundle_bytes(bundle: Path) -> int:
    """Size of the modules a bundle uploads (wrangler's README and our metadata left out)."""
    from dotdo_dev.build import modules_in

    return sum((bundle / m).stat().st_size for m in modules_in(bundle))
