"""wrangler.jsonc is read as wrangler reads it: JSONC syntax, bindings, env blocks, secrets."""

import datetime
from pathlib import Path

import pytest

from dotdo_dev import jsonc
from dotdo_dev.config import ConfigError, load_local, load_worker, local_name, read_dev_vars, secrets_for

REPO = Path(__file__).resolve().parents[2]

BASE = (
    '"name": "svc", "main": "src/entry.py", "compatibility_date": "2026-11-01", '
    '"compatibility_flags": ["python_workers"]'
)


def write(tmp_path, body, name="wrangler.jsonc"):
    path = tmp_path / name
    path.write_text(body)
    return path


def test_comments_and_trailing_commas(tmp_path):
    path = write(
        tmp_path,
        """{
  // line comment
  "name": "svc", /* block
  comment */ "main": "src/entry.py",
  "compatibility_date": "2026-11-01",
  "compatibility_flags": ["python_workers",],
  "vars": {"URL": "http://x.do/a//b", "STAR": "/* not a comment */",},
}""",
    )
    cfg = load_worker(path)
    assert cfg.name == "svc"
    assert cfg.vars == {"URL": "http://x.do/a//b", "STAR": "/* not a comment */"}


def test_malformed_json_names_file_and_line(tmp_path):
    path = write(tmp_path, '{\n  "name": "svc",\n  "main": "src/entry.py"\n  "compatibility_date": "x"\n}')
    with pytest.raises(ConfigError) as info:
        load_worker(path)
    assert info.value.line == 4
    assert str(info.value).startswith(f"{path}:4: ")


def test_unterminated_comment_names_its_line(tmp_path):
    with pytest.raises(jsonc.JSONCError) as info:
        jsonc.loads('{\n"a": 1\n/* open', path="x.jsonc")
    assert (info.value.line, info.value.column) == (3, 1)


def test_all_bindings_are_read(tmp_path):
    path = write(
        tmp_path,
        "{"
        + BASE
        + """,
  "services": [{"binding": "DB_SERVICE", "service": "db", "entrypoint": "Admin"}],
  "d1_databases": [{"binding": "DB", "database_name": "main", "database_id": "abc"}],
  "kv_namespaces": [{"binding": "KV", "id": "k1"}],
  "queues": {"producers": [{"binding": "Q", "queue": "jobs", "delivery_delay": 5}],
             "consumers": [{"queue": "jobs", "max_batch_size": 50, "max_batch_timeout": 2,
                            "max_retries": 7, "retry_delay": 30, "dead_letter_queue": "jobs-dlq"}]},
  "triggers": {"crons": ["*/5 * * * *", "0 0 * * MON"]},
  "dispatch_namespaces": [{"binding": "DISPATCHER", "namespace": "dotdo-production"}],
  "durable_objects": {"bindings": [{"name": "LIMITER", "class_name": "RateLimiter"}]},
  "migrations": [{"tag": "v1", "new_sqlite_classes": ["RateLimiter"]}],
  "ratelimits": [{"name": "FRONT", "namespace_id": "1001", "simple": {"limit": 100, "period": 10}}],
  "secrets": {"required": ["API_KEY"]}
}""",
    )
    cfg = load_worker(path)
    assert (cfg.services[0].service, cfg.services[0].entrypoint) == ("db", "Admin")
    assert (cfg.d1_databases[0].binding, cfg.d1_databases[0].database_id) == ("DB", "abc")
    assert cfg.kv_namespaces[0].id == "k1"
    assert cfg.queue_producers[0].delivery_delay == 5
    consumer = cfg.queue_consumers[0]
    assert (consumer.max_batch_size, consumer.max_batch_timeout, consumer.max_retries) == (50, 2.0, 7)
    assert (consumer.retry_delay, consumer.dead_letter_queue) == (30, "jobs-dlq")
    assert cfg.crons == ["*/5 * * * *", "0 0 * * MON"]
    assert cfg.dispatch_namespaces[0].namespace == "dotdo-production"
    assert cfg.durable_objects[0].class_name == "RateLimiter"
    assert cfg.durable_object_classes == ["RateLimiter"]
    assert cfg.secrets_required == ["API_KEY"]
    assert [(r.name, r.namespace_id, r.limit, r.period) for r in cfg.ratelimits] == [("FRONT", "1001", 100, 10)]
    assert cfg.main_module == "entry"
    assert cfg.module_root == (tmp_path / "src").resolve()


