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
    assert SERVICES["db"]["gateway"]["binding"] == "DB_SERVICE"
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


def test_the_gateway_is_bound_to_every_service_with_a_gateway_table_in_every_environment():
    expected = {m.binding: m.name for m in registry.read_manifests(ROOT) if m.gateway is not None}
    gateway = ROOT / "workers" / "gateway"
    for environment in (None, "staging", "development"):
        bound = {s.binding: s.service for s in load_worker(gateway, environment=environment).services}
        assert bound == expected, environment


def test_the_generated_python_is_exactly_the_data(tmp_path):
    data = {"a": {"b": [1, True, None, "x\"y'z", "彡.io"], "c": {}, "d": []}, "e": 2.5}
    assert ast.literal_eval(registry.python_literal(data)) == data


def test_the_binding_lines_are_rewritten_between_the_markers_and_nothing_else():
    text = (
        '{\n  // a comment that stays\n  "services": [\n    ' + registry.BINDINGS_BEGIN + "\n"
        '    { "binding": "OLD_SERVICE", "service": "old" },\n    ' + registry.BINDINGS_END + "\n"
        '    { "binding": "MINE", "service": "kept" },\n  ],\n}\n'
    )
    manifest = registry.Manifest(name="orders", folder=Path("workers/orders"), gateway={"read": "orders:read"})
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
    ],
)
def test_a_bad_manifest_is_refused_naming_its_file(tmp_path, text, message):
    path = tmp_path / "orders" / "service.toml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(registry.ManifestError, match=message):
        registry.read_manifest(path)


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
