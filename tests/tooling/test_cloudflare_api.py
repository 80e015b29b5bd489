"""The local Cloudflare API stand-in: script uploads checked as Cloudflare checks them, nothing stored on failure."""

import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from dotdo_dev import cli
from dotdo_dev.build import build
from dotdo_dev.cloudflare_api import CloudflareAPI, platform_scripts
from dotdo_dev.cloudflare_api.serve import TOKEN_ENV, CloudflareAPIServer, api_token, is_loopback
from dotdo_dev.generator.create_service import create_service
from dotdo_dev.preflight import StartError
from dotdo_dev.testing import multipart_body

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"
ACCOUNT = "0123456789abcdef0123456789abcdef"
NS = "dotdo-development"
BASE = f"http://api.local/client/v4/accounts/{ACCOUNT}/workers"
PLATFORM = ["dispatcher", "gateway", "auth", "db"]
ENTRY = b"from workers import WorkerEntrypoint\n\nclass Default(WorkerEntrypoint):\n    pass\n"
NOT_FOUND_10143 = (
    "Could not resolve service binding '{}'. Target script '{}' not found. "
    "Please verify the target script and try again."
)


def metadata(**overrides):
    base = {
        "main_module": "entry.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "bindings": [{"type": "service", "name": "AUTH_SERVICE", "service": "auth"}],
        "tags": ["service:orders", "env:development"],
    }
    base.update(overrides)
    return base


def upload_parts(meta=None, modules=None):
    meta = metadata() if meta is None else meta
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    modules = [("entry.py", "text/x-python", ENTRY)] if modules is None else modules
    return [("metadata", "application/json", raw), *modules]


@pytest.fixture
def api(tmp_path):
    return CloudflareAPI(tmp_path / "state", tokens=[TOKEN], account_scripts=PLATFORM, account_id=ACCOUNT)


@pytest.fixture
async def client(api):
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


async def put(client, name, parts=None, *, namespace=NS, headers=None):
    body, content_type = multipart_body(upload_parts() if parts is None else parts)
    url = f"{BASE}/dispatch/namespaces/{namespace}/scripts/{name}" if namespace else f"{BASE}/scripts/{name}"
    return await client.put(url, content=body, headers={"content-type": content_type, **(headers or {})})


def refused(response, status, code, message=None):
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False
    assert body["result"] is None
    assert body["messages"] == []
    assert [e["code"] for e in body["errors"]] == [code], body
    if message is not None:
        assert body["errors"][0]["message"] == message
    return body["errors"][0]["message"]


async def stored(client, namespace=NS):
    response = await client.get(f"{BASE}/dispatch/namespaces/{namespace}/scripts")
    assert response.status_code == 200
    return {s["id"]: s for s in response.json()["result"]}


def bundles(api):
    folder = api.store.root / "bundles"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# -- the happy path --------------------------------------------------------------------------------


async def test_upload_into_a_namespace_with_a_binding_to_an_account_level_service(client, api):
    response = await put(client, "orders")
    body = response.json()
    assert response.status_code == 200, body
    assert (body["success"], body["errors"], body["messages"]) == (True, [], [])
    result = body["result"]
    assert result["id"] == "orders"
    assert result["tags"] == ["service:orders", "env:development"]
    assert result["compatibility_date"] == "2026-11-01"
    assert result["compatibility_flags"] == ["python_workers"]
    assert result["entry_point"] == "entry.py"
    assert result["has_modules"] is True
    assert isinstance(result["startup_time_ms"], int)
    assert result["created_on"] == result["modified_on"]
    bundle = api.store.bundle_dir(result["etag"])
    assert (bundle / "modules" / "entry.py").read_bytes() == ENTRY
    assert json.loads((bundle / "metadata.json").read_text()) == metadata()
    assert stat.S_IMODE(os.stat(api.store.root).st_mode) == 0o700

    again = (await put(client, "orders")).json()["result"]  # same bundle: stored once, same etag
    assert again["etag"] == result["etag"]
    assert again["created_on"] == result["created_on"]
    assert again["tag"] != result["tag"]
    assert bundles(api) == [result["etag"]]


