"""Every worker's upload bundle under real Pyodide (npm pyodide 314) with Cloudflare's real Python SDK.

Each bundle is built as `wrangler deploy` would upload it (`dotdo_dev.build`) and mounted alone:
nothing from the repo is visible to it. The main module is imported under workerd's global-scope
rules, requests go through the real SDK's Request/Response, RPC arguments are converted as the SDK
converts them, and `scheduled`/`queue` are called as workerd calls them. Broken bundles and broken
fixtures must fail naming the cause.
"""

import base64
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from dotdo_dev.build import build
from dotdo_dev.conformance import check
from dotdo_dev.testing import copy_repo

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "workers"
SERVICES = sorted(p.parent.name for p in (ROOT / "workers").glob("*/wrangler.jsonc"))
JWT_SECRET = "conformance-jwt-secret-0123456789abcdef0123"
AUTH_SECRETS = {"JWT_SECRET": JWT_SECRET, "API_KEY_SECRET": JWT_SECRET}


def run(bundles, folder: Path, **kwargs):
    return check(ROOT, folder, bundle=bundles(folder), **kwargs)


# -- the runner itself -------------------------------------------------------------------------------


def test_the_real_sdk_from_the_bundle_and_pyodide_314_are_used(bundles):
    result = run(bundles, FIXTURES / "hello", rpc=("ping", []))
    assert result.ok, result.error
    assert result.raw["pyodide_version"].startswith("314.")
    # the SDK vendored into the bundle, where workerd mounts it; not our CPython stand-in
    assert result.raw["sdk"] == "/session/metadata/python_modules/workers/__init__.py"
    assert (result.status, result.body, result.rpc) == (200, "hello", "pong")
    assert result.first_request_imports == []


def test_a_restored_snapshot_is_the_interpreter_a_fresh_boot_gives(bundles):
    # Jobs restore Pyodide from a memory snapshot taken right after it boots (as workerd restores a
    # Python Worker); nothing imported or mounted before it is taken, so nothing differs.
    booted = run(bundles, FIXTURES / "hello", rpc=("ping", []), snapshot=False)
    restored = run(bundles, FIXTURES / "hello", rpc=("ping", []))
    assert booted.ok, booted.error
    assert restored.ok, restored.error
    assert (booted.raw["from_snapshot"], restored.raw["from_snapshot"]) == (False, True)
    assert restored.raw["interpreter_modules"] == booted.raw["interpreter_modules"]
    assert "entry" not in restored.raw["interpreter_modules"]  # the worker is imported after
    for result in (booted, restored):
        assert (result.status, result.body, result.rpc, result.first_request_imports) == (200, "hello", "pong", [])
    assert restored.pyodide_load_ms < booted.pyodide_load_ms


@pytest.mark.parametrize(
    ("flag", "on"),
    [
        ("python_workflows_implicit_dependencies", True),  # implied by python_workers after 2026-02-25
        ("python_no_global_handlers", True),  # enable date 2025-08-14
        ("python_workers_20250116", True),  # pywrangler: 3.13 and later from 2025-09-29
        ("no_such_flag", False),
    ],
)
def test_compat_flags_follow_the_compatibility_date(bundles, flag, on):
    # What the SDK reads from _cloudflare_compat_flags is what the worker's date and flags enable.
    call = {"module": "_cloudflare_compat_flags", "function": "__getattr__", "args": [flag]}
    result = run(bundles, FIXTURES / "hello", call=call)
    assert result.ok, result.error
    assert result.raw["call"] is on


# -- bundles: what would be uploaded, and only that ---------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_bundle_answers_health_alone(bundles, service):
    result = run(bundles, ROOT / "workers" / service)
    assert result.ok, result.error
    assert result.status == 200
    assert result.json()["success"] is True
    # the request path was imported at the top level: a first request imports nothing of significance
    assert result.first_request_imports == [], result.first_request_imports


def test_a_file_of_shared_missing_from_a_bundle_is_named(bundles, tmp_path):
    broken = tmp_path / "gateway-bundle"
    shutil.copytree(bundles(ROOT / "workers" / "gateway"), broken)
    (broken / "python_modules" / "shared" / "envelope.py").unlink()
    result = check(ROOT, ROOT / "workers" / "gateway", bundle=broken)
    assert not result.ok
    assert result.stage == "import"
    assert result.module == "shared.envelope"
    assert "worker 'gateway'" in result.error
    assert "'shared.envelope' is not in the bundle" in result.error


def test_a_module_pyodide_lacks_is_named(bundles):
    result = run(bundles, FIXTURES / "missing-module")
    assert not result.ok
    assert result.stage == "import"
    assert result.module == "psycopg2"
    assert "worker 'missing-module'" in result.error
    assert "entry.py:3" in result.error


# -- the dispatcher ----------------------------------------------------------------------------------


def test_dispatcher_routes_through_the_sdk(bundles):
    result = run(bundles, ROOT / "dispatcher", path="/health")
    assert result.ok, result.error
    assert result.status == 404  # dispatcher.do itself routes nowhere
    assert result.json()["error"]["code"] == "SERVICE_NOT_FOUND"


