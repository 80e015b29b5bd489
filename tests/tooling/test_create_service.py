"""create-service: generates a complete service that passes its own tests, lint, wrangler and `make dev`."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dotdo_dev import registry, testing, wrangler
from dotdo_dev.generator.create_service import CreateServiceError, ServiceNames, create_service
from dotdo_dev.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]


def copy_repo(target: Path) -> Path:
    return testing.copy_repo(ROOT, target)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    service = create_service(repo, name="order-history", kind="domain", description="Orders, kept forever.")
    return repo, service


def test_names():
    names = ServiceNames.from_name("order-history")
    assert (names.snake, names.pascal, names.binding) == ("order_history", "OrderHistory", "ORDER_HISTORY_SERVICE")


def test_generated_files_and_registration(generated):
    repo, service = generated
    assert service == repo / "workers" / "order-history"
    expected = {"wrangler.jsonc", "service.toml", "README.md", "src/entry.py", "src/routes.py", "src/operations.py"}
    expected |= {"src/jobs.py", "tests/conftest.py", "tests/test_service.py"}
    present = {str(p.relative_to(service)) for p in service.rglob("*") if p.is_file()}
    assert expected <= present
    assert not any(p.endswith(".j2") for p in present)
    manifest = registry.read_manifest(service / "service.toml")
    assert (manifest.name, manifest.description) == ("order-history", "Orders, kept forever.")
    assert manifest.roles == {"user": ["order-history:read", "order-history:write"], "viewer": ["order-history:read"]}
    assert manifest.placement == "namespace"  # a script of the dispatch namespace dotdo-<env>
    assert "class Default(WorkerEntrypoint)" in (service / "src" / "entry.py").read_text()
    assert "order_history_get_item" in (service / "src" / "operations.py").read_text()
    assert registry.sync(repo, check=True) == []  # the registries already include it


@pytest.mark.slow
def test_generated_service_passes_its_own_tests(generated):
    repo, service = generated
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(service / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_generated_service_is_lint_clean(generated):
    repo, service = generated
    ruff = Path(sys.executable).parent / "ruff"
    check = subprocess.run([ruff, "check", str(service)], cwd=repo, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [ruff, "format", "--check", str(service)], cwd=repo, capture_output=True, text=True, check=False
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.slow
@pytest.mark.parametrize("environment", [None, "staging", "development"])
def test_wrangler_accepts_the_generated_config(generated, tmp_path, environment):
    repo, service = generated
    result = wrangler.dry_run(repo, service / "wrangler.jsonc", tmp_path, environment=environment)
    assert result.ok, result.output
    assert "WARNING" not in result.output, result.output  # e.g. "No environment found"


def test_the_generated_service_binds_the_auth_worker_of_each_environment(generated):
    # wrangler deploy --env <e> uploads every Worker as <name>-<e>: staging's auth is auth-staging
    from dotdo_dev.build import upload_metadata
    from dotdo_dev.config import load_local, load_worker

    repo, service = generated
    for environment, auth in ((None, "auth"), ("staging", "auth-staging"), ("development", "auth-development")):
        config = load_worker(service, environment=environment)
        assert {s.binding: s.service for s in config.services} == {"AUTH_SERVICE": auth}, environment
        uploaded = [b for b in upload_metadata(config, [])["bindings"] if b["type"] == "service"]
        assert uploaded == [{"type": "service", "name": "AUTH_SERVICE", "service": auth}], environment
    assert [s.service for s in load_local(service).services] == ["auth"]  # locally, the worker auth
    assert registry.binding_problems(repo) == []


@pytest.mark.slow
async def test_generated_service_is_served_through_the_dispatcher(generated, tmp_path):
    repo, _ = generated
    admin_key = "sk_test_create_service_admin_0123456789abcdefghij"
    secrets = {"API_KEY_SECRET": "s" * 40, "JWT_SECRET": "j" * 40, "BOOTSTRAP_ADMIN_KEY": admin_key}
    platform = LocalPlatform(repo, state_dir=tmp_path, port=0, environ=dict(os.environ) | secrets)
    async with platform, httpx.AsyncClient(timeout=10) as http:
        http.base_url = platform.url
        by_host = await http.get("/health", headers={"Host": "order-history.do"})
        assert by_host.status_code == 200
        assert by_host.json()["data"]["service"] == "order-history"
        by_path = await http.get("/api/order-history/health")
        assert by_path.status_code == 200
        assert by_path.json()["data"] == by_host.json()["data"]
        anonymous = await http.post("/api/order-history/items", json={"name": "first"})
        assert anonymous.status_code == 401  # authenticated by the real auth service
        admin = {"authorization": f"Bearer {admin_key}"}
        created = await http.post("/api/order-history/items", json={"name": "first"}, headers=admin)
        assert created.status_code == 201
        # and through the gateway, which reaches it in the dispatch namespace (no service binding names it)
        via_gateway = await http.get("/order-history/items", headers=admin | {"Host": "gateway.do"})
        assert via_gateway.status_code == 200
        assert [i["name"] for i in via_gateway.json()["data"]] == ["first"]
        missing = await http.get("/health", headers={"Host": "missing.do"})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "SERVICE_NOT_DEPLOYED"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "required"),
        ("Orders", "invalid name"),
        ("1orders", "invalid name"),
        ("orders_v2", "invalid name"),
        ("orders--v2", "invalid name"),
        ("orders-", "invalid name"),
        ("../evil", "invalid name"),
        ("x" * 41, "too long"),
        ("dispatcher", "reserved"),
        ("shared", "reserved"),
        ("email", "shadow"),
        ("queue", "shadow"),
        ("import", "shadow"),
    ],
)
def test_invalid_names_are_rejected(tmp_path, name, message):
    repo = copy_repo(tmp_path)
    before = sorted((repo / "workers").iterdir())
    with pytest.raises(CreateServiceError, match=message):
        create_service(repo, name=name)
    assert sorted((repo / "workers").iterdir()) == before


def test_the_new_service_is_reached_through_the_namespace_and_bound_by_no_one(generated):
    from dotdo_dev.config import load_worker

    repo, _ = generated
    for folder in (repo / "workers" / "gateway", repo / "dispatcher"):
        for environment in (None, "staging", "development"):
            config = load_worker(folder, environment=environment)
            assert "order-history" not in {s.service for s in config.services}, (folder, environment)
            assert config.dispatch_namespaces  # how it is reached instead
        text = (folder / "wrangler.jsonc").read_text()
        assert text.count(registry.BINDINGS_BEGIN) == 3  # the markers stay for the next account-level service
        assert "ORDER_HISTORY_SERVICE" not in text
    assert registry.binding_problems(repo) == []
    entry = registry.read_manifest(repo / "workers" / "order-history" / "service.toml").as_data()
    assert (entry["placement"], "binding" in entry) == ("namespace", False)


def test_refuses_to_overwrite_and_unknown_types(generated):
    repo, _ = generated
    with pytest.raises(CreateServiceError, match="already exists"):
        create_service(repo, name="order-history")
    with pytest.raises(CreateServiceError, match="unknown type 'ai'"):
        create_service(repo, name="embeddings", kind="ai")
    assert not (repo / "workers" / "embeddings").exists()


def test_cli_reports_errors_with_exit_code_2(tmp_path):
    repo = copy_repo(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "dotdo_dev", "create-service", "--name", "Bad Name"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "invalid name" in result.stderr


def _tree(repo: Path) -> dict[str, bytes]:
    """Every file of a repository copy (node_modules is a link to the real one) and its content."""
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in repo.rglob("*")
        if p.is_file() and "node_modules" not in p.relative_to(repo).parts and "__pycache__" not in p.parts
    }


def test_only_the_new_folder_and_the_generated_registries_change(tmp_path):
    repo = copy_repo(tmp_path)
    before = _tree(repo)
    create_service(repo, name="invoices")
    after = _tree(repo)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    outside = {path for path in changed if not path.startswith("workers/invoices/")}
    assert outside == {"shared/registry.py"}  # a namespace service: no wrangler.jsonc binds it
    assert all(path in after for path in changed)  # nothing removed


ADDED_OPERATION = '''

class Prefix(BaseModel):
    """Names starting with these letters."""

    prefix: str = Field(min_length=1, max_length=50)


@service.operation(http="GET /items/count", permission=READ, tool="invoices_count_items")
async def count_items(call: Call, args: Prefix) -> dict:
    """Count the items whose name starts with a prefix."""
    page = await items.list_items(call.env, 1, 100)
    return {"count": sum(1 for item in page["items"] if item["name"].startswith(args.prefix))}
'''

ADDED_OPERATION_TEST = '''"""The operation added by one declaration, on every face with the same permission."""

from conftest import P_READER, P_STRANGER, P_WRITER, READER, STRANGER

from dotdo_dev.testing import mcp_call, rpc_fails


async def test_one_declaration_gives_rpc_http_mcp_and_openapi(worker):
    for name in ("apple", "avocado", "banana"):
        await worker.rpc("create_item", P_WRITER, {"name": name})
    assert await worker.rpc("count_items", P_READER, "a") == {"count": 2}
    http = await worker.fetch("/items/count?prefix=a", headers=READER)
    assert (await http.json())["data"] == {"count": 2}
    _, tool = await mcp_call(worker, "tools/call", {"name": "invoices_count_items", "arguments": {"prefix": "a"}},
                             headers=READER)
    assert tool["result"]["structuredContent"] == {"count": 2}
    document = await (await worker.fetch("/openapi.json")).json()
    entry = document["paths"]["/items/count"]["get"]
    assert entry["x-permission"] == "invoices:read"
    assert entry["parameters"][0]["name"] == "prefix"

    assert (await rpc_fails(worker, "count_items", P_STRANGER, "a")).code == "FORBIDDEN"
    assert (await worker.fetch("/items/count?prefix=a", headers=STRANGER)).status == 403
    _, hidden = await mcp_call(worker, "tools/list", headers=STRANGER)
    assert "invoices_count_items" not in [t["name"] for t in hidden["result"]["tools"]]
    _, refused = await mcp_call(worker, "tools/call", {"name": "invoices_count_items", "arguments": {"prefix": "a"}},
                                headers=STRANGER)
    assert refused["result"]["isError"] is True
    assert (await worker.fetch("/items/count", headers=READER)).status == 400  # prefix is required
'''


@pytest.mark.slow
def test_adding_an_operation_is_one_declaration_on_every_face(tmp_path):
    repo = copy_repo(tmp_path)
    service = create_service(repo, name="invoices")
    operations = service / "src" / "operations.py"
    source = (
        operations.read_text().replace("from pydantic import Field", "from pydantic import BaseModel, Field")
        + ADDED_OPERATION
    )
    operations.write_text(source)
    (service / "tests" / "test_added_operation.py").write_text(ADDED_OPERATION_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(service / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_added_operation.py ." in result.stdout or " passed" in result.stdout
