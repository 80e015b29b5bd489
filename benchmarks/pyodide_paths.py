"""The platform's representative request paths under real Pyodide 314 with Cloudflare's real SDK, against hello-world.

    .venv/bin/python benchmarks/pyodide_paths.py [--runs 3] [--calls 200] [--against REV] [--write-docs]

Issue #17's Pyodide table: each operation runs in a fresh Node and Pyodide of its own
(`check(..., fresh_process=True)`, as `benchmarks/cold_start.py`), on the bundle `wrangler deploy`
would upload, and is called `--calls` times. The first call is what a new isolate pays once its
snapshot is restored (the import is not counted: on Cloudflare it lands in the memory snapshot); the
warm figure is the median of the other calls. The unit is hello-world's `GET /health`: every
operation is measured right after a hello of its own (the machine's load changes from minute to
minute), and the table gives, over `--runs` rounds, the median of each figure and of its ratio to
that hello, with the ratio's spread (min-max). Target: every ratio <= 3. `--against REV` measures the
workers' code of another revision in the same rounds (each of its operations next to this tree's),
for a before/after under the same load. `--write-docs` puts this tree's table into docs/performance.md
(between its `bench:pyodide` markers); `make bench` runs it so.

The operations, with the conformance harness's stand-ins for what a worker calls:

- gateway `GET /db/things` with an API key: the whole path (auth over RPC answered by a stand-in,
  the limiter Durable Object run as the gateway's own class on in-memory SQLite, the forward to a db
  stand-in whose `fetch` answers a Response with immutable headers, as workerd's does);
- dispatcher `GET /api/db/things`: routed and forwarded to the db binding's stand-in;
- db over HTTP with the gateway's principal header (get, list, search) and `upsert_thing` over RPC,
  on a D1 that is already migrated and holds a few things (as a deployed db's is: an untimed job
  prepares it once and each timed job starts from a copy);
- auth `validate_token` over RPC with an API key and with an HS256 JWT of a live session, on an auth
  D1 prepared the same way (the key stored, the session started);
- the services that landed after the issue, each by its main operation: queue `enqueue` over RPC (a
  send-email job), webhooks `POST /stripe` (a distinct event per call, signed as Stripe signs, recorded
  and sent to the queue), schedule `GET /tasks`, email `POST /preview` (a template rendered; a send's
  time would be Resend's). mcp's aggregator and deploy call every service and Cloudflare's API: not here.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from figures import write_block  # noqa: E402

from dotdo_dev.build import build  # noqa: E402
from dotdo_dev.config import load_local  # noqa: E402
from dotdo_dev.conformance import check  # noqa: E402
from dotdo_dev.testing import copy_repo, worker_root  # noqa: E402

TARGET = 3.0
AUTH_SECRETS = {"JWT_SECRET": "j" * 40, "API_KEY_SECRET": "k" * 40}
BOOTSTRAP_KEY = "sk_test_bench_" + "0123456789abcdefghijklmnopqrstuvwxyz"
#: What the gateway forwards to a service, and what db trusts as the caller (shared.middleware.authentication).
PRINCIPAL = {"id": "usr_bench", "type": "user", "role": "admin", "permissions": ["*"], "org_id": None}
PRINCIPAL_HEADER = {"x-dotdo-principal": json.dumps(PRINCIPAL)}
THINGS = 20
JSON_TYPE = {"content-type": "application/json"}
CLIENT = {"cf-connecting-ip": "203.0.113.7"}  # what Cloudflare's edge sets on every request


@dataclass
class Operation:
    label: str
    worker: str  # under the repo copy
    options: dict[str, Any] = field(default_factory=dict)
    rpc: bool = False  # timed by rpc_ms, else by request_ms
    distinct: bool = False  # `requests` holds one request per call (no two alike), sent once each


def _thing(n: int) -> dict[str, Any]:
    return {"ns": "bench", "id": f"t{n}", "type": "Doc", "data": {"n": n}, "content": f"benchmark thing number {n}"}


def prepare(repo: Path, bundles: dict[str, Path], state: Path) -> dict[str, Any]:
    """Untimed jobs that leave db's and auth's D1 migrated and populated; what the timed jobs need of them."""
    db_file, auth_file = state / "db.sqlite", state / "auth.sqlite"
    puts = [
        {"method": "PUT", "path": f"/things/bench/t{n}", "headers": PRINCIPAL_HEADER | JSON_TYPE, "body": _thing(n)}
        for n in range(THINGS)
    ]
    db = check(repo, repo / "workers/db", bundle=bundles["db"], requests=puts, save_d1={"DB": db_file})
    if not db.ok or any(r["status"] not in (200, 201) for r in db.responses):
        raise SystemExit(f"preparing db's D1 failed: {db.error or db.responses[:1]}")
    # The bootstrap key is stored on its first use; then a session is started in the saved database (a row
    # as sessions.create_session writes it) and its access token issued with auth's own tokens module.
    auth = check(
        repo,
        repo / "workers/auth",
        bundle=bundles["auth"],
        secrets=AUTH_SECRETS | {"BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY},
        requests=[{"path": "/me", "headers": {"authorization": f"Bearer {BOOTSTRAP_KEY}"}}],
        save_d1={"AUTH_DB": auth_file},
    )
    if not auth.ok or auth.status != 200:
        raise SystemExit(f"preparing auth's D1 failed: {auth.error or auth.body}")
    return {"db": db_file, "auth": auth_file, "jwt": _session(repo, auth_file)}


def _session(repo: Path, auth_file: Path) -> str:
    """A live session of `usr_bench` in auth's saved D1, and an access token of it (HS256, JWT_SECRET)."""
    worker_root(repo / "workers" / "auth" / "tests" / "x")  # auth's src/ on sys.path, for `tokens`
    import tokens

    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    expires = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 86400))
    with sqlite3.connect(auth_file) as db:
        db.execute(
            "INSERT INTO sessions (id, user_id, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            ("ses_bench", PRINCIPAL["id"], expires, now, now),
        )
    keys = tokens.SigningKeys(current_kid="k1", keys={"k1": AUTH_SECRETS["JWT_SECRET"]})
    claims = {"role": "admin", "org_id": None, "permissions": ["*"]}
    settings = load_local(repo / "workers" / "auth").vars  # the environment check() runs: the local one
    return tokens.issue_access_token(
        keys,
        subject=PRINCIPAL["id"],
        session_id="ses_bench",
        issuer=settings["JWT_ISSUER"],
        audience=settings["JWT_AUDIENCE"],
        claims=claims,
        ttl=3600,  # the longest an access token of ours lives: the run must end within the hour
    )


