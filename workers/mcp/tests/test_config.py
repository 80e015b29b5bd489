"""mcp's bindings: every upstream service in every environment, the Worker of that environment."""

import tomllib

from conftest import ROOT

from dotdo_dev.config import load_worker
from dotdo_dev.registry import environment_name
from upstreams import UPSTREAMS, owner_of


def test_every_upstream_is_bound_in_every_environment():
    for environment in (None, "staging", "development"):
        config = load_worker(ROOT, environment=environment)
        bound = {s.binding: s.service for s in config.services}
        expected = {binding: environment_name(name, environment) for name, binding in UPSTREAMS.items()}
        assert bound == expected, environment


def test_the_upstreams_are_the_account_level_services_with_tools():
    assert set(UPSTREAMS) == {"auth", "db", "deploy", "email", "queue", "schedule", "webhooks"}
    manifest = tomllib.loads((ROOT / "service.toml").read_text())
    assert manifest["placement"] == "account"
    assert "gateway" not in manifest


def test_a_tool_belongs_to_the_longest_service_name_that_prefixes_it():
    assert owner_of("db_get") == "db"
    assert owner_of("deploy_rollback") == "deploy"
    assert owner_of("dbx_get") is None
    assert owner_of("db") is None
