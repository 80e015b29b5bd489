"""An uploaded bundle laid out for the local platform (dotdo_dev/deployed.py): wrangler.jsonc from the
upload's metadata, binding by binding; the upload's own packages apart from third-party ones."""

import json
import stat

import pytest

from dotdo_dev.config import load_local
from dotdo_dev.deployed import LayoutError, first_party, lay_out, wrangler_config

METADATA = {
    "main_module": "entry.py",
    "compatibility_date": "2026-11-01",
    "compatibility_flags": ["python_workers"],
    "bindings": [
        {"type": "plain_text", "name": "SERVICE_NAME", "text": "orders"},
        {"type": "json", "name": "LIMITS", "json": {"max": 3}},
        {"type": "secret_text", "name": "API_TOKEN", "text": "t0ken"},
        {"type": "service", "name": "AUTH_SERVICE", "service": "auth"},
        {"type": "service", "name": "ADMIN", "service": "auth", "entrypoint": "Admin"},
        {"type": "d1", "name": "DB", "id": "orders-db"},
        {"type": "kv_namespace", "name": "CACHE", "namespace_id": "kv1"},
        {"type": "queue", "name": "JOBS", "queue_name": "orders-jobs"},
        {"type": "durable_object_namespace", "name": "COUNTER", "class_name": "Counter"},
        {"type": "ratelimit", "name": "LIMITER", "namespace_id": "7", "simple": {"limit": 5, "period": 60}},
        {"type": "dispatch_namespace", "name": "USERS", "namespace": "dotdo-staging"},
    ],
}


def test_every_binding_goes_back_to_wranglers_shape():
    config, secrets = wrangler_config("orders", METADATA)
    assert config["name"] == "orders"
    assert config["main"] == "src/entry.py"
    assert config["workers_dev"] is False
    assert config["vars"] == {"SERVICE_NAME": "orders", "LIMITS": {"max": 3}}
    assert secrets == {"API_TOKEN": "t0ken"}
    assert config["services"] == [
        {"binding": "AUTH_SERVICE", "service": "auth"},
        {"binding": "ADMIN", "service": "auth", "entrypoint": "Admin"},
    ]
    assert config["d1_databases"] == [{"binding": "DB", "database_name": "orders-db", "database_id": "orders-db"}]
    assert config["kv_namespaces"] == [{"binding": "CACHE", "id": "kv1"}]
    assert config["queues"] == {"producers": [{"binding": "JOBS", "queue": "orders-jobs"}]}
    assert config["durable_objects"] == {"bindings": [{"name": "COUNTER", "class_name": "Counter"}]}
    assert config["ratelimits"] == [{"name": "LIMITER", "namespace_id": "7", "simple": {"limit": 5, "period": 60}}]
    assert config["dispatch_namespaces"] == [{"binding": "USERS", "namespace": "dotdo-staging"}]


@pytest.mark.parametrize("kind", ["r2_bucket", "analytics_engine", "version_metadata"])
def test_a_binding_the_local_platform_cannot_run_is_named(kind):
    metadata = dict(METADATA, bindings=[{"type": kind, "name": "X"}])
    with pytest.raises(LayoutError, match=kind):
        wrangler_config("orders", metadata)


def _bundle(tmp_path, metadata=METADATA):
    bundle = tmp_path / "bundles" / ("ab" * 32)
    modules = bundle / "modules"
    (modules / "python_modules" / "shared").mkdir(parents=True)
    (modules / "python_modules" / "shared" / "__init__.py").write_text("")
    (modules / "python_modules" / "pydantic").mkdir()
    (modules / "python_modules" / "pydantic-2.0.dist-info").mkdir()
    (modules / "python_modules" / "workers").mkdir()
    (modules / "python_modules" / "asgi.py").write_text("")
    (modules / "python_modules" / "_workers_sdk_patch_loader.pth").write_text("")
    (modules / "python_modules" / "slugify.py").write_text("")
    (modules / "entry.py").write_text(
        "from workers import Response, WorkerEntrypoint\n\nclass Default(WorkerEntrypoint):\n    pass\n"
    )
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    return bundle


def test_first_party_packages_are_the_uploads_own_not_the_sdk_nor_installed_third_party_ones(tmp_path):
    bundle = _bundle(tmp_path)
    third_party = frozenset({"pydantic"})
    assert first_party(bundle / "modules" / "python_modules", third_party) == ["shared", "slugify.py"]
    assert first_party(tmp_path / "absent", third_party) == []


def test_a_laid_out_upload_loads_as_a_worker_config_and_is_made_once(tmp_path):
    bundle = _bundle(tmp_path)
    metadata = dict(METADATA, bindings=[b for b in METADATA["bindings"] if b["type"] != "durable_object_namespace"])
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    folder = lay_out(bundle, name="orders", into=tmp_path / "run")
    assert folder.name == "orders-" + "ab" * 8
    config = load_local(folder / "wrangler.jsonc")
    assert config.name == "orders"
    assert config.main_path == (bundle / "modules" / "entry.py").resolve()  # src/ is the upload, as sent
    assert (folder / "src").resolve() == (bundle / "modules").resolve()
    # pydantic: the venv's CPython build runs; slugify is installed nowhere here, so the upload's own runs
    assert sorted(p.name for p in (folder / "lib").iterdir()) == ["shared", "slugify.py"]
    dev_vars = folder / ".dev.vars"
    assert dev_vars.read_text() == 'API_TOKEN="t0ken"\n'
    assert stat.S_IMODE(dev_vars.stat().st_mode) == 0o600
    stamp = (folder / "wrangler.jsonc").stat().st_mtime_ns
    assert lay_out(bundle, name="orders", into=tmp_path / "run") == folder
    assert (folder / "wrangler.jsonc").stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "run").iterdir()] == [folder.name]  # no staging folder left


def test_a_secret_spanning_lines_is_refused(tmp_path):
    metadata = dict(METADATA, bindings=[{"type": "secret_text", "name": "KEY", "text": "a\nb"}])
    bundle = _bundle(tmp_path, metadata)
    with pytest.raises(LayoutError, match="spans lines"):
        lay_out(bundle, name="orders", into=tmp_path / "run")


def test_an_upload_built_for_development_binds_the_local_workers_of_its_environment(tmp_path):
    metadata = dict(
        METADATA,
        bindings=[
            {"type": "plain_text", "name": "SERVICE_NAME", "text": "orders"},
            {"type": "service", "name": "AUTH_SERVICE", "service": "auth-development"},
            {"type": "d1", "name": "DB", "id": "local-orders"},
        ],
    )
    bundle = _bundle(tmp_path, metadata)
    folder = lay_out(bundle, name="orders", into=tmp_path / "run", environment="development")
    config = load_local(folder / "wrangler.jsonc")
    assert config.name == "orders"
    assert [(s.binding, s.service) for s in config.services] == [("AUTH_SERVICE", "auth")]  # as make dev runs it
    assert config.vars == {"SERVICE_NAME": "orders"}
    assert [d.database_id for d in config.d1_databases] == ["local-orders"]
    raw = json.loads((folder / "wrangler.jsonc").read_text())
    assert raw["services"] == [{"binding": "AUTH_SERVICE", "service": "auth-development"}]  # as uploaded
