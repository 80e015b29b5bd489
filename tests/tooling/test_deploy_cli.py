"""`dotdo deploy` / `dotdo deploy-all` against the deploy API's contract (respx; dotdo_dev/deploy_cli.py).

The contract: `POST {DEPLOY_URL}/deploy`, `Authorization: Bearer <key>`, multipart with a `metadata`
JSON part and a `bundle` tar.gz part; 201 answers the deployment record in the success envelope,
401 / 403 / 400 the error envelope `{"success": false, "error": {"code", "message", "details"}}`.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from dotdo_dev import deploy_cli
from dotdo_dev.build import Bundle
from dotdo_dev.deploy_cli import deploy_all, deploy_one

REPO = Path(__file__).resolve().parents[2]
KEY = "dk_live_s3cr3t-key-that-must-never-be-printed"
URL = "https://deploy.test"
ENVIRON = {
    "DEPLOY_API_KEY": KEY,
    "DEPLOY_URL": URL,
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_REF_NAME": "main",
    "GITHUB_ACTOR": "octocat",
}


def _worker(root: Path, name: str, binds: tuple[str, ...] = (), folder: str = "") -> None:
    directory = root / (folder or f"workers/{name}")
    directory.mkdir(parents=True)
    config = {
        "name": name,
        "main": "src/entry.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "services": [{"binding": f"{b.upper()}_SERVICE", "service": b} for b in binds],
    }
    # wrangler carries no bindings into an environment: each block names its own
    config["env"] = {env: {"services": config["services"]} for env in ("staging", "development")}
    (directory / "wrangler.jsonc").write_text(json.dumps(config))
    (directory / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "1.2.3"\n')


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _worker(tmp_path, "dispatcher", folder="dispatcher")
    _worker(tmp_path, "auth")
    _worker(tmp_path, "db", ("auth",))
    _worker(tmp_path, "gateway", ("auth", "db"))
    return tmp_path


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """A stand-in for dotdo_dev.build.build (real builds are tested in test_build.py): a small bundle."""
    calls: list[tuple[str, str | None]] = []

    def fake_build(root: Path, worker_dir: Path, outdir: Path, *, environment: str | None = None) -> Bundle:
        calls.append((worker_dir.name, environment))
        outdir.mkdir(parents=True)
        (outdir / "entry.py").write_text(f"# {worker_dir.name} entry\n")
        (outdir / "python_modules" / "shared").mkdir(parents=True)
        (outdir / "python_modules" / "shared" / "errors.py").write_text("class AppError(Exception): ...\n")
        (outdir / "metadata.json").write_text(json.dumps({"main_module": "entry.py"}))
        (outdir / "README.md").write_text("wrangler's note, not uploaded\n")
        return Bundle(worker_dir.name, outdir, "entry.py", ["entry.py", "python_modules/shared/errors.py"])

    monkeypatch.setattr(deploy_cli, "build", fake_build)
    return calls


class Output:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[str] = []

    def kwargs(self, environ: dict[str, str] | None = None) -> dict[str, Any]:
        return {"environ": ENVIRON if environ is None else environ, "out": self.out.append, "err": self.err.append}

    @property
    def text(self) -> str:
        return "\n".join(self.out + self.err)


def _record(service: str, n: int = 1) -> dict[str, Any]:
    return {
        "success": True,
        "data": {
            "id": f"dep_{service}_{n}",
            "service": service,
            "environment": "staging",
            "version": "1.2.3+0123456789ab",
            "commit": ENVIRON["GITHUB_SHA"],
            "actor": "usr_ci",
            "status": "live",
        },
        "meta": {"request_id": "req_1", "timestamp": "2026-12-02T08:00:00Z"},
    }


def _failure(code: str, message: str) -> dict[str, Any]:
    return {"success": False, "error": {"code": code, "message": message, "details": None}, "meta": {}}


def _parts(request: httpx.Request) -> dict[str, Any]:
    """The multipart body's parts by name: (filename, content type, bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert message.is_multipart()
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[name] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
    return parts