def test_dispatcher_forwards_account_level_services_by_binding_and_the_rest_to_the_namespace(bundles):
    # db is account-level: its service binding DB_SERVICE (the SDK's Fetcher wrapper), never DISPATCHER.get;
    # orders (a generated service) is a script of the namespace: DISPATCHER.get("orders").
    result = run(bundles, ROOT / "dispatcher", requests=["/api/db/things?x=1", "/api/orders/items?x=1"])
    assert result.ok, result.error
    assert [r["status"] for r in result.responses] == [200, 200]
    assert result.json(0)["data"] == {"stub": "DB_SERVICE", "url": "https://dispatcher.do/things?x=1"}
    assert result.json(1)["data"] == {"stub": "orders", "url": "https://dispatcher.do/items?x=1"}


def test_dispatcher_limits_each_client_address_through_the_sdks_ratelimit_wrapper(bundles):
    # The stand-in is a JS `Ratelimit`, which the real SDK wraps: the options dict must reach it as a JS
    # object and `{success}` come back with attribute access, as on Cloudflare.
    limiter = {"FRONT_DOOR_LIMITER": {"kind": "ratelimit", "namespace_id": "1003", "limit": 2, "period": 60}}
    first, second = {"cf-connecting-ip": "203.0.113.7"}, {"cf-connecting-ip": "2001:db8:0:1::5"}
    requests = [
        {"path": "/api/db/things", "headers": first},
        {"path": "/api/auth/me", "headers": first},
        {"path": "/api/db/things", "headers": first | {"authorization": "Bearer sk_live_guess"}},
        {"path": "/api/db/things", "headers": second},
        {"path": "/api/db/things"},
    ]
    result = run(bundles, ROOT / "dispatcher", requests=requests, bindings=limiter)
    assert result.ok, result.error
    assert [r["status"] for r in result.responses] == [200, 200, 429, 200, 200]
    refused = result.responses[2]
    assert refused["headers"]["retry-after"] == "60"
    assert json.loads(refused["body"])["error"]["code"] == "RATE_LIMITED"
    limits = [(c["key"], c["success"]) for c in result.raw["calls"] if c["method"] == "limit"]
    assert limits == [
        ("ip:203.0.113.7", True),
        ("ip:203.0.113.7", True),
        ("ip:203.0.113.7", False),
        ("ip:2001:db8:0:1::/64", True),
        ("unknown", True),
    ]
    # the refused request reached no service
    fetched = [c["binding"] for c in result.raw["calls"] if c["method"] == "fetch"]
    assert fetched == ["DB_SERVICE", "AUTH_SERVICE", "DB_SERVICE", "DB_SERVICE"]


# -- RPC, fixtures, refusals -------------------------------------------------------------------------


def test_fixture_workers_and_rpc_conversion(bundles):
    callee = run(bundles, FIXTURES / "callee", rpc=("echo", [{"a": [1, 2.0, None]}]))
    assert callee.ok, callee.error
    assert callee.json() == {"success": True, "data": {"worker": "callee"}}
    assert callee.rpc == {"a": [1, 2, None]}
    caller = run(bundles, FIXTURES / "caller", rpc=("call", ["add", [1, 2]]))
    assert caller.ok, caller.error
    assert caller.rpc == {"stub": "CALLEE", "method": "add", "args": [1, 2]}


def test_rpc_refusals_match_the_real_sdk(bundles):
    # The same method fails locally (tests/runtime/test_platform.py) with the same words.
    result = run(bundles, FIXTURES / "callee", rpc=("unsendable", []))
    assert not result.ok
    assert result.stage == "rpc"
    assert "cannot be sent over RPC" in result.error


def test_only_the_classs_own_methods_are_rpc_methods_as_workerd_lists_them(bundles):
    for name in ("inherited", "static", "_private"):
        result = run(bundles, FIXTURES / "callee", rpc=(name, []))
        assert not result.ok, name
        assert result.stage == "rpc"
        assert f'does not implement the method "{name}"' in result.error
    added = run(bundles, FIXTURES / "callee", rpc=("added_later", []))
    assert added.ok, added.error
    assert added.rpc == "set on the class after its body, as shared.service does"


def test_a_post_with_a_json_body_reaches_the_worker(bundles):
    body = {"n": 1, "text": "héllo"}
    result = run(
        bundles,
        FIXTURES / "callee",
        requests=[{"method": "POST", "path": "/echo", "headers": {"content-type": "application/json"}, "body": body}],
    )
    assert result.ok, result.error
    echoed = result.json()
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == body
    assert echoed["headers"]["content-type"] == "application/json"


def test_a_thread_fails_with_a_clear_message(bundles):
    result = run(bundles, FIXTURES / "uses-thread")
    assert not result.ok
    assert result.stage == "requests"
    assert "cannot start threads" in result.error


def test_a_blocking_socket_fails_with_a_clear_message(bundles):
    result = run(bundles, FIXTURES / "uses-socket")
    assert not result.ok
    assert result.stage == "requests"
    assert "cannot open blocking sockets" in result.error


# -- the global scope --------------------------------------------------------------------------------


def _with_entry_prefix(bundles, tmp_path, folder: Path, code: str) -> Path:
    """A copy of a worker's bundle whose main module starts with `code`."""
    copy = tmp_path / f"{folder.name}-bundle"
    shutil.copytree(bundles(folder), copy)
    entry = copy / "entry.py"
    entry.write_text(code + "\n" + entry.read_text())
    return copy


