"""`dotdo build`: a worker's upload bundle is what `wrangler deploy` would send, shared/ included, lean, in budget."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pytest

from dotdo_dev import wrangler
from dotdo_dev.build import FREE_PLAN_LIMIT_BYTES, MIB, BuildError, Bundle, budget_bytes, build, modules_in

ROOT = Path(__file__).resolve().parents[2]
WORKERS = {"dispatcher": ROOT / "dispatcher", **{p.name: p for p in sorted((ROOT / "workers").glob("*")) if p.is_dir()}}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, build_copy):
    """A copy of the repo to build in: a build lays out `python_modules/` in the worker's folder and
    fills the wheel cache, which tests/conformance, running at the same time, also builds (the copy's
    cache is the session's, conftest.py)."""
    return build_copy(tmp_path_factory.mktemp("repo"))


def in_copy(repo: Path, name: str) -> Path:
    return repo / WORKERS[name].relative_to(ROOT)


@pytest.fixture(scope="module")
def bundles(request, tmp_path_factory, repo, wheel_cache):
    """`bundles(name)`: the worker's bundle, built once in `repo`.

    The first build fills the session's wheel cache (shared/ built into a wheel, the SDK downloaded); the
    other workers the selected tests name as `name` are then built side by side, as many at once as there
    are CPUs, each with a copy of that cache so that no two pip runs write into one folder, and all are
    done before that first test goes on. A build's error is raised in the test that asks for that worker.
    """
    named = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if getattr(item, "module", None) is request.module and callspec and "name" in callspec.params:
            named.add(callspec.params["name"])
    built: dict[str, Future[Bundle]] = {}
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)

    def start(name: str, cache: Path | None = None) -> Future[Bundle]:
        outdir = tmp_path_factory.mktemp(name) / "bundle"
        return pool.submit(build, repo, in_copy(repo, name), outdir, cache=cache)

    def get(name: str) -> Bundle:
        if not built:
            built[name] = start(name)
            built[name].exception()  # the first build alone: it fills the cache the others copy
            for other in sorted(named):
                if other not in built:
                    cache = tmp_path_factory.mktemp(f"wheels-{other}")
                    shutil.copytree(wheel_cache, cache, dirs_exist_ok=True)
                    built[other] = start(other, cache)
            wait(built.values())
        if name not in built:
            built[name] = start(name)
        return built[name].result()

    yield get
    pool.shutdown()


@pytest.mark.slow
def test_the_bundle_is_exactly_what_wrangler_writes(bundles, repo, tmp_path):
    bundle = bundles("gateway")
    # wrangler again, by hand, on the same worker folder (python_modules/ as the build left it)
    result = wrangler.dry_run(repo, in_copy(repo, "gateway") / "wrangler.jsonc", tmp_path / "wrangler")
    assert result.ok, result.output
    theirs = modules_in(tmp_path / "wrangler")
    assert bundle.modules == theirs
    for name in theirs:
        assert (bundle.outdir / name).read_bytes() == (tmp_path / "wrangler" / name).read_bytes(), name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WORKERS))
def test_every_bundle_carries_its_sources_shared_and_the_sdk(bundles, name):
    bundle = bundles(name)
    src = WORKERS[name] / "src"
    assert {p.relative_to(src).as_posix() for p in src.rglob("*.py")} <= set(bundle.modules)
    assert bundle.main_module == "entry.py"
    # shared/ as the pip-built wheel of shared/pyproject.toml installs it: every module, byte for byte
    for module in (ROOT / "shared").rglob("*.py"):
        relative = module.relative_to(ROOT).as_posix()
        assert (bundle.outdir / "python_modules" / relative).read_bytes() == module.read_bytes(), relative
    assert "python_modules/workers/__init__.py" in bundle.modules  # Cloudflare's SDK, which it requires
    assert "python_modules/dotdo_shared-0.1.0.dist-info/METADATA" in bundle.modules


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WORKERS))
def test_bundles_are_lean(bundles, name):
    modules = bundles(name).modules
    vendored = [m.removeprefix("python_modules/") for m in modules if m.startswith("python_modules/")]
    assert not [m for m in vendored if m.endswith((".pyc", ".pyi")) or "__pycache__" in m]
    assert not [m for m in vendored if "/tests/" in m or m.rsplit("/", 1)[-1].startswith("test_")]
    dist_info = {m.split("/", 1)[1] for m in vendored if m.split("/", 1)[0].endswith(".dist-info")}
    assert dist_info <= {"METADATA", "entry_points.txt"}, dist_info  # what importlib.metadata reads
    assert not [m for m in vendored if m.startswith("pydantic/v1/")]
    assert "python_modules/shared/pyproject.toml" not in modules


@pytest.mark.slow
@pytest.mark.parametrize(("name", "budget_mb"), [("dispatcher", 0.1), ("gateway", 0.1), ("db", 2.0), ("auth", 2.5)])
def test_bundles_keep_their_budgets(bundles, name, budget_mb):
    bundle = bundles(name)
    assert bundle.budget_bytes == int(budget_mb * MIB)
    assert 0 < bundle.gzip_bytes <= bundle.budget_bytes
    assert bundle.gzip_bytes < bundle.raw_bytes


@pytest.mark.slow
def test_auth_bundles_no_http_client(bundles):
    # WorkOS is called with the runtime's fetch: httpx and its dependencies stay out of the upload.
    tops = {m.split("/")[1] for m in bundles("auth").modules if m.startswith("python_modules/")}
    assert not tops & {"httpx", "httpcore", "anyio", "h11", "certifi", "idna"}
    assert {"jose", "pydantic", "pydantic_core", "shared", "workers"} <= tops


