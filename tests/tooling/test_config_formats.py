"""A worker's config in any of wrangler's formats (dotdo_dev.config): wrangler.json, wrangler.jsonc and
wrangler.toml read alike, picked in wrangler's order, errors with the line; `make dev` finds each."""

import logging

import httpx
import pytest

from dotdo_dev.config import ConfigError, find_config, load_worker
from dotdo_dev.platform import LocalPlatform, discover_workers

JSONC = """// notes
{
  "name": "notes",
  "main": "src/entry.py",
  "compatibility_date": "2026-11-01",
  "compatibility_flags": ["python_workers"],
  "vars": {"GREETING": "hi"},
  "d1_databases": [{"binding": "DB", "database_name": "notes-db", "database_id": "n1"}],
  "env": {"staging": {"vars": {"GREETING": "staging"}}},
}
"""

TOML = """# notes
name = "notes"
main = "src/entry.py"
compatibility_date = "2026-11-01"
compatibility_flags = ["python_workers"]

[vars]
GREETING = "hi"

[[d1_databases]]
binding = "DB"
database_name = "notes-db"
database_id = "n1"

[env.staging.vars]
GREETING = "staging"
"""

ENTRY = """from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(f"{self.env.GREETING} from toml")
"""


def worker(folder, **files):
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "entry.py").write_text(ENTRY)
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def summary(config):
    return (
        config.name,
        config.main,
        config.compatibility_date,
        config.vars,
        [(d.binding, d.database_name, d.database_id) for d in config.d1_databases],
    )


def test_toml_json_and_jsonc_read_alike_in_every_environment(tmp_path):
    jsonc = worker(tmp_path / "a", wrangler_jsonc=JSONC)
    toml = worker(tmp_path / "b", wrangler_toml=TOML)
    plain_json = worker(tmp_path / "c", wrangler_json=JSONC.replace("// notes\n", ""))
    for environment in (None, "staging"):
        expected = summary(load_worker(jsonc, environment=environment))
        assert summary(load_worker(toml, environment=environment)) == expected
        assert summary(load_worker(plain_json, environment=environment)) == expected
    assert load_worker(toml, environment="staging").vars == {"GREETING": "staging"}
    assert load_worker(toml).path == toml / "wrangler.toml"


def test_the_first_in_wranglers_order_is_the_config(tmp_path):
    folder = worker(tmp_path / "w", wrangler_toml=TOML)
    assert find_config(folder) == folder / "wrangler.toml"
    (folder / "wrangler.jsonc").write_text(JSONC)
    assert find_config(folder) == folder / "wrangler.jsonc"
    (folder / "wrangler.json").write_text(JSONC)
    assert find_config(folder) == folder / "wrangler.json"
    assert find_config(tmp_path / "nothing") is None


def test_a_folder_without_a_config_and_a_broken_toml_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"looked for wrangler\.json, wrangler\.jsonc, wrangler\.toml"):
        load_worker(tmp_path / "empty")
    broken = worker(tmp_path / "broken", wrangler_toml='name = "notes"\nmain = \n')
    with pytest.raises(ConfigError) as caught:
        load_worker(broken)
    assert caught.value.line == 2
    assert "invalid TOML" in str(caught.value)
    wrong = worker(tmp_path / "wrong", wrangler_toml=TOML.replace('[vars]\nGREETING = "hi"', "vars = 3"))
    with pytest.raises(ConfigError, match="vars"):
        load_worker(wrong)


def test_make_dev_finds_every_format_and_names_the_file_it_did_not_read(tmp_path, caplog):
    root = tmp_path / "repo"
    worker(root / "workers" / "a", wrangler_toml=TOML.replace('"notes"', '"a"', 1))
    worker(root / "workers" / "b", wrangler_json=JSONC.replace("// notes\n", "").replace('"notes"', '"b"', 1))
    worker(root / "workers" / "c", wrangler_jsonc=JSONC.replace('"notes"', '"c"', 1), wrangler_toml=TOML)
    (root / "workers" / "not-a-worker").mkdir()
    with caplog.at_level(logging.WARNING, logger="dotdo.platform"):
        found = discover_workers(root)
    assert [p.relative_to(root).as_posix() for p in found] == [
        "workers/a/wrangler.toml",
        "workers/b/wrangler.json",
        "workers/c/wrangler.jsonc",
    ]
    assert "c: using wrangler.jsonc (wrangler's order); wrangler.toml beside it is not read" in caplog.text


async def test_a_worker_configured_in_toml_is_served(tmp_path):
    folder = worker(tmp_path / "notes", wrangler_toml=TOML)
    from dotdo_dev.platform import find_repo_root

    root = find_repo_root()
    configs = [root / "dispatcher" / "wrangler.jsonc", folder / "wrangler.toml"]
    platform = LocalPlatform(root, configs=configs, state_dir=tmp_path / "state", port=0)
    async with platform as running, httpx.AsyncClient(base_url=running.url, timeout=10) as client:
        response = await client.get("/", headers={"host": "notes.localhost"})
    assert response.status_code == 200, response.text
    assert response.text == "hi from toml"