def test_queue_consumer_defaults_are_cloudflares(tmp_path):
    cfg = load_worker(write(tmp_path, "{" + BASE + ', "queues": {"consumers": [{"queue": "q"}]}}'))
    c = cfg.queue_consumers[0]
    assert (c.max_batch_size, c.max_batch_timeout, c.max_retries, c.retry_delay, c.dead_letter_queue) == (
        10,
        5.0,
        3,
        0,
        None,
    )


@pytest.mark.parametrize(
    ("fragment", "key"),
    [
        ('"queues": {"consumers": [{"queue": "q", "max_batch_size": 101}]}', "queues.consumers[0].max_batch_size"),
        ('"queues": {"consumers": [{"queue": "q", "max_retries": "3"}]}', "queues.consumers[0].max_retries"),
        ('"services": [{"binding": "X"}]', "services[0].service"),
        ('"services": {"binding": "X"}', "services"),
        ('"triggers": {"crons": "* * * * *"}', "triggers.crons"),
        ('"vars": []', "vars"),
        (
            '"ratelimits": [{"name": "L", "namespace_id": "1001", "simple": {"limit": 5, "period": 30}}]',
            "ratelimits[0].simple.period",
        ),
        (
            '"ratelimits": [{"name": "L", "namespace_id": "1001", "simple": {"limit": 0, "period": 60}}]',
            "ratelimits[0].simple.limit",
        ),
        (
            '"ratelimits": [{"name": "L", "namespace_id": "1001", "simple": {"limit": 2.5, "period": 60}}]',
            "ratelimits[0].simple.limit",
        ),
        (
            '"ratelimits": [{"name": "L", "namespace_id": 1001, "simple": {"limit": 5, "period": 60}}]',
            "ratelimits[0].namespace_id",
        ),
        (
            '"ratelimits": [{"name": "L", "namespace_id": "abc", "simple": {"limit": 5, "period": 60}}]',
            "ratelimits[0].namespace_id",
        ),
        ('"ratelimits": [{"name": "L", "namespace_id": "1001"}]', "ratelimits[0].simple"),
        ('"ratelimits": [{"namespace_id": "1001", "simple": {"limit": 5, "period": 60}}]', "ratelimits[0].name"),
        (
            '"ratelimits": [{"name": "L", "namespace_id": "1", "simple": {"limit": 5, "period": 60}},'
            ' {"name": "L", "namespace_id": "2", "simple": {"limit": 5, "period": 60}}]',
            "ratelimits[1].name",
        ),
        (
            '"vars": {"L": "x"}, '
            '"ratelimits": [{"name": "L", "namespace_id": "1", "simple": {"limit": 5, "period": 60}}]',
            "ratelimits[0].name",
        ),
        (
            '"secrets": {"required": ["L"]}, '
            '"ratelimits": [{"name": "L", "namespace_id": "1", "simple": {"limit": 5, "period": 60}}]',
            "ratelimits[0].name",
        ),
    ],
)
def test_wrong_types_name_the_key(tmp_path, fragment, key):
    path = write(tmp_path, "{" + BASE + ", " + fragment + "}")
    with pytest.raises(ConfigError) as info:
        load_worker(path)
    assert info.value.key == key
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_python_workers_flag_and_py_main_are_required(tmp_path):
    with pytest.raises(ConfigError, match="python_workers"):
        load_worker(write(tmp_path, '{"name": "s", "main": "src/entry.py", "compatibility_date": "2026-11-01"}'))
    with pytest.raises(ConfigError, match=r"\.py"):
        load_worker(write(tmp_path, "{" + BASE.replace("src/entry.py", "src/index.ts") + "}"))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_worker(tmp_path / "nope")


