"""The deployment order from the service-binding graph (dotdo_dev/deploy_order.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dotdo_dev.deploy_order import DeployOrderError, deploy_order
from dotdo_dev.platform import discover_workers

REPO = Path(__file__).resolve().parents[2]


def _worker(root: Path, name: str, binds: list[str] = (), *, env: dict | None = None, folder: str = "") -> Path:
    directory = root / (folder or f"workers/{name}")
    directory.mkdir(parents=True)
    config = {
        "name": name,
        "main": "src/entry.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "services": [{"binding": f"{b.upper()}_SERVICE", "service": b} for b in binds],
    }
    if env:
        config["env"] = env
    (directory / "wrangler.jsonc").write_text("// fake\n" + json.dumps(config, indent=2))
    return directory / "wrangler.jsonc"


def _names(root: Path, environment: str | None = None) -> list[str]:
    return [w.name for w in deploy_order(discover_workers(root), environment=environment)]


def test_a_service_goes_after_what_it_binds_and_the_dispatcher_last(tmp_path: Path) -> None:
    _worker(tmp_path, "dispatcher", folder="dispatcher")
    _worker(tmp_path, "gateway", ["auth", "db"])
    _worker(tmp_path, "db", ["auth"])
    _worker(tmp_path, "auth")
    _worker(tmp_path, "orders", ["db", "auth"])
    _worker(tmp_path, "billing")
    order = _names(tmp_path)
    assert order[-1] == "dispatcher"
    assert order.index("auth") < order.index("db") < order.index("gateway")
    assert order.index("db") < order.index("orders")
    assert order == ["auth", "billing", "db", "gateway", "orders", "dispatcher"]  # ties alphabetical


def test_the_order_does_not_depend_on_the_order_the_files_come_in(tmp_path: Path) -> None:
    paths = [_worker(tmp_path, "c", ["b"]), _worker(tmp_path, "b", ["a"]), _worker(tmp_path, "a")]
    assert [w.name for w in deploy_order(paths)] == ["a", "b", "c"]
    assert [w.name for w in deploy_order(reversed(paths))] == ["a", "b", "c"]


def test_each_worker_carries_its_folder_and_what_it_binds(tmp_path: Path) -> None:
    _worker(tmp_path, "auth")
    _worker(tmp_path, "db", ["auth", "auth"])
    db = deploy_order(discover_workers(tmp_path))[-1]
    assert db.name == "db"
    assert db.folder == (tmp_path / "workers" / "db").resolve()
    assert db.binds == ("auth",)


def test_a_cycle_is_an_error_naming_it(tmp_path: Path) -> None:
    _worker(tmp_path, "auth", ["db"])
    _worker(tmp_path, "db", ["auth"])
    _worker(tmp_path, "gateway", ["db"])
    with pytest.raises(DeployOrderError, match=r"^dependency cycle: auth -> db -> auth$"):
        deploy_order(discover_workers(tmp_path))


def test_a_longer_cycle_and_a_self_binding_are_named(tmp_path: Path) -> None:
    _worker(tmp_path, "a", ["b"])
    _worker(tmp_path, "b", ["c"])
    _worker(tmp_path, "c", ["a"])
    with pytest.raises(DeployOrderError, match=r"dependency cycle: a -> b -> c -> a"):
        deploy_order(discover_workers(tmp_path))
    other = tmp_path / "other"
    _worker(other, "loop", ["loop"])
    with pytest.raises(DeployOrderError, match=r"dependency cycle: loop -> loop"):
        deploy_order(discover_workers(other))


def test_binding_the_dispatcher_is_a_cycle_since_it_routes_to_everything(tmp_path: Path) -> None:
    _worker(tmp_path, "dispatcher", folder="dispatcher")
    _worker(tmp_path, "gateway", ["dispatcher"])
    with pytest.raises(DeployOrderError, match=r"dependency cycle: dispatcher -> gateway -> dispatcher"):
        deploy_order(discover_workers(tmp_path))


def test_a_binding_to_no_worker_names_the_target(tmp_path: Path) -> None:
    _worker(tmp_path, "auth")
    _worker(tmp_path, "db", ["auth", "ledger"])
    with pytest.raises(DeployOrderError, match=r"db binds LEDGER_SERVICE to 'ledger', which no worker"):
        deploy_order(discover_workers(tmp_path))


def test_with_an_environment_its_block_s_bindings_count(tmp_path: Path) -> None:
    # At the top level a binds b; in staging it is b that binds a (bindings are not inherited).
    _worker(tmp_path, "a", ["b"], env={"staging": {"services": []}})
    _worker(tmp_path, "b", env={"staging": {"services": [{"binding": "A_SERVICE", "service": "a-staging"}]}})
    assert _names(tmp_path) == ["b", "a"]
    assert _names(tmp_path, "staging") == ["a", "b"]  # `a-staging` is a's name in staging
    assert _names(tmp_path, "production") == ["b", "a"]  # no block: the top level, as wrangler reads it


def test_a_missing_target_in_the_environment_says_which(tmp_path: Path) -> None:
    _worker(tmp_path, "a", env={"staging": {"services": [{"binding": "X", "service": "ghost"}]}})
    assert _names(tmp_path) == ["a"]
    with pytest.raises(DeployOrderError, match=r"a binds X to 'ghost' in env staging"):
        _names(tmp_path, "staging")


def test_a_broken_config_is_an_order_error_naming_the_file(tmp_path: Path) -> None:
    path = _worker(tmp_path, "a")
    path.write_text('{"name": "a", "main": 3}')
    with pytest.raises(DeployOrderError, match=r"wrangler\.jsonc"):
        deploy_order([path])


@pytest.mark.parametrize("environment", [None, "staging", "development", "production"])
def test_the_repo_s_own_workers_have_an_order(environment: str | None) -> None:
    order = _names(REPO, environment)
    assert order[-1] == "dispatcher"
    assert order.index("auth") < order.index("db") < order.index("gateway")
