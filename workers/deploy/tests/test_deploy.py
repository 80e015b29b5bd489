"""POST /deploy: who may deploy where, the bundle checked before anything is uploaded, and the upload
Cloudflare's API documents (PUT .../dispatch/namespaces/dotdo-<env>/scripts/<svc>, multipart: a
`metadata` part and one part per module named by its path), every attempt recorded."""

import email
import email.policy
import json

import httpx
import pytest
from conftest import (
    ACCOUNT,
    ADMIN,
    CF_TOKEN,
    DEPLOYER,
    METADATA,
    PROD,
    READER,
    cf_error,
    cf_success,
    make_bundle,
    post_deploy,
    script_url,
    target,
)

from dotdo_dev.testing import envelope


def sent_parts(request: httpx.Request) -> dict[str, dict]:
    """The multipart parts the worker sent Cloudflare, by field name (parsed independently of the worker)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.message_from_bytes(head + request.content, policy=email.policy.HTTP)
    assert message.is_multipart()
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert name not in parts
        parts[name] = {
            "filename": part.get_filename(),
            "type": part.get_content_type(),
            "data": part.get_payload(decode=True),
        }
    return parts


async def deployments(worker, **query) -> list[dict]:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    reply = await worker.fetch(f"/deployments?{qs}", headers=ADMIN)
    assert reply.status == 200
    return (await envelope(reply))["data"]


async def test_health_is_public(worker):
    reply = await worker.fetch("/health")
    assert reply.status == 200
    assert (await reply.json())["data"]["service"] == "deploy"


async def test_deploy_uploads_what_cloudflares_api_documents_and_records_it(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders", etag="etag-v1"))
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle())
    body = await envelope(reply)
    assert reply.status == 201, body
    record = body["data"]
    assert record["status"] == "uploaded"
    assert (record["actor"], record["key_id"]) == ("usr_ci", "key_ci")
    assert (record["service"], record["environment"], record["version"]) == ("orders", "staging", "1.0.0")
    assert (record["commit"], record["branch"], record["author"]) == ("abc1234", "main", "ci@example.com")
    assert record["cloudflare_id"] == "etag-v1"
    assert len(record["bundle_sha256"]) == 64

    assert route.call_count == 1
    request = route.calls[0].request
    assert request.method == "PUT"
    assert f"/accounts/{ACCOUNT}/workers/dispatch/namespaces/dotdo-staging/scripts/orders" in str(request.url)
    assert request.headers["authorization"] == f"Bearer {CF_TOKEN}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = sent_parts(request)
    assert set(parts) == {"metadata", "entry.py", "routes.py", "python_modules/shared/__init__.py"}
    meta = parts["metadata"]
    assert meta["filename"] is None
    assert meta["type"] == "application/json"
    metadata = json.loads(meta["data"])
    assert set(metadata) == {
        "main_module",
        "compatibility_date",
        "compatibility_flags",
        "bindings",
        "tags",
        "keep_bindings",
    }
    assert metadata["main_module"] == "entry.py"
    assert metadata["compatibility_date"] == "2026-11-01"
    assert "python_workers" in metadata["compatibility_flags"]
    assert metadata["bindings"] == METADATA["bindings"]  # already in the API's shapes: sent as they are
    assert metadata["tags"] == ["service:orders", "env:staging"]
    assert metadata["keep_bindings"] == ["secret_text"]  # a list of binding types, as the API defines it
    # one part per module: field name and file name the module's path, .py as text/x-python
    assert parts["entry.py"]["filename"] == "entry.py"
    assert parts["entry.py"]["type"] == "text/x-python"
    assert parts["entry.py"]["data"].startswith(b"# version 1")
    assert parts["routes.py"]["type"] == "text/x-python"
    shared = parts["python_modules/shared/__init__.py"]
    assert (shared["filename"], shared["type"]) == ("python_modules/shared/__init__.py", "application/octet-stream")

    listed = await deployments(worker)
    assert [d["id"] for d in listed] == [record["id"]]


async def test_the_bundle_may_come_as_json_in_base64(worker, cloudflare):
    import base64

    route = cloudflare.put(script_url("orders", "development")).mock(return_value=cf_success("orders"))
    payload = target(environment="development") | {"bundle": base64.b64encode(make_bundle()).decode()}
    reply = await worker.fetch("/deploy", method="POST", headers=DEPLOYER, json=payload)
    assert reply.status == 201, await reply.text()
    assert route.call_count == 1


async def test_a_module_without_a_listed_type_gets_wranglers_type(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    metadata = {k: v for k, v in METADATA.items() if k != "modules"}
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle(metadata=metadata))
    assert reply.status == 201
    parts = sent_parts(route.calls[0].request)
    assert parts["routes.py"]["type"] == "text/x-python"
    assert parts["python_modules/shared/__init__.py"]["type"] == "application/octet-stream"


# -- who may deploy where ------------------------------------------------------------------------------


async def test_no_token_is_401(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    reply = await post_deploy(worker, {}, target(), make_bundle())
    assert reply.status == 401
    assert route.call_count == 0


async def test_a_key_without_deploy_is_403(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    reply = await post_deploy(worker, READER, target(), make_bundle())
    body = await envelope(reply)
    assert reply.status == 403
    assert body["error"]["details"]["permission"] == "deploy"
    assert route.call_count == 0
    reply = await worker.fetch("/deployments", headers=READER)
    assert reply.status == 403


async def test_production_needs_deploy_production(worker, cloudflare):
    route = cloudflare.put(script_url("orders", "production")).mock(return_value=cf_success("orders"))
    reply = await post_deploy(worker, DEPLOYER, target(environment="production"), make_bundle())
    body = await envelope(reply)
    assert reply.status == 403, body
    assert body["error"]["details"]["permission"] == "deploy:production"
    assert route.call_count == 0
    assert await deployments(worker) == []

    reply = await post_deploy(worker, PROD, target(environment="production"), make_bundle())
    assert reply.status == 201
    assert route.call_count == 1
    reply = await post_deploy(worker, ADMIN, target(environment="production"), make_bundle())
    assert reply.status == 201


# -- the bundle, checked before anything is uploaded ------------------------------------------------------


BAD_BUNDLES = {
    "not a tar": (b"this is not a tar.gz", "not a tar.gz"),
    "no metadata.json": (make_bundle(metadata=None), "no metadata.json"),
    "metadata.json not JSON": (make_bundle(metadata="{nope"), "metadata.json is not JSON"),
    "main module absent": (
        make_bundle({"routes.py": "X = 1\n"}, metadata={**METADATA, "modules": []}),
        "main module 'entry.py'",
    ),
    "no python_workers flag": (
        make_bundle(metadata={**METADATA, "compatibility_flags": []}),
        "python_workers",
    ),
    "binding in a wrong shape": (
        make_bundle(metadata={**METADATA, "bindings": [{"type": "d1", "name": "DB", "database_id": "x"}]}),
        "needs id",
    ),
    "unknown binding type": (
        make_bundle(metadata={**METADATA, "bindings": [{"type": "teleporter", "name": "T"}]}),
        "'teleporter'",
    ),
    "path escaping the bundle": (make_bundle({"../entry.py": "x"}, metadata=METADATA), "relative"),
    "empty": (b"", "empty"),
}


@pytest.mark.parametrize("case", BAD_BUNDLES, ids=list(BAD_BUNDLES))
async def test_a_malformed_bundle_is_400_naming_the_problem_and_nothing_is_uploaded(worker, cloudflare, case):
    data, words = BAD_BUNDLES[case]
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    reply = await post_deploy(worker, DEPLOYER, target(), data)
    body = await envelope(reply)
    assert reply.status == 400, body
    assert body["error"]["code"] == "BAD_BUNDLE"
    assert words in body["error"]["message"]
    assert route.call_count == 0
    assert await deployments(worker) == []


async def test_a_bundle_over_64_mib_is_400(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    # 65 MiB of zeros inside: a small archive whose contents are over Cloudflare's limit
    data = make_bundle({"entry.py": "x = 1\n", "python_modules/big.bin": bytes(65 * 1024 * 1024)})
    reply = await post_deploy(worker, DEPLOYER, target(), data)
    body = await envelope(reply)
    assert reply.status == 400, body
    assert body["error"]["code"] == "BUNDLE_TOO_LARGE"
    assert "64 MiB" in body["error"]["message"]
    # and an archive that is itself over the limit
    reply = await post_deploy(worker, DEPLOYER, target(), bytes(64 * 1024 * 1024 + 1))
    assert reply.status == 400
    assert (await reply.json())["error"]["code"] == "BUNDLE_TOO_LARGE"
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        (target(environment="prod"), "environment"),
        (target(service="Orders"), "service"),
        (target(service="orders_v2"), "service"),
        (target(service="gateway"), "service"),
        (target(service="dispatcher"), "service"),
        (target(unknown="x"), "unknown"),
        ({"environment": "staging"}, "service"),
    ],
)
async def test_the_metadata_is_validated(worker, cloudflare, meta, field):
    route = cloudflare.put(url__regex=r".*").mock(return_value=cf_success("x"))
    reply = await post_deploy(worker, ADMIN, meta, make_bundle())
    body = await envelope(reply)
    assert reply.status == 400, body
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert field in json.dumps(body["error"]["details"])
    assert route.call_count == 0


async def test_a_multipart_body_without_its_parts_is_400(worker, cloudflare):
    route = cloudflare.put(url__regex=r".*").mock(return_value=cf_success("x"))
    boundary = "b0undary"
    only_meta = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{json.dumps(target())}\r\n'
        f"--{boundary}--\r\n"
    )
    headers = DEPLOYER | {"content-type": f"multipart/form-data; boundary={boundary}"}
    reply = await worker.fetch("/deploy", method="POST", headers=headers, body=only_meta)
    assert reply.status == 400
    assert "bundle part" in (await reply.json())["error"]["message"]
    reply = await worker.fetch("/deploy", method="POST", headers=headers, body="--b0undary\r\ngarbage")
    assert reply.status == 400
    assert route.call_count == 0


# -- Cloudflare's refusals -----------------------------------------------------------------------------------

BINDING_NOT_FOUND = (
    "Could not resolve service binding 'INVOICES'. Target script 'invoices' not found. "
    "Please verify the target script and try again."
)


async def test_cloudflare_error_10143_is_recorded_as_failed_and_answered_with_its_code(worker, cloudflare):
    cloudflare.put(script_url("orders")).mock(return_value=cf_error(10143, BINDING_NOT_FOUND))
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle())
    body = await envelope(reply)
    assert reply.status == 400, body
    assert body["error"]["code"] == "CLOUDFLARE_REJECTED"
    assert "10143" in body["error"]["message"]
    assert body["error"]["details"]["cloudflare"] == {"code": 10143, "message": BINDING_NOT_FOUND, "status": 400}
    [record] = await deployments(worker)
    assert record["id"] == body["error"]["details"]["deployment_id"]
    assert (record["status"], record["error_code"], record["error_message"]) == ("failed", 10143, BINDING_NOT_FOUND)
    assert record["cloudflare_id"] is None


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"success": False, "errors": [{"code": 10013, "message": "internal"}]}),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(403, json={"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}),
        httpx.ConnectError("connection refused"),
    ],
    ids=["500", "not JSON", "token refused", "unreachable"],
)
async def test_cloudflare_failing_is_502_and_recorded(worker, cloudflare, answer):
    route = cloudflare.put(script_url("orders"))
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle())
    body = await envelope(reply)
    assert reply.status == 502, body
    assert body["error"]["code"] == "CLOUDFLARE_ERROR"
    [record] = await deployments(worker)
    assert record["status"] == "failed"
    assert record["error_message"]


async def test_without_an_account_id_nothing_is_sent(tmp_path, bindings, cloudflare):
    from conftest import ROOT

    from dotdo_dev.testing import WorkerHarness

    worker = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings, environ={"CLOUDFLARE_API_TOKEN": CF_TOKEN})
    route = cloudflare.put(url__regex=r".*").mock(return_value=cf_success("orders"))
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle())
    body = await envelope(reply)
    assert reply.status == 503, body
    assert "CLOUDFLARE_ACCOUNT_ID" in body["error"]["message"]
    assert route.call_count == 0


# -- the token stays in the worker ---------------------------------------------------------------------------


async def test_the_token_is_never_in_a_response_or_a_log(worker, cloudflare, caplog, capsys):
    caplog.set_level("DEBUG")
    route = cloudflare.put(script_url("orders"))
    route.side_effect = [
        cf_success("orders"),
        cf_error(10000, f"Authentication error: token {CF_TOKEN} is not valid", status=401),
        cf_error(10021, f"bad {CF_TOKEN}"),
    ]
    texts = []
    for _ in range(3):
        reply = await post_deploy(worker, DEPLOYER, target(), make_bundle())
        texts.append(await reply.text())
    for path in ("/deployments", "/openapi.json", "/health"):
        texts.append(await (await worker.fetch(path, headers=ADMIN)).text())
    assert route.call_count == 3
    assert "[redacted]" in texts[1]
    out = capsys.readouterr()
    for text in [*texts, caplog.text, out.out, out.err]:
        assert CF_TOKEN not in text


def test_the_front_door_takes_the_largest_request_the_route_takes_in_every_environment():
    # The local front door (and a front proxy) cut a body at the service's MAX_BODY_BYTES var: a 64 MiB
    # bundle sent as base64 JSON must get through to the route, which refuses anything larger itself.
    from pathlib import Path

    import routes
    from dotdo_dev.config import load_worker

    folder = Path(__file__).resolve().parents[1]
    for environment in (None, "staging", "development"):
        config = load_worker(folder / "wrangler.jsonc", environment=environment)
        assert int(config.vars["MAX_BODY_BYTES"]) == routes.MAX_REQUEST_BYTES, environment