@respx.mock
def test_deploy_posts_metadata_and_the_bundle_as_multipart(repo: Path, builds: list) -> None:
    route = respx.post(f"{URL}/deploy").mock(return_value=httpx.Response(201, json=_record("db")))
    output = Output()
    assert deploy_one(repo, "db", "staging", **output.kwargs()) == 0
    assert builds == [("db", "staging")]
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = _parts(request)
    assert set(parts) == {"metadata", "bundle"}
    filename, content_type, data = parts["metadata"]
    assert (filename, content_type) == (None, "application/json")
    assert json.loads(data) == {
        "service": "db",
        "environment": "staging",
        "version": "1.2.3+0123456789ab",
        "commit": ENVIRON["GITHUB_SHA"],
        "branch": "main",
        "author": "octocat",
    }
    filename, content_type, data = parts["bundle"]
    assert (filename, content_type) == ("db.tar.gz", "application/gzip")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        assert tar.extractfile("entry.py").read() == b"# db entry\n"
    assert names == ["entry.py", "metadata.json", "python_modules/shared/errors.py"]
    assert "deployed db to staging: deployment dep_db_1" in output.text
    assert KEY not in output.text


@respx.mock
def test_the_url_defaults_to_deploy_do_and_deploy_version_wins(repo: Path, builds: list) -> None:
    route = respx.post("https://deploy.do/deploy").mock(return_value=httpx.Response(201, json=_record("auth")))
    environ = {k: v for k, v in ENVIRON.items() if k != "DEPLOY_URL"} | {"DEPLOY_VERSION": "2026.12.2"}
    assert deploy_one(repo, "auth", "staging", **Output().kwargs(environ)) == 0
    assert json.loads(_parts(route.calls.last.request)["metadata"][2])["version"] == "2026.12.2"


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (401, "UNAUTHORIZED", "A valid API key is required"),
        (403, "FORBIDDEN", "Deploying to production needs the deploy:production permission"),
        (400, "BAD_REQUEST", "bundle: not a gzip tar archive"),
    ],
)
@respx.mock
def test_an_api_error_is_one_line_and_exit_1(repo: Path, builds: list, status: int, code: str, message: str) -> None:
    respx.post(f"{URL}/deploy").mock(return_value=httpx.Response(status, json=_failure(code, message)))
    output = Output()
    assert deploy_one(repo, "db", "staging", **output.kwargs()) == 1
    assert output.err == [f"deploy: {code}: {message}"]
    assert KEY not in output.text


@respx.mock
def test_an_answer_without_an_envelope_names_the_status(repo: Path, builds: list) -> None:
    respx.post(f"{URL}/deploy").mock(return_value=httpx.Response(502, text="<html>Bad gateway</html>"))
    output = Output()
    assert deploy_one(repo, "db", "staging", **output.kwargs()) == 1
    assert output.err == ["deploy: HTTP_502: <html>Bad gateway</html>"]


@respx.mock
def test_an_unreachable_api_is_exit_1_and_the_key_is_not_printed(repo: Path, builds: list) -> None:
    respx.post(f"{URL}/deploy").mock(side_effect=httpx.ConnectError(f"refused (key {KEY})"))
    output = Output()
    assert deploy_one(repo, "db", "staging", **output.kwargs()) == 1
    assert output.err[0].startswith(f"deploy: UNREACHABLE: {URL}: ConnectError")
    assert KEY not in output.text


@respx.mock
def test_no_key_is_one_line_exit_2_and_nothing_is_built_or_sent(repo: Path, builds: list) -> None:
    route = respx.post(f"{URL}/deploy")
    output = Output()
    environ = {k: v for k, v in ENVIRON.items() if k != "DEPLOY_API_KEY"}
    assert deploy_one(repo, "db", "staging", **output.kwargs(environ)) == 2
    assert deploy_all(repo, "staging", **output.kwargs(environ)) == 2
    assert len(output.err) == 2
    assert output.err[0].startswith("deploy: DEPLOY_API_KEY is not set")
    assert output.out == []
    assert not route.called
    assert builds == []


@respx.mock
def test_an_unknown_service_is_exit_2(repo: Path, builds: list) -> None:
    output = Output()
    assert deploy_one(repo, "ledger", "staging", **output.kwargs()) == 2
    assert output.err == ["deploy: no service named 'ledger' (no workers/ledger/wrangler.jsonc)"]