@pytest.mark.parametrize("service", [*SERVICES, "dispatcher"])
def test_randomness_at_import_fails_with_workerds_message(bundles, tmp_path, service):
    folder = ROOT / "dispatcher" if service == "dispatcher" else ROOT / "workers" / service
    bundle = _with_entry_prefix(bundles, tmp_path, folder, "import random\nSEED = random.random()")
    result = check(ROOT, folder, bundle=bundle)
    assert not result.ok
    assert result.stage == "import"
    assert "Disallowed operation called within global scope" in result.error
    assert "random.random" in result.error


@pytest.mark.parametrize(
    ("code", "what"),
    [
        ("import os\nKEY = os.urandom(16)", "os.urandom"),
        ("import secrets\nKEY = secrets.token_hex(8)", "random.SystemRandom"),
        ("import uuid\nID = uuid.uuid4()", "os.urandom"),
        ("import time\nSTARTED = time.time()", "time.time"),
        ("import asyncio\nasyncio.get_event_loop().call_later(1, print)", "setTimeout"),
        ("from js import fetch\nfetch('https://example.com')", "fetch"),
    ],
)
def test_timers_clocks_and_io_at_import_fail(bundles, tmp_path, code, what):
    bundle = _with_entry_prefix(bundles, tmp_path, FIXTURES / "hello", code)
    result = check(ROOT, FIXTURES / "hello", bundle=bundle)
    assert not result.ok
    assert result.stage == "import"
    assert "Disallowed operation called within global scope" in result.error
    assert what in result.error


def test_the_same_randomness_inside_a_handler_passes(bundles, tmp_path):
    code = "import random\n\ndef roll():\n    return random.random()\n"
    bundle = _with_entry_prefix(bundles, tmp_path, FIXTURES / "hello", code)
    result = check(ROOT, FIXTURES / "hello", bundle=bundle, call={"module": "entry", "function": "roll"})
    assert result.ok, result.error
    assert 0 <= result.raw["call"] < 1


# -- handlers as workerd calls them --------------------------------------------------------------------


def test_auths_housekeeping_runs_over_rpc_as_the_schedule_service_calls_it(bundles):
    # auth has no cron of its own: schedule's hourly task calls remove_expired over RPC (its scheduled
    # handler under Pyodide: test_schedules_scheduled_handler_runs_exactly_its_crons_tasks_with_retries_under_pyodide).
    # Here the cleanup itself runs under Pyodide, on auth's own D1, for both scopes.
    schedule = {"id": "svc_schedule", "type": "service", "role": "service", "permissions": ["auth:maintain"]}
    auth = ROOT / "workers" / "auth"
    sessions = run(bundles, auth, secrets=AUTH_SECRETS, rpc=("remove_expired", [schedule, {"scope": "sessions"}]))
    assert sessions.ok, sessions.error
    assert sessions.rpc == {"oauth_states": 0, "refresh_tokens": 0, "sessions": 0}
    keys = run(bundles, auth, secrets=AUTH_SECRETS, rpc=("remove_expired", [schedule, {"scope": "api_keys"}]))
    assert keys.ok, keys.error
    assert keys.rpc == {"api_keys": 0}
    no_cron = run(bundles, auth, secrets=AUTH_SECRETS, scheduled={"cron": "17 * * * *"})
    assert (no_cron.ok, no_cron.stage) == (False, "scheduled")
    assert "has no scheduled handler" in no_cron.error


def test_scheduled_and_queue_handlers_taking_only_the_event_run(bundles, tmp_path):
    # workerd calls them relaxed: Cloudflare's example 08-cron declares scheduled(self, controller).
    folder = FIXTURES / "hello"
    without = check(ROOT, folder, bundle=bundles(folder), scheduled={"cron": "* * * * *"})
    assert "has no scheduled handler" in without.error  # the one below is the one added
    copy = tmp_path / "one-argument"
    shutil.copytree(bundles(folder), copy)
    entry = copy / "entry.py"
    entry.write_text(
        entry.read_text() + "\n    async def scheduled(self, controller):\n        print('cron', controller.cron)\n"
        "\n    async def queue(self, batch):\n        batch.ackAll()\n"
    )
    ran = check(ROOT, folder, bundle=copy, scheduled={"cron": "*/5 * * * *"})
    assert ran.ok, ran.error
    queue = check(ROOT, folder, bundle=copy, queue={"queue": "q", "messages": [{"id": "m1", "body": {}}]})
    assert queue.ok, queue.error
    assert queue.settled["ackAll"] is True  # the batch the handler got was the real one
    (copy / "entry.py").write_text(
        entry.read_text().replace("scheduled(self, controller)", "scheduled(self, controller, env, ctx, extra)")
    )
    refused = check(ROOT, folder, bundle=copy, scheduled={"cron": "* * * * *"})
    assert (refused.ok, refused.stage) == (False, "scheduled")
    assert "async def scheduled(self, controller, env, ctx)" in refused.error


