"""Every worker under real Pyodide (npm pyodide 314) with Cloudflare's real Python SDK.

Each worker's main module is imported as Cloudflare imports it, `GET /health` (or a route the
worker serves) goes through the real SDK's Request/Response, and one RPC method is called with
arguments converted the way the SDK converts them. Broken fixtures must fail naming the cause.
"""

import json
from pathlib import Path

import pytest

from dotdo_dev import vendor as vendoring
from dotdo_dev.conformance import check

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "workers"


@pytest.fixture(scope="module")
def python_modules(tmp_path_factory):
    """The repo's runtime dependencies vendored once for Pyodide (workers without their own pyproject)."""
    folder = tmp_path_factory.mktemp("worker")
    return vendoring.vendor(folder, ROOT)


def test_the_real_sdk_and_pyodide_314_are_used(python_modules):
    result = check(ROOT, FIXTURES / "hello", python_modules=python_modules, rpc=("ping", []))
    assert result.ok, result.error
    assert result.raw["pyodide_version"].startswith("314.")
    assert result.raw["sdk"].startswith("/vendor/workers/")  # the vendored real SDK, not our stand-in
    assert (result.status, result.body, result.rpc) == (200, "hello", "pong")


@pytest.fixture(scope="module")
def dispatcher_modules(tmp_path_factory):
    """Vendored from the dispatcher's own pyproject.toml: the SDK and nothing else."""
    return vendoring.vendor(ROOT / "dispatcher", ROOT, target=tmp_path_factory.mktemp("dispatcher") / "python_modules")


def test_dispatcher_routes_through_the_sdk(dispatcher_modules):
    result = check(ROOT, ROOT / "dispatcher", path="/health", python_modules=dispatcher_modules)
    assert result.bundle_bytes < 1_000_000
    assert result.ok, result.error
    assert result.status == 404  # dispatcher.do itself routes nowhere
    assert result.json()["error"]["code"] == "SERVICE_NOT_FOUND"


def test_dispatcher_forwards_to_the_namespace(dispatcher_modules):
    result = check(ROOT, ROOT / "dispatcher", path="/api/db/things?x=1", python_modules=dispatcher_modules)
    assert result.ok, result.error
    assert result.status == 200
    assert result.json()["data"] == {"stub": "db", "url": "https://dispatcher.do/things?x=1"}


def test_fixture_workers_and_rpc_conversion(python_modules):
    callee = check(ROOT, FIXTURES / "callee", python_modules=python_modules, rpc=("echo", [{"a": [1, 2.0, None]}]))
    assert callee.ok, callee.error
    assert callee.json() == {"success": True, "data": {"worker": "callee"}}
    assert callee.rpc == {"a": [1, 2, None]}
    caller = check(ROOT, FIXTURES / "caller", python_modules=python_modules, rpc=("call", ["add", [1, 2]]))
    assert caller.ok, caller.error
    assert caller.rpc == {"stub": "CALLEE", "method": "add", "args": [1, 2]}


def test_a_thread_fails_with_a_clear_message(python_modules):
    result = check(ROOT, FIXTURES / "uses-thread", python_modules=python_modules)
    assert not result.ok
    assert result.stage == "fetch"
    assert "cannot start threads" in result.error


def test_a_module_pyodide_lacks_is_named(python_modules):
    result = check(ROOT, FIXTURES / "missing-module", python_modules=python_modules)
    assert not result.ok
    assert result.stage == "import"
    assert result.module == "psycopg2"
    assert "psycopg2" in result.error


@pytest.mark.parametrize("service", sorted(p.parent.name for p in (ROOT / "workers").glob("*/wrangler.jsonc")))
def test_every_service_in_the_repo(service, tmp_path):
    folder = ROOT / "workers" / service
    result = check(ROOT, folder, python_modules=vendoring.vendor(folder, ROOT, target=tmp_path / "python_modules"))
    assert result.ok, result.error
    assert result.status == 200
    assert json.loads(result.body)["success"] is True


def test_a_generated_service(tmp_path):
    from dotdo_dev.generator.create_service import create_service
    from dotdo_dev.testing import copy_repo

    repo = copy_repo(ROOT, tmp_path / "repo")
    service = create_service(repo, name="orders")
    result = check(repo, service, rpc=("list_items", [1, 10]))  # vendored from its own pyproject.toml
    assert result.ok, result.error
    assert result.status == 200
    assert json.loads(result.body)["data"]["service"] == "orders"
    assert result.rpc["items"] == []
    assert result.rpc["total"] == 0