def test_env_block_overrides_and_bindings_are_not_inherited(tmp_path):
    path = write(
        tmp_path,
        "{"
        + BASE
        + """, "vars": {"ENVIRONMENT": "production", "ONLY_TOP": "1"},
  "kv_namespaces": [{"binding": "KV", "id": "top"}], "secrets": {"required": ["TOP_SECRET"]},
  "env": {"staging": {"vars": {"ENVIRONMENT": "staging"}}}}""",
    )
    staging = load_worker(path, environment="staging")
    assert staging.name == "svc-staging"
    assert staging.vars == {"ENVIRONMENT": "staging"}
    assert staging.kv_namespaces == []
    assert staging.secrets_required == []  # wrangler does not inherit `secrets` either
    assert load_worker(path).secrets_required == ["TOP_SECRET"]
    assert staging.compatibility_date == "2026-11-01"
    assert load_worker(path).vars["ENVIRONMENT"] == "production"


def test_locally_a_development_binding_to_name_development_reaches_the_worker_name(tmp_path):
    # On Cloudflare env.development binds the Worker of that environment (`auth-development`); the local
    # platform runs every worker under its own name, so load_local, and nothing else, translates.
    path = write(
        tmp_path,
        "{"
        + BASE
        + """, "services": [{"binding": "AUTH_SERVICE", "service": "auth"}],
  "env": {
    "staging": {"services": [{"binding": "AUTH_SERVICE", "service": "auth-staging"}]},
    "development": {"services": [
      {"binding": "AUTH_SERVICE", "service": "auth-development", "entrypoint": "Rpc"},
      {"binding": "ELSEWHERE", "service": "billing"}
    ]}}}""",
    )
    local = load_local(path)
    assert (local.name, local.environment) == ("svc", "development")
    assert [(s.binding, s.service, s.entrypoint) for s in local.services] == [
        ("AUTH_SERVICE", "auth", "Rpc"),
        ("ELSEWHERE", "billing", None),
    ]
    assert local_name("auth-development") == "auth"
    assert local_name("auth-staging") == "auth-staging"
    # wrangler's own reading keeps the names it deploys with
    development = load_worker(path, environment="development")
    assert (development.name, development.services[0].service) == ("svc-development", "auth-development")
    assert load_worker(path, environment="staging").services[0].service == "auth-staging"
    assert load_worker(path).services[0].service == "auth"


def test_a_config_without_a_development_block_is_run_as_written(tmp_path):
    path = write(tmp_path, "{" + BASE + ', "services": [{"binding": "X", "service": "x-development"}]}')
    local = load_local(path)
    assert (local.environment, local.services[0].service) == (None, "x-development")


def test_dev_vars_example_declares_names_and_make_dev_fills_it(tmp_path):
    from dotdo_dev.dev_vars import ensure_dev_vars

    write(tmp_path, "{" + BASE + "}")
    example = "# doc\nJWT_SECRET=<generate>\nADMIN_KEY=<generate:sk_test_>\nOPTIONAL=\n"
    (tmp_path / ".dev.vars.example").write_text(example)
    cfg = load_worker(tmp_path)
    assert secrets_for(cfg, {"OPTIONAL": "from-env", "UNRELATED": "no"}) == {"OPTIONAL": "from-env"}
    created = ensure_dev_vars(tmp_path)
    assert created == tmp_path / ".dev.vars"
    assert created.stat().st_mode & 0o777 == 0o600
    first = read_dev_vars(created)
    assert len(first["JWT_SECRET"]) >= 32
    assert first["ADMIN_KEY"].startswith("sk_test_")
    assert len(first["ADMIN_KEY"]) >= 40
    assert first["OPTIONAL"] == ""
    assert ensure_dev_vars(tmp_path) is None  # never overwritten
    assert read_dev_vars(created) == first
    other = tmp_path / "other"
    other.mkdir()
    write(other, "{" + BASE + "}")
    (other / ".dev.vars.example").write_text(example)
    assert read_dev_vars(ensure_dev_vars(other))["JWT_SECRET"] != first["JWT_SECRET"]