def test_a_generated_service_imports_answers_and_consumes_its_queue(tmp_path):
    from dotdo_dev.generator.create_service import create_service

    repo = copy_repo(ROOT, tmp_path / "repo")
    service = create_service(repo, name="orders")
    bundle = build(repo, service, tmp_path / "bundle").outdir
    assert "python_modules/shared/envelope.py" in (bundle / "metadata.json").read_text()
    # a method the service kit set on Default (operations.py), called under Pyodide with the real SDK
    reader = {"id": "usr_reader", "type": "user", "permissions": ["orders:read"]}
    result = check(repo, service, bundle=bundle, rpc=("list_items", [reader, 1, 10]))
    assert result.ok, result.error
    assert result.status == 200
    assert result.json()["data"]["service"] == "orders"
    assert (result.rpc["items"], result.rpc["total"]) == ([], 0)
    assert result.first_request_imports == []
    # The consumer under workerd's call shape, with a real batch: a valid change event is acked,
    # a malformed one is not acked (it goes back to the queue or to the dead-letter queue).
    good = {"id": "msg_1", "type": "orders.item.created", "data": {"item_id": "itm_1"}, "timestamp": "2026-12-02"}
    messages = [{"id": "m1", "body": good, "attempts": 1}, {"id": "m2", "body": {"nonsense": True}, "attempts": 1}]
    consumed = check(repo, service, bundle=bundle, queue={"queue": "orders-events", "messages": messages})
    assert consumed.ok, consumed.error
    assert "m1" in consumed.settled["acked"]
    assert "m2" not in consumed.settled["acked"]
    assert [r["id"] for r in consumed.settled["retried"]] == ["m2"]


# -- services ----------------------------------------------------------------------------------------


def test_db_health_checks_the_schema_on_an_isolates_first_request_only(bundles):
    # On Cloudflare the D1 binding object is made anew per request: /health once asked D1 for the schema
    # (the migrations' version, every declared table's columns) on every call. Now a monitor polling it
    # costs no query after the isolate's first, and ?deep=1 still writes.
    db = ROOT / "workers" / "db"
    bundle = bundles(db)
    once = check(ROOT, db, bundle=bundle, requests=["/health"])
    polled = check(ROOT, db, bundle=bundle, requests=["/health"], repeat=5)
    deep = check(ROOT, db, bundle=bundle, requests=["/health", "/health?deep=1"])
    for result in (once, polled, deep):
        assert result.ok, result.error
        assert {r["status"] for r in result.responses} == {200}
    assert once.json()["data"]["schema_version"] == 3
    assert once.d1_executed["DB"] > 0  # the first request migrated the empty database
    assert polled.d1_executed == once.d1_executed
    assert deep.d1_executed["DB"] > once.d1_executed["DB"]
    assert deep.json(1)["data"]["storage"] == {"writable": True}


def test_db_writes_and_indexes_a_thing_under_pyodide(bundles):
    thing = {"ns": "docs", "id": "a", "type": "Doc", "data": {"n": 1}, "content": "full text under pyodide"}
    principal = {"id": "svc_conformance", "type": "service", "role": "service", "permissions": ["db:write"]}
    result = run(bundles, ROOT / "workers" / "db", rpc=("upsert_thing", [principal, thing]))
    assert result.ok, result.error
    assert result.json()["data"]["schema_version"] == 3  # /health ran the migrations (FTS5, triggers)
    assert result.rpc["created"] is True
    assert result.rpc["data"] == {"n": 1}
    assert result.rpc["owner_id"] == "svc_conformance"


def _token(secret: str, *, expired: bool) -> str:
    import time

    from dotdo_dev.testing import worker_root

    worker_root(ROOT / "workers" / "auth" / "tests" / "x")  # auth's src/ on sys.path for `tokens`
    import tokens

    keys = tokens.SigningKeys(current_kid="k1", keys={"k1": secret})
    now = time.time() - (7200 if expired else 0)
    return tokens.issue_access_token(
        keys, subject="usr_1", session_id="ses_1", issuer="https://auth.do", audience="dotdo", ttl=60, now=now
    )


@pytest.mark.parametrize(
    ("secret", "expired", "code"),
    [(JWT_SECRET, True, "TOKEN_EXPIRED"), ("another-secret-0123456789abcdef0123456789", False, "INVALID_TOKEN")],
)
def test_auth_verifies_jwts_with_the_standard_library_under_pyodide(bundles, secret, expired, code):
    # TOKEN_EXPIRED is only said after the signature checked out: the standard library's HMAC ran in Pyodide
    # (our HS256 tokens no longer go through python-jose, which is for WorkOS's RS256).
    result = run(
        bundles,
        ROOT / "workers" / "auth",
        secrets=AUTH_SECRETS,
        rpc=("validate_token", [_token(secret, expired=expired)]),
    )
    assert result.stage == "rpc"
    assert not result.ok
    assert f'"code":"{code}"' in result.error


def test_auths_jwt_path_imports_nothing_on_its_first_call(bundles):
    # HS256 needs only the standard library, imported at the top level like jose (kept for RS256): on Cloudflare
    # both are in the memory snapshot, not imported per isolate.
    result = run(
        bundles,
        ROOT / "workers" / "auth",
        secrets=AUTH_SECRETS,
        requests=[{"path": "/me", "headers": {"authorization": f"Bearer {_token(JWT_SECRET, expired=True)}"}}],
    )
    assert result.ok, result.error
    assert result.status == 401
    assert result.json()["error"]["code"] == "TOKEN_EXPIRED"
    assert result.first_request_imports == []


