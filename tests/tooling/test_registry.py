"""Service manifests and the registries generated from them (dotdo_dev.registry)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from dotdo_dev import jsonc, registry
from dotdo_dev.config import load_worker

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_files_agree_with_the_manifests():
    # after editing a service.toml: `make registry`
    assert registry.sync(ROOT, check=True) == []


def test_the_check_command_fails_and_names_the_stale_file(tmp_path):
    repo = _mini_repo(tmp_path)
    registry.sync(repo)
    (repo / "workers" / "orders" / "service.toml").write_text(
        (repo / "workers" / "orders" / "service.toml").read_text().replace('viewer = ["orders:read"]', "")
    )
    result = subprocess.run(
        [sys.executable, "-m", "dotdo_dev.registry", "--check", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "shared/registry.py is out of date" in result.stdout
    assert "make registry" in result.stdout


def test_the_registry_is_the_manifests_as_data():
    from shared.registry import SERVICES

    assert set(SERVICES) == {m.name for m in registry.read_manifests(ROOT)}
    assert SERVICES["db"]["binding"] == "DB_SERVICE"
    assert "binding" not in SERVICES["db"]["gateway"]
    assert "database.do" in SERVICES["db"]["aliases"]
    assert "gateway" not in SERVICES["gateway"]  # the gateway is not behind itself


def test_roles_and_routes_and_aliases_come_from_the_manifests():
    from shared.permissions import ROLES

    assert ROLES["admin"] == ("*",)
    for manifest in registry.read_manifests(ROOT):
        for role, grants in manifest.roles.items():
            assert set(grants) <= set(ROLES[role]), (manifest.name, role)
    granted = {p for role in ("user", "viewer") for p in ROLES[role]}
    defined = {p for m in registry.read_manifests(ROOT) for p in m.permissions}
    assert granted <= defined  # nothing is granted that no service defines


def test_the_gateway_is_bound_to_every_account_level_service_with_a_gateway_table_in_every_environment():
    manifests = registry.read_manifests(ROOT)
    expected = {m.binding: m.name for m in manifests if m.gateway is not None and m.account_level}
    assert expected == {
        "AUTH_SERVICE": "auth",
        "DB_SERVICE": "db",
        "DEPLOY_SERVICE": "deploy",
        "EMAIL_SERVICE": "email",
        "QUEUE_SERVICE": "queue",
        "SCHEDULE_SERVICE": "schedule",
        "WEBHOOKS_SERVICE": "webhooks",
    }
    gateway = ROOT / "workers" / "gateway"
    for environment in (None, "staging", "development"):
        bound = {s.binding: s.service for s in load_worker(gateway, environment=environment).services}
        # each environment binds the Workers of that environment: wrangler deploys them as <name>-<env>
        assert bound == {b: registry.environment_name(name, environment) for b, name in expected.items()}, environment


def test_the_dispatcher_is_bound_to_every_account_level_service_but_itself_in_every_environment():
    expected = {
        "AUTH_SERVICE": "auth",
        "DB_SERVICE": "db",
        "DEPLOY_SERVICE": "deploy",
        "EMAIL_SERVICE": "email",
        "GATEWAY_SERVICE": "gateway",
        "MCP_SERVICE": "mcp",
        "QUEUE_SERVICE": "queue",
        "SCHEDULE_SERVICE": "schedule",
        "WEBHOOKS_SERVICE": "webhooks",
    }
    for environment in (None, "staging", "development"):
        config = load_worker(ROOT / "dispatcher", environment=environment)
        named = {b: registry.environment_name(name, environment) for b, name in expected.items()}
        assert {s.binding: s.service for s in config.services} == named, environment
    staging = load_worker(ROOT / "dispatcher", environment="staging")
    assert {s.service for s in staging.services} == {f"{name}-staging" for name in expected.values()}


def test_the_generated_bindings_name_the_worker_of_the_markers_environment():
    text = (
        '{\n  "services": [\n    ' + registry.BINDINGS_BEGIN + "\n    " + registry.BINDINGS_END + "\n  ],\n"
        '  "env": {\n    "qa": {\n      "services": [\n        ' + registry.BINDINGS_BEGIN + "\n"
        '        { "binding": "STALE", "service": "orders" },\n        ' + registry.BINDINGS_END + "\n"
        '        { "binding": "MINE", "service": "kept-qa" },\n      ],\n    },\n  },\n}\n'
    )
    manifest = registry.Manifest(name="orders", folder=Path("workers/orders"), placement="account", gateway={})
    assert registry.marker_environments(text, "x") == [None, "qa"]
    out = jsonc.loads(registry.render_gateway_bindings(text, [manifest]))
    assert out["services"] == [{"binding": "ORDERS_SERVICE", "service": "orders"}]
    assert out["env"]["qa"]["services"] == [
        {"binding": "ORDERS_SERVICE", "service": "orders-qa"},  # the suffix is the block's name, any name
        {"binding": "MINE", "service": "kept-qa"},
    ]
    astray = '{"routes": [\n' + registry.BINDINGS_BEGIN + "\n" + registry.BINDINGS_END + "\n]}"
    with pytest.raises(registry.ManifestError, match="belong in the `services`"):
        registry.render_gateway_bindings(astray, [manifest])


def test_every_service_binding_names_the_worker_of_its_environment():
    # the repository's configs: wrangler deploy --env <e> uploads every Worker as <name>-<e>
    for path in registry.worker_configs(ROOT):
        raw = jsonc.load(path)
        for env, block in registry.config_blocks(raw):
            for binding in block.get("services") or []:
                base = binding["service"].removesuffix(f"-{env}") if env else binding["service"]
                assert binding["service"] == registry.environment_name(base, env), (path, env, binding)
                assert not base.endswith(("-staging", "-development")), (path, env, binding)


def test_a_binding_to_another_environments_worker_or_a_missing_env_block_is_a_problem(tmp_path):
    repo = _mini_repo(tmp_path)
    for name in ("auth", "billing", "ledger"):
        (repo / "workers" / name).mkdir()
        (repo / "workers" / name / "service.toml").write_text(f'name = "{name}"\nplacement = "account"\n')
    (repo / "workers" / "auth" / "wrangler.jsonc").write_text('{"name": "auth", "env": {"staging": {}, "dev": {}}}')
    (repo / "workers" / "billing" / "wrangler.jsonc").write_text(
        '{"name": "billing", "services": [{"binding": "A", "service": "auth"},'
        ' {"binding": "B", "service": "auth-dev"}],'
        ' "env": {"staging": {"services": [{"binding": "A", "service": "auth"},'
        ' {"binding": "C", "service": "auth-dev"}, {"binding": "D", "service": "auth-staging"}]},'
        ' "dev": {"services": [{"binding": "A", "service": "auth-dev"}]}}}'
    )
    (repo / "workers" / "ledger" / "wrangler.jsonc").write_text(
        '{"name": "ledger", "services": [{"binding": "A", "service": "auth"}], "env": {"dev": {}}}'
    )
    problems = registry.binding_problems(repo)
    assert problems == [
        "workers/billing/wrangler.jsonc [top]: service binding 'B' names 'auth-dev', the Worker of the dev "
        "environment; the top level is production and names 'auth'",
        "workers/billing/wrangler.jsonc [staging]: service binding 'A' names 'auth', production's Worker; in "
        "env.staging a binding names the Worker of that environment, 'auth-staging' (wrangler deploy --env "
        "staging names every Worker <name>-staging)",
        "workers/billing/wrangler.jsonc [staging]: service binding 'C' names 'auth-dev', the Worker of the dev "
        "environment; in env.staging a binding names the Worker of that environment, 'auth-staging' (wrangler "
        "deploy --env staging names every Worker <name>-staging)",
        "workers/ledger/wrangler.jsonc: no env.staging block; built with --env staging, wrangler would deploy the "
        "top level's service bindings, which name production's Workers (add env.staging with its own bindings, "
        "each naming <target>-staging)",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "dotdo_dev.registry", "--check", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "service binding 'C' names 'auth-dev'" in result.stdout


def test_placement_says_where_each_service_lives():
    from shared.registry import SERVICES

    placements = {m.name: m.placement for m in registry.read_manifests(ROOT)}
    for name in ("dispatcher", "gateway", "auth", "db", "deploy"):
        assert placements[name] == "account", name
    assert {name for name, p in placements.items() if p == "account"} == set(registry.account_level(ROOT))
    for name, service in SERVICES.items():
        assert service["placement"] == placements[name]
        # a binding reaches the account-level ones only, and no one binds the dispatcher
        assert ("binding" in service) is (placements[name] == "account" and name != "dispatcher"), name


def test_a_manifest_without_placement_is_a_namespace_service(tmp_path):
    path = tmp_path / "orders" / "service.toml"
    path.parent.mkdir()
    path.write_text('name = "orders"\n[gateway]\n')
    manifest = registry.read_manifest(path)
    assert (manifest.placement, manifest.account_level) == ("namespace", False)
    assert "binding" not in manifest.as_data()
    path.write_text('name = "orders"\nplacement = "account"\n[gateway]\n')
    assert registry.read_manifest(path).as_data()["binding"] == "ORDERS_SERVICE"


def test_namespace_services_get_no_generated_binding(tmp_path):
    repo = _mini_repo(tmp_path)
    (repo / "workers" / "billing").mkdir()
    (repo / "workers" / "billing" / "service.toml").write_text('name = "billing"\nplacement = "account"\n[gateway]\n')
    registry.sync(repo)
    bound = jsonc.load(repo / "workers" / "gateway" / "wrangler.jsonc")["services"]
    assert bound == [{"binding": "BILLING_SERVICE", "service": "billing"}]  # orders: in the namespace
    services = ast.literal_eval(
        (repo / "shared" / "registry.py").read_text().split("SERVICES: dict[str, dict[str, Any]] = ", 1)[1]
    )
    assert services["orders"]["placement"] == "namespace"
    assert "binding" not in services["orders"]


def test_the_declared_placement_is_read_leniently_beside_a_config(tmp_path):
    assert registry.declared_placement(ROOT / "workers" / "db" / "wrangler.jsonc") == "account"
    assert registry.declared_placement(ROOT / "dispatcher") == "account"
    assert registry.declared_placement(ROOT / "tests" / "fixtures" / "workers" / "callee" / "wrangler.jsonc") is None
    worker = tmp_path / "orders"
    worker.mkdir()
    (worker / "service.toml").write_text('name = "orders"\n')
    assert registry.declared_placement(worker / "wrangler.jsonc") == "namespace"
    (worker / "service.toml").write_text('name = "orders"\nplacement = "moon"\n')
    assert registry.declared_placement(worker / "wrangler.jsonc") is None
    (worker / "service.toml").write_text("not = toml = at all")
    assert registry.declared_placement(worker / "wrangler.jsonc") is None


def test_no_worker_binds_a_namespace_service():
    # On Cloudflare a service binding can only name an account-level Worker (docs/architecture.md).
    assert registry.binding_problems(ROOT) == []


def test_a_service_binding_to_a_namespace_service_is_a_problem_in_any_environment(tmp_path):
    repo = _mini_repo(tmp_path)
    billing = repo / "workers" / "billing"
    billing.mkdir()
    (billing / "service.toml").write_text('name = "billing"\n')
    (billing / "wrangler.jsonc").write_text(
        '{"name": "billing", "services": [{"binding": "AUTH_SERVICE", "service": "auth"}],\n'
        ' "env": {"staging": {"services": [{"binding": "ORDERS", "service": "orders-staging"}]}}}\n'
    )
    (problem,) = registry.binding_problems(repo)
    assert problem.startswith(
        "workers/billing/wrangler.jsonc [staging]: service binding 'ORDERS' names 'orders-staging'"
    )
    assert "can only name an account-level Worker" in problem
    result = subprocess.run(
        [sys.executable, "-m", "dotdo_dev.registry", "--check", "--root", str(repo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "service binding 'ORDERS'" in result.stdout


def test_the_generated_python_is_exactly_the_data(tmp_path):
    data = {"a": {"b": [1, True, None, "x\"y'z", "彡.io"], "c": {}, "d": []}, "e": 2.5}
    assert ast.literal_eval(registry.python_literal(data)) == data


def test_the_binding_lines_are_rewritten_between_the_markers_and_nothing_else():
    text = (
        '{\n  // a comment that stays\n  "services": [\n    ' + registry.BINDINGS_BEGIN + "\n"
        '    { "binding": "OLD_SERVICE", "service": "old" },\n    ' + registry.BINDINGS_END + "\n"
        '    { "binding": "MINE", "service": "kept" },\n  ],\n}\n'
    )
    manifest = registry.Manifest(
        name="orders", folder=Path("workers/orders"), placement="account", gateway={"read": "orders:read"}
    )
    out = registry.render_gateway_bindings(text, [manifest])
    assert "OLD_SERVICE" not in out
    assert "// a comment that stays" in out
    assert jsonc.loads(out)["services"] == [
        {"binding": "ORDERS_SERVICE", "service": "orders"},
        {"binding": "MINE", "service": "kept"},
    ]
    with pytest.raises(registry.ManifestError, match="no '// registry"):
        registry.render_gateway_bindings('{"services": []}', [manifest])
    with pytest.raises(registry.ManifestError, match="not closed"):
        registry.render_gateway_bindings("{\n" + registry.BINDINGS_BEGIN + "\n}", [manifest])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "orders"\ncolour = "red"', "unknown keys"),
        ('name = "shipping"', "differs from its folder"),
        ('name = "Orders"', "lower-case"),
        ('name = "orders"\n[gateway]\nread = "Orders Read"', "must be a permission"),
        ('name = "orders"\n[gateway]\nprefix = "o"', r"\[gateway\] takes"),
        ('name = "orders"\n[gateway]\npublic = ["/login"]', "look like"),
        ('name = "orders"\n[permissions]\n"Orders:Read" = "x"', "is not a permission"),
        ('name = "orders"\n[roles]\nuser = ["orders:read"]', "does not define"),
        ('name = "orders"\n[permissions]\n"orders:read" = "x"\n[roles]\nadmin = ["orders:read"]', "built-in roles"),
        ('name = "orders"\n[dispatcher]\naliases = ["a b"]', "host names"),
        ('name = "orders"\nname = "twice"', "orders/service.toml"),  # not TOML
        ('name = "orders"\nplacement = "edge"', "placement is 'account' or 'namespace', not 'edge'"),
        ('name = "orders"\nplacement = 1', "placement is"),
    ],
)
def test_a_bad_manifest_is_refused_naming_its_file(tmp_path, text, message):
    path = tmp_path / "orders" / "service.toml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(registry.ManifestError, match=message):
        registry.read_manifest(path)


def test_the_dispatcher_is_account_level_always(tmp_path):
    path = tmp_path / "dispatcher" / "service.toml"
    path.parent.mkdir()
    path.write_text('name = "dispatcher"\n')
    with pytest.raises(registry.ManifestError, match="the dispatcher is the routed Worker"):
        registry.read_manifest(path)
    path.write_text('name = "dispatcher"\nplacement = "account"\n')
    manifest = registry.read_manifest(path)
    assert manifest.account_level
    assert not manifest.bound  # no one's binding target


def test_two_services_cannot_claim_the_same_permission_alias_or_name(tmp_path):
    repo = _mini_repo(tmp_path)
    (repo / "workers" / "billing").mkdir()
    (repo / "workers" / "billing" / "service.toml").write_text(
        'name = "billing"\n[permissions]\n"orders:read" = "theirs"\n'
    )
    with pytest.raises(registry.ManifestError, match="permission 'orders:read' is declared by both"):
        registry.read_manifests(repo)
    (repo / "workers" / "billing" / "service.toml").write_text('name = "billing"\n[dispatcher]\naliases = ["o.do"]\n')
    with pytest.raises(registry.ManifestError, match=r"alias 'o\.do'"):
        registry.read_manifests(repo)


ORDERS_TABLES = """name = "orders"