@respx.mock
def test_dry_run_prints_files_sizes_and_metadata_and_sends_nothing(repo: Path, builds: list) -> None:
    route = respx.post(url__regex=r".*")
    output = Output()
    environ = {k: v for k, v in ENVIRON.items() if k != "DEPLOY_API_KEY"}  # no key needed
    assert deploy_one(repo, "gateway", "production", dry_run=True, **output.kwargs(environ)) == 0
    assert not route.called
    text = output.text
    assert f"would POST {URL}/deploy (nothing sent)" in text
    assert '"service": "gateway"' in text
    assert '"environment": "production"' in text
    assert builds == [("gateway", None)]  # production is wrangler.jsonc's top level: no `--env production`
    assert '"commit": "0123456789abcdef0123456789abcdef01234567"' in text
    assert "3 files" in text
    assert any(line.split() == [str(len("# gateway entry\n")), "entry.py"] for line in output.out)
    assert any(line.strip().endswith("python_modules/shared/errors.py") for line in output.out)
    assert "README.md" not in text


SKIPPED = "skipped (account-level platform workers, deployed with wrangler, not the deploy API): "


@respx.mock
def test_deploy_all_posts_the_namespace_services_and_names_the_platform_workers_it_skips(
    repo: Path, builds: list
) -> None:
    _worker(repo, "orders", ("auth", "db"))
    _worker(repo, "invoices", ("auth",))
    services: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        service = json.loads(_parts(request)["metadata"][2])["service"]
        services.append(service)
        return httpx.Response(201, json=_record(service))

    respx.post(f"{URL}/deploy").mock(side_effect=answer)
    output = Output()
    assert deploy_all(repo, "staging", **output.kwargs()) == 0
    assert services == ["invoices", "orders"]  # the platform's workers are account-level: never posted
    assert [name for name, _ in builds] == services
    assert output.out[0] == SKIPPED + "auth, db, gateway, dispatcher"
    assert output.out[1] == "deploy order (staging): invoices -> orders"


@respx.mock
def test_deploy_all_with_only_platform_workers_posts_nothing(repo: Path, builds: list) -> None:
    route = respx.post(url__regex=r".*")
    output = Output()
    assert deploy_all(repo, "production", **output.kwargs()) == 0
    assert output.out == [
        SKIPPED + "auth, db, gateway, dispatcher",
        "nothing to deploy to production: no service of the dispatch namespace in this repository",
    ]
    assert not route.called
    assert builds == []


@respx.mock
def test_deploy_all_stops_at_the_first_failure(repo: Path, builds: list) -> None:
    _worker(repo, "orders", ("auth", "db"))
    _worker(repo, "invoices", ("auth",))
    services: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        service = json.loads(_parts(request)["metadata"][2])["service"]
        services.append(service)
        if service == "invoices":
            return httpx.Response(400, json=_failure("BAD_REQUEST", "bundle: entry.py is missing"))
        return httpx.Response(201, json=_record(service))

    respx.post(f"{URL}/deploy").mock(side_effect=answer)
    output = Output()
    assert deploy_all(repo, "staging", **output.kwargs()) == 1
    assert services == ["invoices"]
    assert output.err == [
        "deploy: BAD_REQUEST: bundle: entry.py is missing",
        "deploy-all: stopped at invoices; not deployed: orders",
    ]


@respx.mock
def test_deploy_all_with_a_cycle_sends_nothing(repo: Path, builds: list) -> None:
    _worker(repo, "ledger", ("billing",))
    _worker(repo, "billing", ("ledger",))
    route = respx.post(url__regex=r".*")
    output = Output()
    assert deploy_all(repo, "staging", **output.kwargs()) == 2
    assert output.err == ["deploy: ORDER: dependency cycle: billing -> ledger -> billing"]
    assert not route.called
    assert builds == []


def test_deploy_all_dry_run_lists_every_service(repo: Path, builds: list) -> None:
    _worker(repo, "orders", ("auth", "db"))
    _worker(repo, "invoices", ("auth",))
    output = Output()
    assert deploy_all(repo, "staging", dry_run=True, **output.kwargs()) == 0
    assert [name for name, _ in builds] == ["invoices", "orders"]
    assert sum(line.startswith("dry run:") for line in output.out) == 2