def test_the_gateways_rate_limiter_runs_as_a_durable_object_under_pyodide(bundles):
    # RateLimiter(state, env) with a JS DurableObjectState whose storage is a DurableObjectStorage.
    calls = {"class": "RateLimiter", "method": "hit", "args": [2, 60], "calls": 3}
    result = run(bundles, ROOT / "workers" / "gateway", durable_object=calls)
    assert result.ok, result.error
    verdicts = result.raw["durable_object"]
    assert [v["allowed"] for v in verdicts] == [True, True, False]
    assert [v["remaining"] for v in verdicts] == [1, 0, 0]
    assert verdicts[2]["retry_after"] >= 1


def test_the_gateways_authenticated_path_counts_exactly_under_pyodide(bundles):
    # The whole request path: the bearer token checked by an auth stand-in over RPC, the limiter
    # Durable Object reached through its namespace binding, the request forwarded to a db stand-in.
    principal = {"type": "user", "id": "usr_1", "role": "admin", "permissions": ["*"], "org_id": None}
    services = {
        "AUTH_SERVICE": {"validate_token": {"result": principal}},
        "DB_SERVICE": {"fetch": {"body": {"success": True, "data": {"things": []}}}},
    }
    hit = {"path": "/db/things", "headers": {"authorization": "Bearer sk_live_" + "a" * 40}}
    result = run(
        bundles,
        ROOT / "workers" / "gateway",
        vars={"RATE_LIMIT_DEFAULT": "2"},
        services=services,
        requests=[hit, hit, hit],
    )
    assert result.ok, result.error
    assert [r["status"] for r in result.responses] == [200, 200, 429]
    assert result.json(0)["data"] == {"things": []}
    assert result.json(2)["error"]["code"] == "RATE_LIMITED"
    assert [r["headers"].get("x-ratelimit-remaining") for r in result.responses] == ["1", "0", "0"]
    forwarded = [c for c in result.raw["calls"] if c["binding"] == "DB_SERVICE"]
    assert len(forwarded) == 2  # the refused request never reached db
    assert json.loads(forwarded[0]["principal"])["id"] == "usr_1"


def test_auth_verifies_rs256_with_the_pure_rsa_backend_under_pyodide(bundles):
    # WorkOS signs with RS256. On Cloudflare python-jose has no `cryptography`, only the pure `rsa`
    # package (the CPython test venv has cryptography, so only this test runs the path Cloudflare runs).
    import base64
    import time

    import rsa
    from jose import jwt

    bundle = bundles(ROOT / "workers" / "auth")
    assert not any(p.name.startswith("cryptography") for p in (bundle / "python_modules").iterdir())
    public, private = rsa.newkeys(1024)

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k", "n": b64(public.n), "e": b64(public.e)}
    claims = {"sub": "user_1", "iat": int(time.time()), "exp": int(time.time()) + 300}
    token = jwt.encode(claims, private.save_pkcs1().decode(), algorithm="RS256", headers={"kid": "k"})
    good = run(
        bundles,
        ROOT / "workers" / "auth",
        secrets=AUTH_SECRETS,
        call={"module": "tokens", "function": "verified_claims", "args": [token, jwk, "RS256"]},
    )
    assert good.ok, good.error
    assert good.raw["call"]["sub"] == "user_1"
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    bad = run(
        bundles,
        ROOT / "workers" / "auth",
        secrets=AUTH_SECRETS,
        call={"module": "tokens", "function": "verified_claims", "args": [forged, jwk, "RS256"]},
    )
    assert bad.stage == "call"
    assert "Invalid token" in bad.error


def test_a_sql_null_from_durable_object_storage_arrives_as_none(bundles, tmp_path):
    # workerd hands a DurableObjectStorage, which the SDK wraps and converts: NULL is None, not JsNull.
    # (An earlier stand-in had another class name, so the SDK did not wrap it and JsNull leaked through.)
    copy = tmp_path / "gateway-probe"
    shutil.copytree(bundles(ROOT / "workers" / "gateway"), copy)
    with (copy / "rate_limiter.py").open("a") as fh:
        fh.write(
            "\n\nasync def _probe(self):\n"
            '    row = self.ctx.storage.sql.exec("SELECT min(at) AS oldest FROM hits").one()\n'
            "    return {'is_none': row.oldest is None, 'storage': type(self.ctx.storage).__name__}\n"
            "\n\nRateLimiter.probe = _probe\n"
        )
    calls = {"class": "RateLimiter", "method": "probe", "args": []}
    result = check(ROOT, ROOT / "workers" / "gateway", bundle=copy, durable_object=calls)
    assert result.ok, result.error
    assert result.raw["durable_object"] == [{"is_none": True, "storage": "_BindingWrapper"}]