def test_a_base64_placeholder_makes_a_valid_svix_secret(tmp_path):
    """`<generate-base64:whsec_>` (workers/webhooks/.dev.vars.example): whsec_ + the base64 of 32 random bytes,
    which the official svix library takes as a signing secret (it base64-decodes what follows whsec_)."""
    import base64

    from svix.webhooks import Webhook

    from dotdo_dev.dev_vars import ensure_dev_vars

    write(tmp_path, "{" + BASE + "}")
    (tmp_path / ".dev.vars.example").write_text("RESEND_WEBHOOK_SECRET=<generate-base64:whsec_>\nPLAIN=<generate>\n")
    values = read_dev_vars(ensure_dev_vars(tmp_path))
    secret = values["RESEND_WEBHOOK_SECRET"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    signature = Webhook(secret).sign("msg_1", datetime.datetime.now(datetime.UTC), "{}")
    assert signature.startswith("v1,")
    assert not values["PLAIN"].startswith("whsec_")


def test_the_webhooks_example_makes_usable_secrets(tmp_path):
    import shutil

    from dotdo_dev.dev_vars import ensure_dev_vars

    shutil.copy(REPO / "workers" / "webhooks" / ".dev.vars.example", tmp_path / ".dev.vars.example")
    values = read_dev_vars(ensure_dev_vars(tmp_path))
    assert set(values) == {
        "STRIPE_WEBHOOK_SECRET",
        "WORKOS_WEBHOOK_SECRET",
        "GITHUB_WEBHOOK_SECRET",
        "RESEND_WEBHOOK_SECRET",
    }
    assert all(len(v) >= 32 for v in values.values())
    assert values["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    import base64

    base64.b64decode(values["RESEND_WEBHOOK_SECRET"].removeprefix("whsec_"), validate=True)


def test_dev_vars_and_environment(tmp_path):
    write(tmp_path, "{" + BASE + ', "secrets": {"required": ["FROM_ENV"]}, "vars": {"PLAIN": "cfg"}}')
    (tmp_path / ".dev.vars").write_text("# comment\nexport API_KEY=\"s3cret\"\nOTHER='x y'\n\nEMPTY=\n")
    cfg = load_worker(tmp_path)
    values = secrets_for(cfg, {"FROM_ENV": "e", "OTHER": "override", "PLAIN": "ignored", "UNRELATED": "no"})
    assert values == {"API_KEY": "s3cret", "OTHER": "override", "EMPTY": "", "FROM_ENV": "e"}


def test_bad_dev_vars_line_names_the_line_not_the_value(tmp_path):
    path = tmp_path / ".dev.vars"
    path.write_text("GOOD=1\nthis is not an assignment sk_live_secret\n")
    with pytest.raises(ConfigError) as info:
        read_dev_vars(path)
    assert info.value.line == 2
    assert "sk_live_secret" not in str(info.value)


def test_state_folder_defaults_to_dot_state_and_follows_the_environment(tmp_path, monkeypatch):
    from pathlib import Path

    from dotdo_dev.platform import LocalPlatform

    root = Path(__file__).resolve().parents[2]
    monkeypatch.delenv("DOTDO_STATE_DIR", raising=False)
    assert LocalPlatform(root).state.root == root / ".state"
    monkeypatch.setenv("DOTDO_STATE_DIR", str(tmp_path))
    assert LocalPlatform(root).state.root == tmp_path
