"""create-service: generates a complete service that passes its own tests, lint, wrangler and `make dev`."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dotdo_dev import testing, wrangler
from dotdo_dev.generator.create_service import CreateServiceError, ServiceNames, create_service, read_registry
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
    expected = {"wrangler.jsonc", "README.md", "src/entry.py", "src/routes.py", "src/tools.py", "src/jobs.py"}
    present = {str(p.relative_to(service)) for p in service.rglob("*") if p.is_file()}
    assert expected <= present
    assert not any(p.endswith(".j2") for p in present)
    assert {"name": "order-history", "type": "domain", "description": "Orders, kept forever."} in read_registry(repo)
    assert "class Default(WorkerEntrypoint)" in (service / "src" / "entry.py").read_text()
    assert "order_history_get_item" in (service / "src" / "tools.py").read_text()


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


def test_wrangler_accepts_the_generated_config(generated, tmp_path):
    repo, service = generated
    result = wrangler.dry_run(repo, service / "wrangler.jsonc", tmp_path)
    assert result.ok, result.output


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
        # and through the gateway, which create-service bound to it
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


def test_the_gateway_is_bound_to_the_new_service_in_every_environment(generated):
    from dotdo_dev.config import load_worker

    repo, _ = generated
    gateway = repo / "workers" / "gateway"
    for environment in (None, "staging", "development"):
        services = {s.binding: s.service for s in load_worker(gateway, environment=environment).services}
        assert services["ORDER_HISTORY_SERVICE"] == "order-history"
    text = (gateway / "wrangler.jsonc").read_text()
    assert text.count("create-service: new services above this line") == 3  # the markers stay for the next one


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