def test_auth_keeps_and_validates_keys_in_its_own_d1_under_pyodide(bundles):
    # auth's bundle with the bindings its config gives: its D1 (a stand-in on node:sqlite) and no service
    # binding at all. The bootstrap key is stored on first use and then validated, over HTTP and RPC,
    # through the real SDK's D1 wrapper: the whole identity store runs in auth, and nothing else is called.
    key = "sk_test_conformance_bootstrap_0123456789abcdefghij"
    result = run(
        bundles,
        ROOT / "workers" / "auth",
        secrets=AUTH_SECRETS | {"BOOTSTRAP_ADMIN_KEY": key},
        requests=[
            {"path": "/me", "headers": {"authorization": f"Bearer {key}"}},
            {"path": "/me", "headers": {"authorization": f"Bearer {key[:-4]}XXXX"}},
        ],
        rpc=("validate_token", [key]),
    )
    assert result.ok, result.error
    assert [r["status"] for r in result.responses] == [200, 401]
    assert result.json(0)["data"]["principal"]["permissions"] == ["*"]
    assert result.json(1)["error"]["code"] == "INVALID_API_KEY"
    assert (result.rpc["key_id"], result.rpc["role"]) == ("key_bootstrap", "admin")
    assert result.raw["calls"] == []


def test_auths_bundle_leaves_out_jose_parts_that_cannot_run_or_are_not_used(bundles):
    # wrangler.jsonc: jose's cryptography backend (no `cryptography` on Cloudflare) and its JWE module
    # (never imported). jose still loads, on its pure rsa backend (the RS256 test above runs it).
    modules = bundles(ROOT / "workers" / "auth") / "python_modules" / "jose"
    assert (modules / "jws.py").is_file()
    assert (modules / "backends" / "rsa_backend.py").is_file()
    assert not (modules / "backends" / "cryptography_backend.py").exists()
    assert not (modules / "jwe.py").exists()


# -- the deploy worker's outbound calls --------------------------------------------------------------


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def cloudflare_api(tmp_path):
    """The local Cloudflare API stand-in in a process of its own, on a free loopback port: (base URL, token)."""
    token = "conformance-cloudflare-token-0123456789"
    environ = {**os.environ, "DOTDO_STATE_DIR": str(tmp_path / "state"), "CLOUDFLARE_API_TOKEN": token}
    command = [sys.executable, "-m", "dotdo_dev", "cloudflare-api", "--port", "0", "--account-id", "a" * 32]
    process = subprocess.Popen(command, cwd=ROOT, env=environ, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+/client/v4)", line)
        assert match, line
        yield match.group(1), token
    finally:
        process.terminate()
        process.wait(10)


def test_deploy_uploads_with_httpx_through_the_sdks_fetch_under_pyodide(bundles, cloudflare_api):
    # The deploy worker's httpx client runs on the SDK's fetch-backed transport under Pyodide: its
    # multipart upload reaches a real HTTP server (the stand-in) and Cloudflare's refusal comes back.
    base, token = cloudflare_api
    principal = {"type": "user", "id": "usr_1", "role": "admin", "permissions": ["*"], "org_id": None, "key_id": "k1"}
    auth = {"AUTH_SERVICE": {"validate_token": {"result": principal}, "validate_api_key": {"result": principal}}}
    meta = {"main_module": "entry.py", "compatibility_date": "2026-11-01", "compatibility_flags": ["python_workers"]}

    def bundle(*services: str) -> str:
        bindings = [{"type": "service", "name": f"{s.upper()}_SERVICE", "service": s} for s in services]
        files = {"metadata.json": json.dumps(meta | {"bindings": bindings}).encode(), "entry.py": b"# orders\n"}
        return base64.b64encode(_tar_gz(files)).decode()

    def post(service: str, data: str) -> dict:
        body = {"service": service, "environment": "staging", "version": "1.0.0", "commit": "c" * 40, "bundle": data}
        headers = {"authorization": "Bearer sk_live_" + "a" * 40, "content-type": "application/json"}
        return {"method": "POST", "path": "/deploy", "headers": headers, "body": body}

    result = run(
        bundles,
        ROOT / "workers" / "deploy",
        secrets={"CLOUDFLARE_API_TOKEN": token},
        vars={"CLOUDFLARE_ACCOUNT_ID": "a" * 32, "CLOUDFLARE_API_URL": base},
        services=auth,
        requests=[post("orders", bundle("auth")), post("ledger", bundle("orders"))],
    )
    assert result.ok, result.error
    uploaded, refused = result.json(0), result.json(1)
    assert result.responses[0]["status"] == 201, uploaded
    assert (uploaded["data"]["status"], uploaded["data"]["service"]) == ("uploaded", "orders")
    assert result.responses[1]["status"] == 400, refused
    assert refused["error"]["details"]["cloudflare"]["code"] == 10143
    listed = httpx.get(
        f"{base}/accounts/{'a' * 32}/workers/dispatch/namespaces/dotdo-staging/scripts",
        headers={"authorization": f"Bearer {token}"},
    )
    assert [s["id"] for s in listed.json()["result"]] == ["orders"]


def test_schedules_scheduled_handler_runs_exactly_its_crons_tasks_with_retries_under_pyodide(bundles):
    # The hourly cron: auth's and db's housekeeping over their bindings (scripted stand-ins), in schedule's
    # own D1 (node:sqlite here) with the lease taken and given back; db failing every time is tried three
    # times (the backoff's asyncio.sleep and the attempt's wait_for under Pyodide's event loop).
    services = {
        "AUTH_SERVICE": {"remove_expired": {"result": {"oauth_states": 1, "refresh_tokens": 0, "sessions": 0}}},
        "DB_SERVICE": {"usage_stats": {"error": "db is down"}},
    }
    result = run(bundles, ROOT / "workers" / "schedule", services=services, scheduled={"cron": "17 * * * *"})
    assert result.ok, result.error
    assert result.raw["scheduled"] is True
    calls = [(c["binding"], c["method"]) for c in result.raw["calls"]]
    assert calls == [("AUTH_SERVICE", "remove_expired")] + [("DB_SERVICE", "usage_stats")] * 3