def operations(prepared: dict[str, Any], calls: int) -> list[Operation]:
    key = {"authorization": f"Bearer {BOOTSTRAP_KEY}"}
    db_d1 = {"d1_files": {"DB": prepared["db"]}}
    auth_d1 = {
        "d1_files": {"AUTH_DB": prepared["auth"]},
        "secrets": AUTH_SECRETS | {"BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY},
    }
    gateway = {
        "vars": {"RATE_LIMIT_DEFAULT": str(calls * 10)},
        "services": {
            "AUTH_SERVICE": {"validate_token": {"result": PRINCIPAL | {"key_id": "key_bench"}}},
            "DB_SERVICE": {"fetch": {"body": {"success": True, "data": [_thing(1)], "meta": {"total": 1}}}},
        },
        "requests": [{"path": "/db/things?ns=bench", "headers": key | CLIENT}],
    }
    upsert = {"rpc": ("upsert_thing", [PRINCIPAL, _thing(1) | {"data": {"n": "updated"}}]), "requests": []}
    return [
        Operation("gateway GET /db/things (key)", "workers/gateway", gateway),
        Operation(
            "dispatcher forward", "dispatcher", {"requests": [{"path": "/api/db/things?ns=bench", "headers": CLIENT}]}
        ),
        Operation("db GET /things/{ns}/{id}", "workers/db", db_d1 | {"requests": [_get("/things/bench/t1")]}),
        Operation("db GET /things", "workers/db", db_d1 | {"requests": [_get("/things?ns=bench")]}),
        Operation("db GET /search", "workers/db", db_d1 | {"requests": [_get("/search?q=benchmark")]}),
        Operation("db upsert_thing (RPC)", "workers/db", db_d1 | upsert, rpc=True),
        Operation(
            "auth validate_token key (RPC)",
            "workers/auth",
            auth_d1 | {"rpc": ("validate_token", [BOOTSTRAP_KEY]), "requests": []},
            rpc=True,
        ),
        Operation(
            "auth validate_token JWT (RPC)",
            "workers/auth",
            auth_d1 | {"rpc": ("validate_token", [prepared["jwt"]]), "requests": []},
            rpc=True,
        ),
        *newer_services(calls),
    ]


def _get(path: str) -> dict[str, Any]:
    return {"path": path, "headers": PRINCIPAL_HEADER}


#: The four providers' signing secrets webhooks requires (its wrangler.jsonc `secrets.required`).
WEBHOOK_SECRETS = {
    name: "whsec_" + "b" * 32
    for name in ("STRIPE_WEBHOOK_SECRET", "WORKOS_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET", "RESEND_WEBHOOK_SECRET")
}


def _stripe_deliveries(calls: int) -> list[dict[str, Any]]:
    """`calls` distinct Stripe events, signed as Stripe signs them (`t=<s>,v1=<HMAC-SHA256 hex of "t.body">`): each
    is recorded and sent to the queue, none a duplicate."""
    secret, issued = WEBHOOK_SECRETS["STRIPE_WEBHOOK_SECRET"].encode(), str(int(time.time()))
    deliveries = []
    for n in range(calls):
        event = {"id": f"evt_bench_{n}", "type": "payment_intent.succeeded", "data": {"object": {"id": f"pi_{n}"}}}
        body = json.dumps(event).encode()
        signature = hmac.new(secret, issued.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = JSON_TYPE | CLIENT | {"stripe-signature": f"t={issued},v1={signature}"}
        deliveries.append({"method": "POST", "path": "/stripe", "headers": headers, "body": body.decode()})
    return deliveries


def newer_services(calls: int) -> list[Operation]:
    """The main operation of each service that landed after issue #17 was filed (mcp's aggregator and deploy, which
    call every service and Cloudflare's API, are not measured here)."""
    queue_writer = {"id": "svc_bench", "type": "service", "role": "service", "permissions": ["queue:write"]}
    job = {"type": "send-email", "payload": {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi"}}
    queue = {"secrets": {"WEBHOOK_SIGNING_SECRET": "q" * 40}, "rpc": ("enqueue", [queue_writer, job]), "requests": []}
    email_principal = {"x-dotdo-principal": json.dumps(PRINCIPAL | {"permissions": ["email:send"]})}
    preview = {"template": "notification", "data": {"title": "Build finished", "message": "All green"}}
    email = {
        "requests": [{"method": "POST", "path": "/preview", "headers": email_principal | JSON_TYPE, "body": preview}]
    }
    schedule = {"requests": [{"path": "/tasks", "headers": PRINCIPAL_HEADER}]}
    webhooks = {"secrets": WEBHOOK_SECRETS, "requests": _stripe_deliveries(calls)}
    return [
        Operation("queue enqueue (RPC)", "workers/queue", queue, rpc=True),
        Operation("webhooks POST /stripe (signed)", "workers/webhooks", webhooks, distinct=True),
        Operation("schedule GET /tasks", "workers/schedule", schedule),
        Operation("email POST /preview (template)", "workers/email", email),
    ]


def measure(repo: Path, bundle: Path, op: Operation, calls: int) -> dict[str, Any]:
    """One fresh Pyodide: the operation's first call and the median of the others, in ms."""
    options = dict(op.options)
    if op.rpc:
        options["rpc_repeat"] = calls
    elif not op.distinct:
        options["repeat"] = calls
    result = check(repo, repo / op.worker, bundle=bundle, fresh_process=True, timeout=600, **options)
    if not result.ok:
        raise SystemExit(f"{op.label}: {result.error}")
    statuses = {r["status"] for r in result.responses}
    if not op.rpc and statuses - {200, 201}:
        raise SystemExit(f"{op.label}: answered {statuses}: {result.body}")
    times = result.rpc_ms if op.rpc else result.request_ms
    standins = result.rpc_standin_ms if op.rpc else result.request_standin_ms
    imports = result.first_rpc_imports if op.rpc else result.first_request_imports
    warm = statistics.median(times[1:])
    # what the warm calls took without the stand-ins' JavaScript (D1's SQLite, ...: another process's on Cloudflare)
    own = statistics.median(t - s for t, s in zip(times[1:], standins[1:], strict=True))
    return {"first": times[0], "warm": warm, "standin": warm - own, "own": own, "imports": imports}


#: What `--against REV` takes from that revision: the workers' code and the code bundled into them.
WORKER_CODE = ("shared", "workers", "dispatcher")
WORKERS = {
    "hello": "tests/fixtures/workers/hello",
    "gateway": "workers/gateway",
    "dispatcher": "dispatcher",
    "db": "workers/db",
    "auth": "workers/auth",
    "queue": "workers/queue",
    "webhooks": "workers/webhooks",
    "schedule": "workers/schedule",
    "email": "workers/email",
}


@dataclass
class Tree:
    """A copy of the repo whose workers are measured: its bundles and the D1 files prepared for them."""

    name: str
    repo: Path
    bundles: dict[str, Path] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    imports: dict[str, set[str]] = field(default_factory=dict)


def tree(name: str, tmp: Path, revision: str | None) -> Tree:
    """This checkout copied (with its uncommitted changes), or with the workers' code of `revision` instead."""
    repo = copy_repo(ROOT, tmp / name / "repo")
    if revision is not None:
        for folder in WORKER_CODE:
            shutil.rmtree(repo / folder)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, *WORKER_CODE],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(repo, filter="data")
    bundles = {n: build(repo, repo / path, tmp / name / "bundles" / n).outdir for n, path in WORKERS.items()}
    return Tree(name, repo, bundles)


def main(runs: int, calls: int, against: str | None, write_docs: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trees = [tree("this tree", Path(tmp), None)]
        if against:
            trees.append(tree(against, Path(tmp), against))
        hello = Operation("hello GET /health", WORKERS["hello"], {"requests": ["/health"]})
        plans = []
        for t in trees:
            state = Path(tmp) / t.name / "state"
            state.mkdir()
            ops = operations(prepare(t.repo, t.bundles, state), calls)
            t.rows = {op.label: [] for op in [hello, *ops]}
            plans.append((t, ops))
        for round_number in range(runs):
            print(f"round {round_number + 1}/{runs}", file=sys.stderr)
            for index in range(len(plans[0][1])):
                for t, ops in plans:  # each operation right after a hello of its own: both under the same load
                    op = ops[index]
                    base = measure(t.repo, t.bundles["hello"], hello, calls)
                    t.rows[hello.label].append(
                        base | {"first_x": 1.0, "warm_x": 1.0, "own_x": base["own"] / base["warm"]}
                    )
                    got = measure(t.repo, t.bundles[Path(op.worker).name], op, calls)
                    got |= {
                        "first_x": got["first"] / base["first"],
                        "warm_x": got["warm"] / base["warm"],
                        "own_x": got["own"] / base["warm"],
                    }
                    t.rows[op.label].append(got)
                    t.imports.setdefault(op.label, set()).update(got["imports"])
        for t in trees:
            print(f"\n== {t.name}")
            report(t.rows, t.imports, runs, calls)
        if write_docs:
            table = markdown(trees[0].rows, runs, calls)
            write_block("pyodide", table, heading="Pyodide request paths")
            print(f"\n{table}")


def markdown(rows: dict[str, list[dict[str, Any]]], runs: int, calls: int) -> str:
    """This tree's figures as the table `--write-docs` puts into docs/performance.md."""
    lines = [
        f"`.venv/bin/python benchmarks/pyodide_paths.py --runs {runs} --calls {calls} --write-docs` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores; medians over the rounds, "
        "x = against the hello measured right before, its spread min-max; target x <= 3; the stand-ins' share is "
        "what their JavaScript took of a warm call, work that is another process's on Cloudflare)",
        "",
        "| operation | first ms | x | warm ms | x [spread] | of which stand-ins ms | x without them | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, measured in rows.items():
        first, warm = (statistics.median(r[k] for r in measured) for k in ("first", "warm"))
        first_x, warm_x = (statistics.median(r[k] for r in measured) for k in ("first_x", "warm_x"))
        low, high = min(r["warm_x"] for r in measured), max(r["warm_x"] for r in measured)
        standin, own_x = (statistics.median(r[k] for r in measured) for k in ("standin", "own_x"))
        met = "met" if first_x <= TARGET and warm_x <= TARGET else "**not met**"
        lines.append(
            f"| {label} | {first:.1f} | {first_x:.1f} | {warm:.2f} | {warm_x:.1f} [{low:.1f}-{high:.1f}] "
            f"| {standin:.2f} | {own_x:.1f} | {met} |"
        )
    return "\n".join(lines)


def report(rows: dict[str, list[dict[str, Any]]], imports: dict[str, set[str]], runs: int, calls: int) -> None:
    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[label])

    def spread(label: str, key: str, digits: int) -> str:
        return f"[{min(r[key] for r in rows[label]):.{digits}f}-{max(r[key] for r in rows[label]):.{digits}f}]"

    print(
        f"Pyodide request paths (real SDK, a fresh Pyodide per operation, {calls} calls, {runs} rounds; each "
        f"operation measured right after a hello; ms and x (against that hello's GET /health) are medians over "
        f"the rounds, [min-max]; target x <= {TARGET:g})"
    )
    head = f"{'operation':<32}{'1st ms':>8}{'x':>6}{'[x spread]':>12}{'warm ms':>9}{'x':>6}{'[x spread]':>12}"
    print(f"{head}  {'warm ms spread':>15}{'stand-ins':>10}{'x w/o':>7}  target")
    for label in rows:
        first_x, warm_x = med(label, "first_x"), med(label, "warm_x")
        met = "met" if first_x <= TARGET and warm_x <= TARGET else "NOT met"
        print(
            f"{label:<32}{med(label, 'first'):>8.1f}{first_x:>6.1f}{spread(label, 'first_x', 1):>12}"
            f"{med(label, 'warm'):>9.3f}{warm_x:>6.1f}{spread(label, 'warm_x', 1):>12}"
            f"  {spread(label, 'warm', 2):>15}{med(label, 'standin'):>10.3f}{med(label, 'own_x'):>7.1f}  {met}"
        )
    for label, names in imports.items():
        if names:
            print(f"  note: {label}'s first call imported {sorted(names)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--against", metavar="REV", help="also measure the workers' code (shared/, workers/, dispatcher/) of REV"
    )
    parser.add_argument("--write-docs", action="store_true", help="put this tree's table into docs/performance.md")
    args = parser.parse_args()
    main(args.runs, args.calls, args.against, args.write_docs)
