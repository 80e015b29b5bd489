"""Deploying through the deploy API on the local platform, end to end (issue #12).

A service made with create-service (in a copy of the repository) is built as `wrangler deploy` would
upload it and posted to `deploy.do/deploy`. The deploy worker checks the key with auth, uploads the
bundle with Cloudflare's API to the local stand-in (`make dev` serves it), which keeps it and has the
platform run it: it answers at `<svc>.do`. Real processes throughout: dispatcher, auth, db, gateway,
deploy, the stand-in, the uploaded service; the GitHub Actions deploy step runs as a subprocess.
"""

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import yaml
from conftest import BOOTSTRAP, ROOT, as_, new_key, running_platform

from dotdo_dev.build import build
from dotdo_dev.deploy_cli import pack
from dotdo_dev.generator.create_service import create_service
from dotdo_dev.testing import copy_repo

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

LOCAL = "development"  # the environment the local platform serves: its dispatcher's namespace


def _build(repo: Path, service: str, outdir: Path) -> bytes:
    """As `dotdo deploy <service> --env development` builds it: from its env.development block."""
    return pack(build(repo, repo / "workers" / service, outdir, environment=LOCAL).outdir)[0]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Bundles of generated services: orders v1, orders v2 (its fetch raises), and ledger, which binds
    its sibling orders by service binding (what Cloudflare refuses inside a namespace)."""
    repo = copy_repo(ROOT, tmp_path_factory.mktemp("repo"))
    create_service(repo, name="orders")
    create_service(repo, name="ledger")
    out = tmp_path_factory.mktemp("bundles")
    made = {"v1": _build(repo, "orders", out / "v1")}
    entry = repo / "workers" / "orders" / "src" / "entry.py"
    code = entry.read_text()
    handled = "return await routes.router.handle(request, self.env, self.ctx)"
    assert handled in code
    entry.write_text(code.replace(handled, 'raise RuntimeError("orders v2: broken on purpose")'))
    made["v2"] = _build(repo, "orders", out / "v2")
    config = repo / "workers" / "ledger" / "wrangler.jsonc"
    text = config.read_text()
    sibling = '"services": [{ "binding": "ORDERS", "service": "orders" }, '
    config.write_text(text.replace('"services": [', sibling))  # the top level and every env block
    assert sibling in config.read_text()
    made["ledger"] = _build(repo, "ledger", out / "ledger")
    return made


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    async with running_platform(state, "auth", "db", "gateway", "deploy", cloudflare_api_port=0) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def keys(platform):
    return {
        "deploy": await new_key(platform, ["deploy"], grants=["deploy"]),
        "production": await new_key(platform, ["deploy", "deploy:production"], grants=["deploy", "deploy:production"]),
        "reader": await new_key(platform, ["db:read"]),
    }


def _metadata(service: str, environment: str = LOCAL, version: str = "1.0.0", commit: str = "a" * 40) -> str:
    return json.dumps(
        {"service": service, "environment": environment, "version": version, "commit": commit, "branch": "main"}
    )


async def _deploy(http, key: str | None, metadata: str, bundle: bytes) -> httpx.Response:
    headers = {"host": "deploy.do"} | ({"authorization": f"Bearer {key}"} if key else {})
    files = {"metadata": (None, metadata, "application/json"), "bundle": ("b.tar.gz", bundle, "application/gzip")}
    return await http.post("/deploy", files=files, headers=headers)


async def _deployments(http, key: str, service: str, environment: str = LOCAL) -> list[dict]:
    reply = await http.get(
        "/deployments", params={"service": service, "environment": environment}, headers=as_(key, "deploy.do")
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]  # newest first (the kit answers a list page as data, with meta.pagination)


async def test_v1_answers_v2_breaks_a_rollback_brings_v1_back_and_three_deployments_are_listed(
    http, keys, bundles, platform
):
    key = keys["deploy"]
    first = await _deploy(http, key, _metadata("orders", commit="1" * 40), bundles["v1"])
    assert first.status_code == 201, first.text
    health = await http.get("/health", headers={"host": "orders.do"})
    assert health.status_code == 200, health.text
    assert health.json()["data"]["service"] == "orders"
    # its AUTH_SERVICE (auth-development, as built for development) reaches the local auth: keys work
    assert (await http.get("/items", headers=as_(BOOTSTRAP, "orders.do"))).status_code == 200
    assert (await http.get("/items", headers={"host": "orders.do"})).status_code == 401
    assert platform.deployed["orders"].name.startswith("orders-")

    second = await _deploy(http, key, _metadata("orders", version="2.0.0", commit="2" * 40), bundles["v2"])
    assert second.status_code == 201, second.text
    broken = await http.get("/health", headers={"host": "orders.do"})
    assert broken.status_code == 502  # v2 runs, and its fetch raises
    assert broken.json()["error"]["code"] == "WORKER_ERROR"

    back = await http.post("/rollback", json={"service": "orders", "environment": LOCAL}, headers=as_(key, "deploy.do"))
    assert back.status_code in (200, 201), back.text
    again = await http.get("/health", headers={"host": "orders.do"})
    assert again.status_code == 200, again.text

    listed = await _deployments(http, key, "orders")
    assert len(listed) == 3
    # newest first: the rollback (re-uploading v1's bundle), v2 (replaced by it), v1
    assert [d["action"] for d in listed] == ["rollback", "deploy", "deploy"]
    assert [d["status"] for d in listed] == ["uploaded", "rolled_back", "uploaded"]
    assert [d["commit"] for d in listed] == ["1" * 40, "2" * 40, "1" * 40]
    assert [d["version"] for d in listed] == ["1.0.0", "2.0.0", "1.0.0"]
    assert listed[0]["rollback_of"] == listed[2]["id"]
    assert listed[0]["bundle_sha256"] == listed[2]["bundle_sha256"] != listed[1]["bundle_sha256"]
    assert all(d["actor"] and d["key_id"] for d in listed)
    assert len({d["actor"] for d in listed}) == 1


async def test_no_key_a_key_without_deploy_production_without_its_permission_and_a_bad_bundle_change_nothing(
    http, keys, bundles
):
    good = _metadata("refused")
    assert (await _deploy(http, None, good, bundles["v1"])).status_code == 401
    reader = await _deploy(http, keys["reader"], good, bundles["v1"])
    assert reader.status_code == 403, reader.text
    production = await _deploy(http, keys["deploy"], _metadata("refused", "production"), bundles["v1"])
    assert production.status_code == 403, production.text
    malformed = await _deploy(http, keys["deploy"], good, b"this is not a tar.gz")
    assert malformed.status_code == 400, malformed.text
    assert "tar.gz" in malformed.json()["error"]["message"]
    assert await _deployments(http, keys["deploy"], "refused") == []
    absent = await http.get("/health", headers={"host": "refused.do"})
    assert (absent.status_code, absent.json()["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")


async def test_a_service_binding_to_a_sibling_in_the_namespace_is_refused_with_cloudflares_error(
    http, keys, bundles, platform
):
    reply = await _deploy(http, keys["deploy"], _metadata("ledger"), bundles["ledger"])
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "CLOUDFLARE_REJECTED"
    assert error["details"]["cloudflare"]["code"] == 10143
    assert "Could not resolve service binding 'ORDERS'" in error["details"]["cloudflare"]["message"]
    (failed,) = await _deployments(http, keys["deploy"], "ledger")
    assert failed["status"] == "failed"
    assert "ledger" not in platform.deployed
    absent = await http.get("/health", headers={"host": "ledger.do"})
    assert absent.status_code == 404


async def test_the_workflows_deploy_step_run_against_the_local_platform_deploys_a_changed_service(
    http, keys, platform, tmp_path
):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["deploy"]["steps"] if "deploy-all" in s.get("run", "")]
    command = step["run"].split()
    assert command[:2] == [".venv/bin/dotdo", "deploy-all"]
    environment = command[command.index("--env") + 1]
    repo = copy_repo(ROOT, tmp_path / "repo")
    (repo / ".venv").symlink_to(ROOT / ".venv")
    create_service(repo, name="billing")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DEPLOY_", "GITHUB_", "CLOUDFLARE_"))} | {
        "DEPLOY_API_KEY": keys["production"],
        "DEPLOY_URL": f"{platform.url}/api/deploy",
    }
    etags = []
    for change in ("first", "second"):
        if change == "second":
            readme = repo / "workers" / "billing" / "src" / "items.py"
            readme.write_text(readme.read_text() + "\n# changed\n")
        # not subprocess.run: the platform serves from this event loop while the step runs
        step_process = await asyncio.create_subprocess_exec(
            *command, cwd=repo, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = (b.decode() for b in await asyncio.wait_for(step_process.communicate(), 600))
        assert step_process.returncode == 0, out + err
        assert f"deployed billing to {environment}" in out
        assert keys["production"] not in out + err
        store = platform.cloudflare_api.app.store
        etags.append(store.namespace_scripts(f"dotdo-{environment}")["billing"]["etag"])
    assert etags[0] != etags[1]  # the change was uploaded
    listed = await _deployments(http, keys["production"], "billing", environment)
    assert [d["status"] for d in listed] == ["uploaded", "uploaded"]