def test_rpc_refusals_match_the_real_sdk(python_modules):
    # The same method fails locally (tests/runtime/test_platform.py) with the same words.
    result = check(ROOT, FIXTURES / "callee", python_modules=python_modules, rpc=("unsendable", []))
    assert not result.ok
    assert result.stage == "rpc"
    assert "cannot be sent over RPC" in result.error


def test_a_blocking_socket_fails_with_a_clear_message(python_modules):
    result = check(ROOT, FIXTURES / "uses-socket", python_modules=python_modules)
    assert not result.ok
    assert result.stage == "fetch"
    assert "cannot open blocking sockets" in result.error


@pytest.fixture(scope="module")
def service_modules(tmp_path_factory):
    """db's and auth's own dependencies (their pyproject.toml), vendored once for Pyodide."""
    return {
        name: vendoring.vendor(ROOT / "workers" / name, ROOT, target=tmp_path_factory.mktemp(name) / "python_modules")
        for name in ("db", "auth")
    }


def test_db_writes_and_indexes_a_thing_under_pyodide(service_modules):
    thing = {"ns": "docs", "id": "a", "type": "Doc", "data": {"n": 1}, "content": "full text under pyodide"}
    result = check(ROOT, ROOT / "workers" / "db", python_modules=service_modules["db"], rpc=("upsert_thing", [thing]))
    assert result.ok, result.error
    assert result.json()["data"]["schema_version"] == 1  # /health ran the migrations (FTS5, triggers)
    assert result.rpc["created"] is True
    assert result.rpc["data"] == {"n": 1}


JWT_SECRET = "conformance-jwt-secret-0123456789abcdef0123"


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
def test_auth_verifies_jwts_with_python_jose_under_pyodide(service_modules, secret, expired, code):
    # TOKEN_EXPIRED is only said after the signature checked out: python-jose's HMAC ran in Pyodide.
    result = check(
        ROOT,
        ROOT / "workers" / "auth",
        python_modules=service_modules["auth"],
        secrets={"JWT_SECRET": JWT_SECRET, "API_KEY_SECRET": JWT_SECRET},
        rpc=("validate_token", [_token(secret, expired=expired)]),
    )
    assert result.stage == "rpc"
    assert not result.ok
    assert f'"code":"{code}"' in result.error


def test_the_gateways_rate_limiter_runs_as_a_durable_object_under_pyodide(tmp_path):
    # RateLimiter(ctx, env) with a JS DurableObjectState (storage.sql on node:sqlite), as workerd builds it.
    gateway = ROOT / "workers" / "gateway"
    modules = vendoring.vendor(gateway, ROOT, target=tmp_path / "python_modules")
    calls = {"class": "RateLimiter", "method": "hit", "args": [2, 60], "calls": 3}
    result = check(ROOT, gateway, python_modules=modules, durable_object=calls)
    assert result.ok, result.error
    verdicts = result.raw["durable_object"]
    assert [v["allowed"] for v in verdicts] == [True, True, False]
    assert [v["remaining"] for v in verdicts] == [1, 0, 0]
    assert verdicts[2]["retry_after"] >= 1


def test_auth_verifies_rs256_with_the_pure_rsa_backend_under_pyodide(service_modules):
    # WorkOS signs with RS256. On Cloudflare python-jose has no `cryptography`, only the pure `rsa`
    # package (the CPython test venv has cryptography, so only this test runs the path Cloudflare runs).
    import base64
    import time

    import rsa
    from jose import jwt

    assert not any(p.name.startswith("cryptography") for p in service_modules["auth"].iterdir())
    public, private = rsa.newkeys(1024)

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    jwk = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "k", "n": b64(public.n), "e": b64(public.e)}
    claims = {"sub": "user_1", "iat": int(time.time()), "exp": int(time.time()) + 300}
    token = jwt.encode(claims, private.save_pkcs1().decode(), algorithm="RS256", headers={"kid": "k"})
    good = check(
        ROOT,
        ROOT / "workers" / "auth",
        python_modules=service_modules["auth"],
        secrets={"JWT_SECRET": JWT_SECRET, "API_KEY_SECRET": JWT_SECRET},
        call={"module": "tokens", "function": "verified_claims", "args": [token, jwk, "RS256"]},
    )
    assert good.ok, good.error
    assert good.raw["call"]["sub"] == "user_1"
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    bad = check(
        ROOT,
        ROOT / "workers" / "auth",
        python_modules=service_modules["auth"],
        secrets={"JWT_SECRET": JWT_SECRET, "API_KEY_SECRET": JWT_SECRET},
        call={"module": "tokens", "function": "verified_claims", "args": [forged, jwk, "RS256"]},
    )
    assert bad.stage == "call"
    assert "Invalid token" in bad.error