async def test_one_workers_failure_leaves_the_others_running_and_missing_bindings_fail_when_used(tmp_path, caplog):
    # One worker fails at import, one declares Vectorize (not provided locally) and one has a broken config:
    # none takes the platform down. The Vectorize worker runs (Cloudflare's 04-query-d1 declares `ai` it never uses)
    # and its env.FILES refuses, naming the binding, when touched; the broken one is reported.
    from dotdo_dev.platform import find_repo_root

    root = find_repo_root()
    good = worker(tmp_path / "good", wrangler_toml=TOML.replace('"notes"', '"good"', 1))
    crashing = worker(tmp_path / "crashing", wrangler_toml=TOML.replace('"notes"', '"crashing"', 1))
    (crashing / "src" / "entry.py").write_text("import not_a_module_anywhere\n")
    vectorize = TOML.replace('"notes"', '"files"', 1) + '\n[[vectorize]]\nbinding = "FILES"\nindex_name = "files"\n'
    files = worker(tmp_path / "files", wrangler_toml=vectorize)
    (files / "src" / "entry.py").write_text(USES_R2)
    broken = worker(tmp_path / "broken", wrangler_toml="name = \n")
    configs = [root / "dispatcher" / "wrangler.jsonc", *(f / "wrangler.toml" for f in (good, crashing, files, broken))]
    platform = LocalPlatform(root, configs=configs, state_dir=tmp_path / "state", port=0)
    with caplog.at_level(logging.WARNING, logger="dotdo.platform"):
        async with platform as running, httpx.AsyncClient(base_url=running.url, timeout=10) as client:
            assert (await client.get("/", headers={"host": "good.localhost"})).text == "hi from toml"
            assert (await client.get("/", headers={"host": "files.localhost"})).text == "no R2 needed here"
            touched = await client.get("/r2", headers={"host": "files.localhost"})
            workers = (await client.get("/__platform")).json()["data"]["workers"]
            output = "\n".join(running.processes["files"].output)
    assert "files: the local runtime does not provide FILES (Vectorize)" in caplog.text
    assert touched.status_code >= 500
    assert "env.FILES.get: Vectorize bindings (`vectorize` in the worker's config) are not provided" in output
    assert workers["good"]["status"] == workers["files"]["status"] == "running"
    assert workers["crashing"]["status"] != "running"
    assert workers["broken"]["status"] == "not-started"
    assert "invalid TOML" in workers["broken"]["reason"]


USES_R2 = """from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/r2"):
            return Response(await self.env.FILES.get("x"))
        return Response("no R2 needed here")
"""


def test_every_form_of_a_not_provided_section_names_its_bindings():
    import copy

    from dotdo_dev.runtime.bindings.not_provided import NotProvided, binding_names

    assert binding_names("ai", {"binding": "AI"}) == ["AI"]
    assert binding_names("r2_buckets", [{"binding": "A", "bucket_name": "a"}, {"binding": "B"}]) == ["A", "B"]
    assert binding_names("send_email", [{"name": "MAIL"}]) == ["MAIL"]
    assert binding_names("unsafe", {"bindings": [{"name": "X", "type": "y"}]}) == ["X"]
    assert binding_names("assets", {"directory": "./public"}) == []  # no binding: nothing in env
    ai = NotProvided("AI", "ai", "Workers AI")
    with pytest.raises(NotImplementedError, match=r"env\.AI\.run: Workers AI bindings \(`ai`"):
        ai.run("@cf/meta/llama", {})
    with pytest.raises(NotImplementedError, match=r"env\.AI\(\.\.\.\)"):
        ai()
    assert copy.copy(ai) is not None  # libraries probing dunders get AttributeError, not a refusal
    assert "not provided locally" in repr(ai)


async def test_a_second_worker_with_a_taken_name_is_left_out_and_the_platform_runs(tmp_path, caplog):
    # Cloudflare's examples 08-cron and 10-workflows are both named python-cron: side by side under make dev,
    # the first (in folder order) runs, the second is reported, and nothing else is held up.
    from dotdo_dev.platform import find_repo_root

    root = find_repo_root()
    first = worker(tmp_path / "a-first", wrangler_toml=TOML)
    second = worker(tmp_path / "b-second", wrangler_toml=TOML)
    (second / "src" / "entry.py").write_text((second / "src" / "entry.py").read_text().replace("hi from", "bye from"))
    configs = [root / "dispatcher" / "wrangler.jsonc", first / "wrangler.toml", second / "wrangler.toml"]
    platform = LocalPlatform(root, configs=configs, state_dir=tmp_path / "state", port=0)
    with caplog.at_level(logging.ERROR, logger="dotdo.platform"):
        async with platform as running, httpx.AsyncClient(base_url=running.url, timeout=10) as client:
            answer = await client.get("/", headers={"host": "notes.localhost"})
            workers = (await client.get("/__platform")).json()["data"]["workers"]
    assert answer.text == "hi from toml"
    assert workers["notes"]["status"] == "running"
    [(where, left_out)] = [(k, v) for k, v in workers.items() if v["status"] == "not-started"]
    assert where.endswith("b-second")
    assert "a worker named 'notes' already runs from" in left_out["reason"]
    assert "a-first" in left_out["reason"]
    assert "give it another name" in caplog.text