def test_commit_branch_and_author_come_from_git_without_github_variables() -> None:
    facts = deploy_cli.git_facts(REPO, {})
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
    assert facts["commit"] == head.stdout.strip()
    assert facts["branch"]
    assert facts["author"]
    assert deploy_cli.git_facts(REPO, {"GITHUB_SHA": "abc", "GITHUB_REF_NAME": "b", "GITHUB_ACTOR": "me"}) == {
        "commit": "abc",
        "branch": "b",
        "author": "me",
    }


def test_the_tarball_is_reproducible(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("b")
    (tmp_path / "a.py").write_text("a")
    first, files = deploy_cli.pack(tmp_path)
    second, _ = deploy_cli.pack(tmp_path)
    assert first == second
    assert files == [("a.py", 1), ("b.py", 1)]


def test_the_cli_parses_deploy_and_deploy_all(monkeypatch: pytest.MonkeyPatch) -> None:
    from dotdo_dev import cli

    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(deploy_cli, "deploy_one", lambda root, s, e, dry_run: calls.append((s, e, dry_run)) or 0)
    monkeypatch.setattr(deploy_cli, "deploy_all", lambda root, e, dry_run: calls.append((e, dry_run)) or 0)
    for argv in (["deploy", "db", "--env", "staging"], ["deploy-all", "--env", "production", "--dry-run"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 0
    assert calls == [("db", "staging", False), ("production", True)]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["deploy", "db"])  # --env is required
    assert exit_.value.code == 2


@pytest.mark.slow
def test_a_real_dry_run_of_the_dispatcher_builds_and_lists_its_bundle(
    tmp_path: Path, build_copy: Callable[[Path], Path]
) -> None:
    # In a copy: a build lays out python_modules/ in the worker's folder (as test_build.py does).
    repo = build_copy(tmp_path / "repo")
    environ = {k: v for k, v in os.environ.items() if k != "DEPLOY_API_KEY"}
    environ |= {"DEPLOY_URL": "http://127.0.0.1:9", "GITHUB_SHA": "f" * 40, "GITHUB_REF_NAME": "main"}
    result = subprocess.run(
        [sys.executable, "-m", "dotdo_dev", "deploy", "dispatcher", "--env", "staging", "--dry-run"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "would POST http://127.0.0.1:9/deploy (nothing sent)" in result.stdout
    assert '"service": "dispatcher"' in result.stdout
    assert '"version": "0.1.0+ffffffffffff"' in result.stdout
    listed = [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert {"entry.py", "metadata.json", "python_modules/shared/errors.py"} <= set(listed)
    assert "README.md" not in listed


def test_an_environment_without_its_env_block_is_refused_before_any_build(repo: Path, builds: list) -> None:
    config = repo / "workers" / "db" / "wrangler.jsonc"
    data = json.loads(config.read_text())
    del data["env"]["staging"]
    config.write_text(json.dumps(data))
    output = Output()
    assert deploy_one(repo, "db", "staging", **output.kwargs()) == 2
    assert output.err == [
        "deploy: NO_ENVIRONMENT: db's wrangler.jsonc has no env.staging block to build staging from "
        "(production builds from the top level)"
    ]
    assert builds == []
    assert deploy_one(repo, "db", "production", dry_run=True, **output.kwargs()) == 0  # the top level
    assert builds == [("db", None)]


@respx.mock
@pytest.mark.parametrize("key", ["sk_test_a1\nb2c3", "sk_test_d4 e5f6", "sk_test_g7\th8i9", "sk_test_é0j1"])
def test_a_key_that_is_not_one_token_is_refused_without_being_shown(repo: Path, builds: list, key: str) -> None:
    route = respx.post(url__regex=r".*")
    output = Output()
    assert deploy_one(repo, "db", "staging", **output.kwargs(ENVIRON | {"DEPLOY_API_KEY": key})) == 2
    assert output.err == [
        "deploy: DEPLOY_API_KEY is not one API key (it holds spaces, line breaks or other characters "
        "no key has; the value is not shown)"
    ]
    assert not route.called
    assert builds == []
    assert "sk_test_" not in output.text
    assert all(part not in output.text for part in key.removeprefix("sk_test_").split())