def test_auth_exchanges_a_workos_code_through_the_runtimes_fetch_under_pyodide(bundles):
    # auth calls WorkOS with workers.fetch (JavaScript's fetch on Cloudflare): under Pyodide the code
    # exchange and the JWKS fetch reach a WorkOS stand-in on loopback, and the RS256 access token it
    # signs is verified with the pure `rsa` backend the bundle carries.
    import http.server
    import threading
    import time

    import rsa
    from jose import jwt

    public, private = rsa.newkeys(1024)

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k1", "n": b64(public.n), "e": b64(public.e)}
    claims = {"sub": "user_01WORKOS", "iat": int(time.time()), "exp": int(time.time()) + 300, "sid": "s1"}
    token = jwt.encode(claims, private.save_pkcs1().decode(), algorithm="RS256", headers={"kid": "k1"})
    user = {"id": "user_01WORKOS", "email": "ada@example.com", "first_name": "Ada", "email_verified": True}
    seen = []

    class WorkOS(http.server.BaseHTTPRequestHandler):
        def _answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            seen.append(("POST", self.path, body))
            if body.get("code") != "good-code":
                return self._answer(400, {"error": "invalid_grant"})
            return self._answer(200, {"user": user, "access_token": token, "refresh_token": "r1"})

        def do_GET(self):
            seen.append(("GET", self.path, None))
            return self._answer(200, {"keys": [jwk]})

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WorkOS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        workos = {"WORKOS_CLIENT_ID": "client_123", "WORKOS_API_URL": f"http://127.0.0.1:{server.server_port}"}
        secrets = AUTH_SECRETS | {"WORKOS_API_KEY": "sk_test_workos"}
        good = run(
            bundles,
            ROOT / "workers" / "auth",
            vars=workos,
            secrets=secrets,
            call={"module": "sso", "function": "authenticate", "args": ["good-code"], "env": True},
        )
        bad = run(
            bundles,
            ROOT / "workers" / "auth",
            vars=workos,
            secrets=secrets,
            call={"module": "sso", "function": "authenticate", "args": ["used-code"], "env": True},
        )
    finally:
        server.shutdown()
    assert good.ok, good.error
    assert "'id': 'user_01WORKOS'" in good.raw["call"]  # WorkOSAuthentication, tokens kept out of its repr
    assert "'sid': 's1'" in good.raw["call"]
    assert token not in good.raw["call"]
    posted = [s for s in seen if s[0] == "POST"]
    assert posted[0][1] == "/user_management/authenticate"
    assert posted[0][2]["client_secret"] == "sk_test_workos"
    assert ("GET", "/sso/jwks/client_123", None) in seen
    assert bad.stage == "call"
    assert "INVALID_CODE" in bad.error or "invalid or expired" in bad.error


def test_a_services_mcp_tools_are_listed_over_rpc_under_pyodide(bundles):
    # The kit's aggregator methods on db's Default, called as workerd calls RPC methods (what mcp asks).
    reader = {"id": "usr_reader", "type": "user", "role": "user", "permissions": ["db:read"]}
    result = run(bundles, ROOT / "workers" / "db", rpc=("mcp_list_tools", [reader]))
    assert result.ok, result.error
    names = [tool["name"] for tool in result.rpc]
    assert "db_get" in names
    assert not [name for name in names if not name.startswith("db_")]
    assert all(tool["inputSchema"]["type"] == "object" for tool in result.rpc)


def test_the_mcp_aggregator_lists_and_calls_tools_over_its_bindings_under_pyodide(bundles):
    # mcp's bundle: the caller authenticated through AUTH_SERVICE, db's tools and db's answer over DB_SERVICE
    # (scripted stand-ins, their answers JavaScript objects as RPC gives them); the other bindings answer
    # nonsense, which is left out rather than failing the list.
    reader = {"id": "usr_reader", "type": "user", "role": "user", "permissions": ["db:read"]}
    tool = {"name": "db_get", "description": "Get a thing", "inputSchema": {"type": "object", "properties": {}}}
    answer = {
        "content": [{"type": "text", "text": '{"id": "t1"}'}],
        "isError": False,
        "structuredContent": {"id": "t1"},
    }
    services = {
        "AUTH_SERVICE": {"validate_token": {"result": reader}},
        "DB_SERVICE": {"mcp_list_tools": {"result": [tool]}, "mcp_call_tool": {"result": answer}},
    }
    headers = {"authorization": "Bearer sk_live_" + "a" * 40, "content-type": "application/json"}
    version = {"mcp-protocol-version": "2025-11-25"}

    def message(id_, method, params):
        return {
            "method": "POST",
            "path": "/mcp",
            "headers": headers | version,
            "body": {"jsonrpc": "2.0", "id": id_, "method": method, "params": params},
        }

    result = run(
        bundles,
        ROOT / "workers" / "mcp",
        services=services,
        requests=[
            message(1, "tools/list", {}),
            message(2, "tools/call", {"name": "db_get", "arguments": {"id": "t1"}}),
            {"method": "POST", "path": "/mcp", "headers": {"content-type": "application/json"}, "body": {}},
        ],
    )
    assert result.ok, result.error
    assert [r["status"] for r in result.responses] == [200, 200, 401]
    assert [t["name"] for t in result.json(0)["result"]["tools"]] == ["db_get"]
    assert result.json(1)["result"]["structuredContent"] == {"id": "t1"}
    assert "resource_metadata=" in result.responses[2]["headers"].get("www-authenticate", "")
    called = [(c["binding"], c["method"]) for c in result.raw["calls"]]
    assert ("DB_SERVICE", "mcp_call_tool") in called