[tables.orders_invoices]
prefix = "inv"
required = ["total", "number"]
columns = { number = "text", total = "integer", paid = "boolean", lines = "json", due_at = "timestamp" }

[tables.orders_refunds]
prefix = "rfd"
[tables.orders_refunds.columns]
invoice_id = "text"
"""


def test_a_services_tables_are_checked_and_written_into_the_registry(tmp_path):
    repo = _mini_repo(tmp_path)
    (repo / "workers" / "orders" / "service.toml").write_text(ORDERS_TABLES)
    (manifest,) = [m for m in registry.read_manifests(repo) if m.name == "orders"]
    invoices = {
        "prefix": "inv",
        "columns": {"number": "text", "total": "integer", "paid": "boolean", "lines": "json", "due_at": "timestamp"},
        "required": ["number", "total"],  # sorted
    }
    refunds = {"prefix": "rfd", "columns": {"invoice_id": "text"}, "required": []}
    assert manifest.tables == {"orders_invoices": invoices, "orders_refunds": refunds}
    registry.sync(repo)
    source = (repo / "shared" / "registry.py").read_text()
    services = ast.literal_eval(source.split("SERVICES: dict[str, dict[str, Any]] = ", 1)[1])
    assert services["orders"]["tables"] == manifest.tables
    assert "tables" not in services["gateway"]  # a service that keeps none has no key


def test_a_service_name_with_dashes_prefixes_its_tables_in_snake_case(tmp_path):
    path = tmp_path / "order-history" / "service.toml"
    path.parent.mkdir()
    path.write_text(
        'name = "order-history"\n[tables.order_history_entries]\nprefix = "ohe"\ncolumns = { at = "timestamp" }'
    )
    assert list(registry.read_manifest(path).tables) == ["order_history_entries"]
    path.write_text('name = "order-history"\n[tables.order_entries]\nprefix = "ohe"\ncolumns = { at = "timestamp" }')
    with pytest.raises(registry.ManifestError, match=r"e\.g\. order_history_items"):
        registry.read_manifest(path)


def _table(name: str, body: str = 'prefix = "x"\ncolumns = { a = "text" }') -> str:
    return f'name = "orders"\n[tables.{name}]\n{body}\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "orders"\ntables = ["orders_items"]', r"\[tables\] maps each table name"),
        ('name = "orders"\n[tables]\norders_items = "inv"', "a table declares prefix, columns and required"),
        # db's own schema and SQLite's: refused whatever the service is called
        (_table("things"), "'things' is a name of db's own schema"),
        (_table("relationships"), "db's own schema"),
        (_table("audit_log"), "db's own schema"),
        (_table("_migrations"), "db's own schema"),
        (_table("things_fts"), "db's own schema"),
        (_table("things_owner"), "db's own schema"),  # one of db's indexes
        (_table("audit_log_actor"), "db's own schema"),
        (_table("sqlite_sequence"), "db's own schema"),
        # named after its service
        (_table("invoices"), "starts with its service's name and '_', e.g. orders_items"),
        (_table("orders"), "starts with its service's name"),
        (_table("orders_"), "starts with its service's name"),
        (_table("ordersx_items"), "starts with its service's name"),
        (_table("shop_orders"), "starts with its service's name"),
        # the declaration itself
        (_table("orders_items", 'prefix = "x"'), "columns maps each column to its type"),
        (_table("orders_items", 'prefix = "x"\ncolumns = {}'), "columns maps each column to its type"),
        (_table("orders_items", 'columns = { a = "text" }'), "id prefix None"),
        (_table("orders_items", 'prefix = "X_1"\ncolumns = { a = "text" }'), "id prefix 'X_1'"),
        (_table("orders_items", 'prefix = "x"\ncolumns = { a = "money" }'), r"orders_items\.a: unknown type 'money'"),
        (_table("orders_items", 'prefix = "x"\ncolumns = { a = 1 }'), "unknown type 1"),
        (_table("orders_items", 'prefix = "x"\ncolumns = { A = "text" }'), "column name 'A'"),
        (_table("orders_items", 'prefix = "x"\ncolumns = { "a b" = "text" }'), "column name 'a b'"),
        (_table("orders_items", 'prefix = "x"\ncolumns = { id = "text" }'), "set by the store"),
        (_table("orders_items", 'prefix = "x"\ncolumns = { created_at = "timestamp" }'), "set by the store"),
        (
            _table("orders_items", 'prefix = "x"\ncolumns = { a = "text" }\nrequired = ["b"]'),
            r"required columns \['b'\]",
        ),
        (_table("orders_items", 'prefix = "x"\ncolumns = { a = "text" }\nrequired = "a"'), "required is a list"),
        (
            _table("orders_items", 'prefix = "x"\ncolumns = { a = "text" }\nunique = ["a"]'),
            r"unknown keys \['unique'\]",
        ),
        (_table('"orders_items\\"; DROP TABLE things; --"'), "table name"),
        (_table("Orders_Items"), "starts with its service's name"),
    ],
)
def test_a_bad_table_declaration_is_refused_naming_its_file_and_table(tmp_path, text, message):
    path = tmp_path / "orders" / "service.toml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(registry.ManifestError, match=message) as info:
        registry.read_manifest(path)
    assert str(info.value).startswith(f"{path}: ")


def test_two_services_cannot_declare_the_same_table(tmp_path):
    repo = _mini_repo(tmp_path)
    (repo / "workers" / "orders" / "service.toml").write_text(_table("orders_x_items"))
    (repo / "workers" / "orders-x").mkdir()
    (repo / "workers" / "orders-x" / "service.toml").write_text(
        _table("orders_x_items").replace('name = "orders"', 'name = "orders-x"')
    )
    with pytest.raises(registry.ManifestError, match="table 'orders_x_items' is declared by both orders and orders-x"):
        registry.read_manifests(repo)


def _mini_repo(tmp_path: Path) -> Path:
    """A repository with one service and a gateway, enough for the registry."""
    repo = tmp_path / "repo"
    orders = repo / "workers" / "orders"
    orders.mkdir(parents=True)
    (orders / "service.toml").write_text(
        'name = "orders"\n[gateway]\n[permissions]\n"orders:read" = "r"\n"orders:write" = "w"\n'
        '[roles]\nuser = ["orders:read", "orders:write"]\nviewer = ["orders:read"]\n'
        '[dispatcher]\naliases = ["o.do"]\n'
    )
    gateway = repo / "workers" / "gateway"
    gateway.mkdir()
    (gateway / "wrangler.jsonc").write_text(
        '{\n  "name": "gateway",\n  "services": [\n    '
        + registry.BINDINGS_BEGIN
        + "\n    "
        + registry.BINDINGS_END
        + "\n  ],\n}\n"
    )
    (gateway / "service.toml").write_text('name = "gateway"\n')
    (repo / "shared").mkdir()
    return repo