async def test_get_list_with_tags_and_delete(client):
    assert (await put(client, "orders")).status_code == 200
    other = metadata(tags=["service:invoices", "env:development"])
    assert (await put(client, "invoices", upload_parts(other))).status_code == 200

    listed = await stored(client)
    assert sorted(listed) == ["invoices", "orders"]
    assert listed["invoices"]["tags"] == ["service:invoices", "env:development"]
    filtered = await client.get(f"{BASE}/dispatch/namespaces/{NS}/scripts", params={"tags": "service:orders:yes"})
    assert [s["id"] for s in filtered.json()["result"]] == ["orders"]
    excluded = await client.get(f"{BASE}/dispatch/namespaces/{NS}/scripts", params={"tags": "service:orders:no"})
    assert [s["id"] for s in excluded.json()["result"]] == ["invoices"]

    one = await client.get(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders")
    assert one.status_code == 200
    assert one.json()["result"]["dispatch_namespace"] == NS
    assert one.json()["result"]["script"]["id"] == "orders"

    deleted = await client.delete(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders")
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "errors": [], "messages": [], "result": None}
    assert sorted(await stored(client)) == ["invoices"]
    refused(await client.get(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders"), 404, 10092)
    refused(await client.delete(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders"), 404, 10092)
    assert await stored(client, "dotdo-staging") == {}  # namespaces are separate


async def test_account_level_scripts_are_seeded_listed_and_uploadable(client):
    listed = await client.get(f"{BASE}/scripts")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["result"]] == sorted(PLATFORM)
    response = await put(client, "billing", namespace=None)
    assert response.status_code == 200, response.json()
    assert [s["id"] for s in (await client.get(f"{BASE}/scripts")).json()["result"]] == sorted([*PLATFORM, "billing"])
    # an uploaded account-level script is a valid service binding target from a namespace
    bound = metadata(bindings=[{"type": "service", "name": "BILLING", "service": "billing"}])
    assert (await put(client, "orders", upload_parts(bound))).status_code == 200


def test_platform_scripts_are_the_platform_workers():
    assert set(PLATFORM) <= set(platform_scripts(ROOT))
    assert not {"orders", "order-history"} & set(platform_scripts(ROOT))


def test_platform_scripts_are_the_platform_workers_under_each_environments_name():
    # wrangler deploy --env <e> uploads a Worker as <name>-<e>: each is an account-level script of its own
    scripts = platform_scripts(ROOT)
    for name in ("dispatcher", "gateway", "auth", "db", "deploy"):
        assert {name, f"{name}-staging", f"{name}-development"} <= set(scripts), name
    assert len(scripts) == len(set(scripts))
    assert not any(s.startswith(("orders", "order-history")) for s in scripts)


@pytest.mark.parametrize("environment", ["staging", "development"])
async def test_an_upload_binds_the_platform_workers_of_its_environment_and_never_a_sibling(tmp_path, environment):
    api = CloudflareAPI(tmp_path / "state", tokens=[TOKEN], account_scripts=platform_scripts(ROOT), account_id=ACCOUNT)
    namespace = f"dotdo-{environment}"
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        own = metadata(
            bindings=[
                {"type": "service", "name": "AUTH_SERVICE", "service": f"auth-{environment}"},
                {"type": "service", "name": "DB_SERVICE", "service": f"db-{environment}", "entrypoint": "Records"},
            ]
        )
        accepted = await put(client, "orders", upload_parts(own), namespace=namespace)
        assert accepted.status_code == 200, accepted.json()
        assert list(await stored(client, namespace)) == ["orders"]
        # a sibling of the namespace, by its name or by the name wrangler would give it: 10143 still
        for target in ("orders", f"orders-{environment}"):
            sibling = metadata(
                bindings=[
                    {"type": "service", "name": "AUTH_SERVICE", "service": f"auth-{environment}"},
                    {"type": "service", "name": "ORDERS", "service": target},
                ]
            )
            refused(
                await put(client, "ledger", upload_parts(sibling), namespace=namespace),
                400,
                10143,
                NOT_FOUND_10143.format("ORDERS", target),
            )
        # an environment no platform worker is deployed to resolves to nothing
        elsewhere = metadata(bindings=[{"type": "service", "name": "AUTH_SERVICE", "service": "auth-qa"}])
        refused(
            await put(client, "ledger", upload_parts(elsewhere), namespace=namespace),
            400,
            10143,
            NOT_FOUND_10143.format("AUTH_SERVICE", "auth-qa"),
        )
        assert list(await stored(client, namespace)) == ["orders"]


# -- the topology rule (10143) ---------------------------------------------------------------------


async def test_a_service_binding_to_a_sibling_in_the_namespace_is_refused(client, api):
    assert (await put(client, "invoices")).status_code == 200
    before = bundles(api)
    bound = metadata(bindings=[{"type": "service", "name": "INVOICES_SERVICE", "service": "invoices"}])
    response = await put(client, "orders", upload_parts(bound))
    refused(response, 400, 10143, NOT_FOUND_10143.format("INVOICES_SERVICE", "invoices"))
    assert sorted(await stored(client)) == ["invoices"]
    assert bundles(api) == before


async def test_a_script_of_another_namespace_does_not_count_either(client):
    assert (await put(client, "invoices", namespace="dotdo-staging")).status_code == 200
    bound = metadata(bindings=[{"type": "service", "name": "INVOICES", "service": "invoices"}])
    refused(
        await put(client, "orders", upload_parts(bound)), 400, 10143, NOT_FOUND_10143.format("INVOICES", "invoices")
    )


async def test_a_service_binding_to_a_missing_script_is_refused(client, api):
    bound = metadata(
        bindings=[
            {"type": "service", "name": "AUTH_SERVICE", "service": "auth"},
            {"type": "service", "name": "NOPE", "service": "does-not-exist", "entrypoint": "Rpc"},
        ]
    )
    refused(
        await put(client, "orders", upload_parts(bound)), 400, 10143, NOT_FOUND_10143.format("NOPE", "does-not-exist")
    )
    assert await stored(client) == {}
    assert bundles(api) == []


async def test_account_level_uploads_cannot_bind_into_a_namespace(client):
    assert (await put(client, "invoices")).status_code == 200
    bound = metadata(bindings=[{"type": "service", "name": "INVOICES", "service": "invoices"}])
    response = await put(client, "billing", upload_parts(bound), namespace=None)
    refused(response, 400, 10143, NOT_FOUND_10143.format("INVOICES", "invoices"))
    missing = metadata(bindings=[{"type": "service", "name": "GHOST", "service": "ghost"}])
    refused(await put(client, "billing", upload_parts(missing), namespace=None), 400, 10143)
    assert [s["id"] for s in (await client.get(f"{BASE}/scripts")).json()["result"]] == sorted(PLATFORM)


# -- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong-token", f"Basic {TOKEN}", f"Token {TOKEN}"]
)
async def test_a_token_is_required(api, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), headers=headers) as anonymous:
        refused(await put(anonymous, "orders"), 401, 10000, "Authentication error")
        refused(await anonymous.get(f"{BASE}/dispatch/namespaces/{NS}/scripts"), 401, 10000)
        refused(await anonymous.delete(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders"), 401, 10000)
        refused(await anonymous.get(f"{BASE}/scripts"), 401, 10000)
    assert bundles(api) == []
    assert not api.store.index_path.exists()


async def test_another_account_is_refused(client):
    response = await client.get(f"{BASE.replace(ACCOUNT, 'f' * 32)}/dispatch/namespaces/{NS}/scripts")
    refused(response, 403, 10000)


def test_an_api_without_tokens_is_refused(tmp_path):
    with pytest.raises(ValueError, match="token"):
        CloudflareAPI(tmp_path, tokens=[""])


# -- what an upload must be ------------------------------------------------------------------------


BAD_UPLOADS = {
    "no metadata part": (
        [("entry.py", "text/x-python", ENTRY)],
        10014,
        "The upload has no metadata part.",
    ),
    "two metadata parts": (
        [*upload_parts(), ("metadata", "application/json", b"{}")],
        10014,
        "The upload has more than one metadata part.",
    ),
    "metadata not JSON": (upload_parts(b"{main_module: entry.py"), 10014, None),
    "metadata not an object": (upload_parts(b'["entry.py"]'), 10014, "The metadata part must be a JSON object."),
    "no main_module": (
        upload_parts({k: v for k, v in metadata().items() if k != "main_module"}),
        10014,
        "metadata.main_module is required and must be the name of a module part.",
    ),
    "main_module not uploaded": (
        upload_parts(metadata(main_module="main.py")),
        10021,
        "main_module 'main.py' is not among the uploaded parts (No such module \"main.py\").",
    ),
    "no module at all": (upload_parts(modules=[]), 10021, None),
    "python without python_workers": (
        upload_parts(metadata(compatibility_flags=["nodejs_compat"])),
        10021,
        "The 'python_workers' compatibility flag is required to use Python.",
    ),
    "python main module with another type": (
        upload_parts(modules=[("entry.py", "application/octet-stream", ENTRY)]),
        10021,
        "Module 'entry.py' is Python and must be uploaded as text/x-python.",
    ),
    "module without content type": (
        upload_parts(modules=[("entry.py", "text/x-python", ENTRY), ("data.bin", None, b"x")]),
        10021,
        "Module 'data.bin' has no Content-Type.",
    ),
    "module with an unknown content type": (
        upload_parts(modules=[("entry.py", "text/x-python", ENTRY), ("page.html", "text/html", b"<p>")]),
        10021,
        "Module 'page.html' has unsupported Content-Type 'text/html'.",
    ),
    "module path escaping": (
        upload_parts(modules=[("entry.py", "text/x-python", ENTRY), ("../evil.py", "text/x-python", b"")]),
        10021,
        "Module name '../evil.py' is not a relative path.",
    ),
    "module twice": (
        upload_parts(modules=[("entry.py", "text/x-python", ENTRY), ("entry.py", "text/x-python", ENTRY)]),
        10021,
        "Module 'entry.py' is uploaded twice.",
    ),
    "compatibility date not a date": (
        upload_parts(metadata(compatibility_date="01/11/2026")),
        10021,
        "compatibility_date '01/11/2026' is not a date in the form YYYY-MM-DD.",
    ),
    "compatibility date impossible": (
        upload_parts(metadata(compatibility_date="2026-02-30")),
        10021,
        "compatibility_date '2026-02-30' is not a valid date.",
    ),
    "compatibility date in the future": (
        upload_parts(metadata(compatibility_date="2999-01-01")),
        10021,
        "compatibility_date '2999-01-01' is in the future.",
    ),
    "flags not a list": (
        upload_parts(metadata(compatibility_flags="python_workers")),
        10014,
        "metadata.compatibility_flags must be a list of strings.",
    ),
    "nine tags": (
        upload_parts(metadata(tags=[f"t{i}" for i in range(9)])),
        10014,
        "A script may have at most 8 tags, not 9.",
    ),
    "a tag with a comma": (upload_parts(metadata(tags=["a,b"])), 10014, "Tag 'a,b' must not contain ',' or '&'."),
    "keep_bindings not a list of types": (
        upload_parts(metadata(keep_bindings=True)),
        10014,
        'metadata.keep_bindings must be a list of binding types (e.g. ["kv_namespace"]).',
    ),
    "bindings not a list": (upload_parts(metadata(bindings={})), 10014, "metadata.bindings must be a list."),
}


@pytest.mark.parametrize("case", sorted(BAD_UPLOADS))
async def test_a_malformed_upload_is_refused_and_nothing_is_stored(client, api, case):
    parts, code, message = BAD_UPLOADS[case]
    text = refused(await put(client, "orders", parts), 400, code, message)
    assert text
    assert await stored(client) == {}
    assert bundles(api) == []


async def test_the_body_must_be_multipart(client, api):
    url = f"{BASE}/dispatch/namespaces/{NS}/scripts/orders"
    refused(await client.put(url, json=metadata()), 400, 10014)
    refused(await client.put(url, content=b"x", headers={"content-type": "multipart/form-data"}), 400, 10014)
    truncated, content_type = multipart_body(upload_parts())
    refused(await client.put(url, content=truncated[:-30], headers={"content-type": content_type}), 400, 10014)
    assert bundles(api) == []


BAD_BINDINGS = {
    "service without service": ({"type": "service", "name": "AUTH"}, "AUTH", "'service' must be a non-empty string"),
    "service with a bad entrypoint": (
        {"type": "service", "name": "AUTH", "service": "auth", "entrypoint": "not a class"},
        "AUTH",
        "'entrypoint' must be the name of an exported class",
    ),
    "service props not an object": (
        {"type": "service", "name": "AUTH", "service": "auth", "props": "x"},
        "AUTH",
        "'props' must be an object",
    ),
    "d1 with database_id instead of id": (
        {"type": "d1", "name": "DB", "database_id": "abc"},
        "DB",
        "'id' must be a non-empty string",
    ),
    "kv without namespace_id": ({"type": "kv_namespace", "name": "KV", "id": "x"}, "KV", None),
    "queue without queue_name": ({"type": "queue", "name": "EVENTS", "queue": "q"}, "EVENTS", None),
    "durable object without class": ({"type": "durable_object_namespace", "name": "DO"}, "DO", None),
    "ratelimit with a bad period": (
        {"type": "ratelimit", "name": "LIMITER", "namespace_id": "1001", "simple": {"limit": 10, "period": 30}},
        "LIMITER",
        "'simple.period' must be 10 or 60",
    ),
    "ratelimit with a bad namespace id": (
        {"type": "ratelimit", "name": "LIMITER", "namespace_id": "abc", "simple": {"limit": 10, "period": 60}},
        "LIMITER",
        None,
    ),
    "ratelimit without simple": ({"type": "ratelimit", "name": "LIMITER", "namespace_id": "1"}, "LIMITER", None),
    "plain_text without text": ({"type": "plain_text", "name": "MODE", "value": "x"}, "MODE", None),
    "secret_text not a string": ({"type": "secret_text", "name": "KEY", "text": 42}, "KEY", None),
    "unknown type": ({"type": "hyperdrive_v9", "name": "HD"}, "HD", None),
}


@pytest.mark.parametrize("case", sorted(BAD_BINDINGS))
async def test_a_binding_of_the_wrong_shape_is_refused_by_name(client, api, case):
    binding, name, problem = BAD_BINDINGS[case]
    message = refused(await put(client, "orders", upload_parts(metadata(bindings=[binding]))), 400, 10021)
    assert f"Binding '{name}'" in message
    if problem:
        assert message.endswith(f"{problem}.")
    assert await stored(client) == {}
    assert bundles(api) == []


async def test_binding_names_must_be_valid_and_unique(client):
    nameless = metadata(bindings=[{"type": "plain_text", "text": "x"}])
    refused(await put(client, "orders", upload_parts(nameless)), 400, 10021)
    twice = metadata(bindings=[{"type": "plain_text", "name": "A", "text": "x"}] * 2)
    refused(await put(client, "orders", upload_parts(twice)), 400, 10021, "Binding 'A' is declared twice.")


async def test_every_binding_shape_the_platform_uses_is_accepted(client):
    bindings = [
        {"type": "service", "name": "AUTH_SERVICE", "service": "auth", "entrypoint": "AuthRpc", "props": {"t": 1}},
        {"type": "d1", "name": "DB", "id": "local-orders"},
        {"type": "kv_namespace", "name": "KV", "namespace_id": "kv-1"},
        {"type": "queue", "name": "EVENTS", "queue_name": "orders-events"},
        {"type": "durable_object_namespace", "name": "COUNTER", "class_name": "Counter"},
        {"type": "ratelimit", "name": "LIMITER", "namespace_id": "1001", "simple": {"limit": 100, "period": 60}},
        {"type": "plain_text", "name": "SERVICE_NAME", "text": "orders"},
        {"type": "secret_text", "name": "API_SECRET", "text": "s3cret"},
    ]
    response = await put(client, "orders", upload_parts(metadata(bindings=bindings, keep_bindings=["secret_text"])))
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("name", ["Orders", "orders.v2", "-orders", "orders-", "x" * 64, "or ders"])
async def test_script_names_follow_cloudflare_rules(client, name):
    refused(await put(client, name), 400, 10016)
    assert await stored(client) == {}


async def test_the_size_limit(tmp_path):
    api = CloudflareAPI(tmp_path, tokens=[TOKEN], account_scripts=PLATFORM, size_limit=2048)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), headers=headers) as c:
        data = ("data.bin", "application/octet-stream", b"x" * 2000)
        ok = upload_parts(modules=[("entry.py", "text/x-python", b"# small\n"), data])
        assert (await put(c, "orders", ok)).status_code == 200
        over = upload_parts(
            modules=[("entry.py", "text/x-python", b"# small\n"), data, ("more.bin", "text/plain", b"y" * 100)]
        )
        message = refused(await put(c, "big", over), 413, 10027)
        assert message.startswith("Your Worker exceeded the size limit of 0.00195312 MiB")
        huge = upload_parts(modules=[("entry.py", "text/x-python", b"#" * (2 * 1024 * 1024))])
        refused(await put(c, "huge", huge), 413, 10027)  # refused from Content-Length, unread
        assert sorted(await stored(c)) == ["orders"]


def test_the_default_size_limit_is_64_mib(tmp_path):
    assert CloudflareAPI(tmp_path, tokens=[TOKEN]).size_limit == 64 * 1024 * 1024


async def test_unknown_routes_and_methods(client):
    refused(await client.get(f"{BASE}/dispatch/namespaces/{NS}"), 404, 7003)
    refused(await client.post(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders"), 405, 10405)
    refused(await client.delete(f"{BASE}/scripts"), 405, 10405)


async def test_a_client_encoder_is_understood(client):
    """httpx's own multipart encoder (quoted boundary, its part headers), as a deploy worker might send."""
    files = [
        ("metadata", ("blob", json.dumps(metadata()), "application/json")),
        ("entry.py", ("entry.py", ENTRY, "text/x-python")),
        ("lib/util.py", ("lib/util.py", b"X = 1\n", "text/x-python")),
    ]
    response = await client.put(f"{BASE}/dispatch/namespaces/{NS}/scripts/orders", files=files)
    assert response.status_code == 200, response.json()


# -- a real bundle, uploaded as the deploy worker would --------------------------------------------


@pytest.mark.slow
async def test_a_built_service_uploads_as_the_deploy_worker_sends_it(tmp_path, api, client, build_copy):
    repo = build_copy(tmp_path / "repo")
    service = create_service(repo, name="order-history", kind="domain", description="Orders.")
    bundle = build(repo, service, tmp_path / "bundle")
    sent = json.loads((bundle.outdir / "metadata.json").read_text())
    types = {m["name"]: m["type"] for m in sent.pop("modules")}
    sent["tags"] = ["service:order-history", "env:development", "commit:abc1234"]
    files = [("metadata", ("metadata.json", json.dumps(sent), "application/json"))]
    files += [(name, (name, (bundle.outdir / name).read_bytes(), types[name])) for name in bundle.modules]

    url = f"{BASE}/dispatch/namespaces/{NS}/scripts/order-history"
    response = await client.put(url, files=files)
    assert response.status_code == 200, response.json()
    result = response.json()["result"]
    assert {"service": "auth", "name": "AUTH_SERVICE", "type": "service"} in sent["bindings"]
    stored_bundle = api.store.bundle_dir(result["etag"])
    for name in bundle.modules:
        assert (stored_bundle / "modules" / name).read_bytes() == (bundle.outdir / name).read_bytes(), name
    assert list(await stored(client)) == ["order-history"]

    # the same service binding a sibling of its namespace: refused with Cloudflare's error, nothing changed
    sent["bindings"].append({"type": "service", "name": "ORDERS_SERVICE", "service": "orders"})
    assert (await put(client, "orders")).status_code == 200
    files[0] = ("metadata", ("metadata.json", json.dumps(sent), "application/json"))
    response = await client.put(url, files=files)
    refused(response, 400, 10143, NOT_FOUND_10143.format("ORDERS_SERVICE", "orders"))
    assert (await stored(client))["order-history"]["etag"] == result["etag"]


# -- served on loopback (`dotdo cloudflare-api`) ---------------------------------------------------


def test_the_token_comes_from_the_environment_else_a_private_file(tmp_path):
    assert api_token(tmp_path, {TOKEN_ENV: "from-env"}) == ("from-env", f"${TOKEN_ENV}")
    token, source = api_token(tmp_path, {})
    path = tmp_path / "cloudflare-api" / "token"
    assert source == str(path)
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert api_token(tmp_path, {}) == (token, source)  # kept across starts


def test_only_loopback_is_served(tmp_path):
    with pytest.raises(StartError, match="loopback only"):
        CloudflareAPIServer(ROOT, state_dir=tmp_path, host="0.0.0.0", environ={})
    assert all(is_loopback(host) for host in ("127.0.0.1", "::1", "localhost"))
    assert not is_loopback("192.168.1.10")


async def test_the_server_answers_over_http(tmp_path):
    server = CloudflareAPIServer(ROOT, state_dir=tmp_path, port=0, environ={})
    await server.start()
    try:
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            listed = await http.get(f"/accounts/{ACCOUNT}/workers/scripts")
            assert set(PLATFORM) <= {s["id"] for s in listed.json()["result"]}
            body, content_type = multipart_body(upload_parts())
            url = f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/{NS}/scripts/orders"
            response = await http.put(url, content=body, headers={"content-type": content_type})
            assert response.status_code == 200, response.json()
            refused(await http.get(url, headers={"Authorization": "Bearer nope"}), 401, 10000)
    finally:
        await server.stop()


def test_dotdo_cloudflare_api_refuses_a_public_address(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DOTDO_STATE_DIR", str(tmp_path))
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exited:
        cli.main(["cloudflare-api", "--host", "0.0.0.0", "--port", "0"])
    assert exited.value.code == 1
    assert "cloudflare-api: the Cloudflare API stand-in serves loopback only, not '0.0.0.0'" in capsys.readouterr().err