D1_PROBE = '''
def rows(answer):
    return [row.to_py() if hasattr(row, "to_py") else dict(row) for row in answer.results]


async def schema_change(env):
    """The same SELECT before and after a column is added, and a batch that fails half-way."""
    await env.DB.exec("CREATE TABLE probe (a INTEGER)")
    await env.DB.prepare("INSERT INTO probe (a) VALUES (?)").bind(1).run()
    before = rows(await env.DB.prepare("SELECT * FROM probe").all())
    await env.DB.exec("ALTER TABLE probe ADD COLUMN b TEXT DEFAULT 'x'")
    after = rows(await env.DB.prepare("SELECT * FROM probe").all())
    await env.DB.prepare("-- a migration\\n/* of two lines */ ALTER TABLE probe ADD COLUMN c INTEGER DEFAULT 7").run()
    later = rows(await env.DB.prepare("SELECT * FROM probe").all())
    try:
        await env.DB.batch([
            env.DB.prepare("INSERT INTO probe (a) VALUES (?)").bind(2),
            env.DB.prepare("INSERT INTO missing (a) VALUES (?)").bind(3),
        ])
        failed = False
    except Exception:
        failed = True
    count = rows(await env.DB.prepare("SELECT count(*) AS n FROM probe").all())[0]["n"]
    return {"before": before, "after": after, "later": later, "failed": failed, "count": count}
'''


def test_the_d1_stand_in_prepares_a_statement_once_and_still_sees_a_changed_schema(bundles, tmp_path):
    # The stand-in keeps each SQL text's prepared statement (a harness cost, not the worker's): a statement
    # prepared before the schema changed answers the new columns, and a failing batch still rolls back whole.
    copy = tmp_path / "db-probe"
    shutil.copytree(bundles(ROOT / "workers" / "db"), copy)
    (copy / "probe_d1.py").write_text(D1_PROBE)
    on_file = tmp_path / "start.sqlite"  # a copy of a file is what a job with d1_files starts from
    sqlite3.connect(on_file).close()
    for options in ({}, {"d1_files": {"DB": on_file}}):
        call = {"module": "probe_d1", "function": "schema_change", "env": True, "args": []}
        result = check(ROOT, ROOT / "workers" / "db", bundle=copy, call=call, **options)
        assert result.ok, result.error
        assert result.raw["call"] == {
            "before": [{"a": 1}],
            "after": [{"a": 1, "b": "x"}],
            "later": [{"a": 1, "b": "x", "c": 7}],
            "failed": True,
            "count": 1,
        }


def test_the_harness_reports_what_the_stand_ins_took_of_each_call(bundles):
    # What the stand-ins' JavaScript took of each timed call: on Cloudflare that work is another process's.
    hello = ROOT / "tests" / "fixtures" / "workers" / "hello"
    plain = check(ROOT, hello, bundle=bundles(hello), requests=["/health"], repeat=3)
    assert plain.ok, plain.error
    assert plain.request_standin_ms == [0, 0, 0]  # hello calls no binding
    db = ROOT / "workers" / "db"
    thing = {"ns": "docs", "id": "a", "type": "Doc", "data": {"n": 1}}
    principal = {"id": "svc_conformance", "type": "service", "role": "service", "permissions": ["db:write"]}
    upserts = check(ROOT, db, bundle=bundles(db), requests=[], rpc=("upsert_thing", [principal, thing]), rpc_repeat=3)
    assert upserts.ok, upserts.error
    assert len(upserts.rpc_standin_ms) == len(upserts.rpc_ms) == 3
    for took, standin in zip(upserts.rpc_ms, upserts.rpc_standin_ms, strict=True):
        assert 0 < standin < took  # D1's statements, inside the call's time


def test_log_lines_under_pyodide_go_to_the_console_and_reach_the_workers_output(bundles):
    # shared.logs writes to console.log under Pyodide (print took ~50 us more per line): the lines must still
    # arrive whole, in order, beside what print writes, and never on the runner's result channel.
    db = ROOT / "workers" / "db"
    principal = {
        "x-dotdo-principal": json.dumps({"id": "usr_1", "type": "user", "role": "admin", "permissions": ["*"]})
    }
    result = check(ROOT, db, bundle=bundles(db), requests=[{"path": "/things?ns=docs", "headers": principal}, "/nope"])
    assert result.ok, result.error
    access = [json.loads(line) for line in result.output if line.startswith('{"type":"access"')]
    assert [(a["path"], a["status"], a["principal"]) for a in access] == [
        ("/things", 200, "usr_1"),
        ("/nope", 401, None),
    ]
    assert access[0]["request_id"] == json.loads(result.responses[0]["body"])["meta"]["request_id"]