@pytest.mark.slow
def test_metadata_records_the_upload(bundles):
    bundle = bundles("gateway")
    metadata = json.loads((bundle.outdir / "metadata.json").read_text())
    assert metadata["main_module"] == "entry.py"
    assert metadata["compatibility_date"] == "2026-11-01"
    assert "python_workers" in metadata["compatibility_flags"]
    bindings = {b["name"]: b for b in metadata["bindings"]}
    assert bindings["AUTH_SERVICE"] == {"type": "service", "name": "AUTH_SERVICE", "service": "auth"}
    assert bindings["RATE_LIMITER"] == {
        "type": "durable_object_namespace",
        "name": "RATE_LIMITER",
        "class_name": "RateLimiter",
    }
    assert bindings["SERVICE_NAME"] == {"type": "plain_text", "name": "SERVICE_NAME", "text": "gateway"}
    types = {m["name"]: m["type"] for m in metadata["modules"]}
    assert types["entry.py"] == "text/x-python"
    assert types["python_modules/shared/envelope.py"] == "application/octet-stream"
    assert types["python_modules/workers/workflows.js"] == "application/javascript+module"
    assert [m["name"] for m in metadata["modules"]] == bundle.modules


def test_metadata_carries_rate_limit_bindings_as_wrangler_uploads_them():
    from dotdo_dev.build import upload_metadata
    from dotdo_dev.config import load_worker

    metadata = upload_metadata(load_worker(ROOT / "dispatcher"), [])
    bindings = {b["name"]: b for b in metadata["bindings"]}
    assert bindings["FRONT_DOOR_LIMITER"] == {
        "type": "ratelimit",
        "name": "FRONT_DOOR_LIMITER",
        "namespace_id": "1001",
        "simple": {"limit": 600, "period": 60},
    }


@pytest.mark.slow
def test_a_bundle_over_its_budget_fails_the_build(tmp_path, build_copy):
    repo = build_copy(tmp_path / "repo")
    pyproject = repo / "workers" / "gateway" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("max-gzip-mb = 0.1", "max-gzip-mb = 0.01"))
    with pytest.raises(BuildError, match=r"gateway: the bundle is 0\.\d\d MB gzipped, over its budget of 0\.01 MB"):
        build(repo, repo / "workers" / "gateway", tmp_path / "out")


def test_budgets_cannot_exceed_the_free_plan(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.dotdo.bundle]\nmax-gzip-mb = 10\n')
    assert budget_bytes(tmp_path) == FREE_PLAN_LIMIT_BYTES
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.dotdo.bundle]\nmax-gzip-mb = "big"\n')
    with pytest.raises(BuildError, match="must be a positive number"):
        budget_bytes(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert budget_bytes(tmp_path) == FREE_PLAN_LIMIT_BYTES


def test_an_outdir_holding_other_files_is_refused(tmp_path):
    outdir = tmp_path / "precious"
    outdir.mkdir()
    (outdir / "notes.txt").write_text("keep me")
    with pytest.raises(BuildError, match="not empty and holds no previous bundle"):
        build(ROOT, WORKERS["dispatcher"], outdir)
    assert (outdir / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_a_previous_bundle_is_replaced_not_merged(bundles, repo, tmp_path):
    outdir = tmp_path / "bundle"
    shutil.copytree(bundles("dispatcher").outdir, outdir)
    (outdir / "stale.py").write_text("x = 1\n")
    rebuilt = build(repo, in_copy(repo, "dispatcher"), outdir)
    assert "stale.py" not in rebuilt.modules
    assert not (outdir / "stale.py").exists()


@pytest.mark.slow
def test_a_config_wrangler_refuses_fails_the_build(repo, tmp_path):
    worker = tmp_path / "broken"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry.py").write_text("from workers import WorkerEntrypoint\n")
    (worker / "wrangler.jsonc").write_text(
        '{"name": "broken", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"], "servises": []}'
    )
    with pytest.raises(BuildError, match="wrangler refused"):
        build(repo, worker, tmp_path / "out")


@pytest.mark.slow
def test_a_dependency_that_cannot_be_vendored_fails_the_build_naming_it(tmp_path):
    worker = tmp_path / "needs-psycopg"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry.py").write_text("from workers import WorkerEntrypoint\n")
    (worker / "wrangler.jsonc").write_text(
        '{"name": "needs-psycopg", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"]}'
    )
    (worker / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["psycopg2==2.9.10"]\n'
    )
    with pytest.raises(BuildError, match=r"needs-psycopg: cannot vendor .*psycopg2"):
        build(ROOT, worker, tmp_path / "out", cache=tmp_path / "cache")


def _dotdo(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dotdo_dev", *args], cwd=repo, capture_output=True, text=True, check=False
    )


@pytest.mark.slow
def test_the_cli_builds_and_names_unknown_workers(repo, tmp_path):
    ok = _dotdo(repo, "build", "dispatcher", "--outdir", str(tmp_path / "d"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("dispatcher: ")
    assert "MB gzipped" in ok.stdout
    assert (tmp_path / "d" / "entry.py").is_file()
    missing = _dotdo(repo, "build", "nope", "--outdir", str(tmp_path / "n"))
    assert missing.returncode == 2
    assert "no worker named 'nope'" in missing.stderr
