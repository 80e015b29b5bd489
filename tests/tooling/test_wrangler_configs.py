"""Real wrangler validates every wrangler.jsonc in the repo: no error, no warning, in every environment."""

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dotdo_dev import jsonc, wrangler
from dotdo_dev.config import ConfigError, load_worker

ROOT = Path(__file__).resolve().parents[2]
CASES = [(cfg, env) for cfg in wrangler.repo_configs(ROOT) for env in wrangler.environments(cfg)]
PLATFORM = jsonc.load(ROOT / "wrangler" / "platform.jsonc")


def _id(case):
    cfg, env = case
    return f"{cfg.parent.relative_to(ROOT)}[{env or 'top'}]"


def test_the_repo_has_configs_to_check():
    assert any(cfg.parent.name == "dispatcher" for cfg, _ in CASES)


@pytest.fixture(scope="module")
def dry_runs(request, tmp_path_factory):
    """wrangler's run on every case this session selected: one process per config and environment, as
    many at once as there are CPUs (each is a second of Node loading wrangler, 22 of them one by one)."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if "dry_runs" in getattr(item, "fixturenames", ()) and "case" in item.callspec.params
    ]
    outdirs = [tmp_path_factory.mktemp("dry-run") for _ in selected]

    def run(case, outdir):
        cfg, env = case
        return wrangler.dry_run(ROOT, cfg, outdir, environment=env)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip(selected, pool.map(run, selected, outdirs), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_wrangler_accepts_config(case, dry_runs):
    cfg, env = case
    result = dry_runs[case]
    assert (result.config, result.environment) == (cfg, env)
    assert result.returncode == 0, result.output
    assert result.errors == [], result.output
    assert result.warnings == [], result.output
    assert "--dry-run: exiting now." in result.output


@pytest.mark.slow
def test_wrangler_keeps_its_compiled_code_for_the_next_run(tmp_path, monkeypatch):
    # Node's compile cache, its work shown by NODE_DEBUG_NATIVE: the runs after the first skip compiling cli.js
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    monkeypatch.setenv("NODE_DEBUG_NATIVE", "COMPILE_CACHE")
    cache = wrangler.compile_cache(ROOT)
    assert cache == ROOT / "node_modules" / ".cache" / "node-compile-cache"
    result = wrangler.dry_run(ROOT, ROOT / "tests" / "fixtures" / "workers" / "hello" / "wrangler.jsonc", tmp_path)
    assert result.returncode == 0, result.output
    cli = [line for line in result.output.splitlines() if "[compile cache]" in line and "wrangler-dist/cli.js" in line]
    assert any(f"reading cache from {cache}/" in line for line in cli), result.output[-3000:]
    assert any("was accepted" in line or "writing cache for" in line for line in cli), result.output[-3000:]


def test_without_a_place_for_the_compile_cache_wrangler_runs_without_it(tmp_path):
    (tmp_path / "node_modules").write_text("not a folder")
    assert wrangler.compile_cache(tmp_path) is None


@pytest.mark.parametrize("cfg", wrangler.repo_configs(ROOT), ids=lambda c: str(c.parent.relative_to(ROOT)))
def test_config_follows_platform_settings(cfg):
    config = load_worker(cfg)
    assert config.compatibility_date == PLATFORM["compatibility_date"]
    assert set(PLATFORM["compatibility_flags"]) <= set(config.compatibility_flags)
    # The same leaner upload everywhere: wrangler drops these from python_modules/ (dotdo build runs wrangler).
    excluded = config.raw.get("python_modules", {}).get("exclude", [])
    assert set(PLATFORM["python_modules"]["exclude"]) <= set(excluded), f"{cfg}: python_modules.exclude"
    for consumer in config.queue_consumers:
        # Cloudflare deletes a message after its last retry unless a dead-letter queue is named.
        assert consumer.dead_letter_queue, f"{cfg}: consumer of {consumer.queue} has no dead_letter_queue"


@pytest.mark.slow
def test_wrangler_rejects_a_malformed_config(tmp_path):
    worker = tmp_path / "broken"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry.py").write_text("from workers import WorkerEntrypoint\n")
    cfg = worker / "wrangler.jsonc"
    cfg.write_text('{\n  "name": "broken",\n  "main": "src/entry.py"\n  "compatibility_date": "2026-11-01"\n}\n')
    result = wrangler.dry_run(ROOT, cfg, tmp_path / "out")
    assert not result.ok
    with pytest.raises(ConfigError) as info:
        load_worker(cfg)
    assert info.value.line == 4
    assert str(cfg) in str(info.value)


@pytest.mark.slow
def test_wrangler_warns_about_an_unknown_field(tmp_path):
    worker = tmp_path / "odd"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry.py").write_text("from workers import WorkerEntrypoint\n")
    cfg = worker / "wrangler.jsonc"
    cfg.write_text(
        '{"name": "odd", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"], "servises": []}'
    )
    result = wrangler.dry_run(ROOT, cfg, tmp_path / "out")
    assert not result.ok
    assert any("servises" in w for w in result.warnings)


def test_every_worker_has_a_manifest_beside_its_wrangler_config():
    from dotdo_dev import registry

    configs = {p.parent for p in [*(ROOT / "workers").glob("*/wrangler.jsonc"), ROOT / "dispatcher" / "wrangler.jsonc"]}
    manifests = {m.folder for m in registry.read_manifests(ROOT)}
    assert configs == manifests


@pytest.mark.slow
@pytest.mark.parametrize(
    ("simple", "accepted"),
    [({"limit": 100, "period": 60}, True), ({"limit": 5, "period": 10}, True), ({"limit": 100, "period": 30}, False)],
)
def test_ratelimits_are_validated_as_wrangler_validates_them(tmp_path, simple, accepted):
    worker = tmp_path / "limited"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry.py").write_text("from workers import WorkerEntrypoint\n")
    cfg = worker / "wrangler.jsonc"
    limiter = {"name": "FRONT_DOOR_LIMITER", "namespace_id": "1001", "simple": simple}
    cfg.write_text(
        '{"name": "limited", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"], "ratelimits": [' + json.dumps(limiter) + "]}"
    )
    result = wrangler.dry_run(ROOT, cfg, tmp_path / "out")
    assert result.ok is accepted, result.output
    if accepted:
        assert result.warnings == [], result.output
        assert load_worker(cfg).ratelimits[0].limit == simple["limit"]
    else:
        assert any("must be either 10 or 60" in e for e in result.errors), result.output
        with pytest.raises(ConfigError, match="must be either 10 or 60") as info:
            load_worker(cfg)
        assert info.value.key == "ratelimits[0].simple.period"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_only_the_dispatcher_is_public(case):
    # Services trust the gateway's principal header: on Cloudflare that holds because nothing but the
    # dispatcher has a public URL. `workers_dev`, `route` and `routes` are inherited by environments.
    cfg, env = case
    top = jsonc.load(cfg)
    block = top.get("env", {}).get(env, {}) if env else {}

    def effective(key):
        return block[key] if key in block else top.get(key)

    assert effective("workers_dev") is False, f'{cfg} [{env or "top"}]: set "workers_dev": false'
    if cfg.parent.name != "dispatcher":
        assert not effective("routes"), f"{cfg} [{env or 'top'}] has public routes"
        assert not effective("route"), f"{cfg} [{env or 'top'}] has a public route"


def test_the_service_template_has_no_public_url():
    assert '"workers_dev": false' in (ROOT / "templates" / "domain" / "wrangler.jsonc.j2").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("limiters", "key", "message"),
    [
        # wrangler 4.164's duplicate check reads `binding` fields only
        (
            [{"name": "L", "namespace_id": str(n), "simple": {"limit": 5, "period": 60}} for n in (1, 2)],
            "ratelimits[1].name",
            "more than one binding",
        ),
        # wrangler checks only that the limit is a number
        (
            [{"name": "L", "namespace_id": "1", "simple": {"limit": 0, "period": 60}}],
            "ratelimits[0].simple.limit",
            "positive integer",
        ),
    ],
)
def test_ratelimits_wrangler_accepts_but_the_loader_refuses(tmp_path, limiters, key, message):
    worker = tmp_path / "stricter"
    (worker / "src").mkdir(parents=True)
    (worker / "src" / "entry.py").write_text("from workers import WorkerEntrypoint\n")
    cfg = worker / "wrangler.jsonc"
    cfg.write_text(
        '{"name": "stricter", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"], "ratelimits": ' + json.dumps(limiters) + "}"
    )
    assert wrangler.dry_run(ROOT, cfg, tmp_path / "out").ok
    with pytest.raises(ConfigError, match=message) as info:
        load_worker(cfg)
    assert info.value.key == key
