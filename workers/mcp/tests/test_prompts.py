"""mcp's prompts: operator tasks as instructions naming real tools, hidden from whom may not do them."""

import re

from conftest import ADMIN, DEPLOYER, READER, ROOT, rpc

from prompts import prompts


async def test_a_caller_sees_the_prompts_its_permissions_allow(worker):
    _, reply = await rpc(worker, "prompts/list", headers=READER)
    assert [p["name"] for p in reply["result"]["prompts"]] == ["check_platform_health"]
    _, reply = await rpc(worker, "prompts/list", headers=DEPLOYER, modern=True)
    assert [p["name"] for p in reply["result"]["prompts"]] == ["check_platform_health", "rollback_service"]
    _, reply = await rpc(worker, "prompts/list", headers=ADMIN)
    assert [p["name"] for p in reply["result"]["prompts"]] == prompts.names()


async def test_a_prompt_renders_its_arguments_into_the_steps(worker):
    arguments = {"service": "db", "environment": "staging"}
    status, reply = await rpc(
        worker, "prompts/get", {"name": "rollback_service", "arguments": arguments}, headers=DEPLOYER
    )
    assert status == 200
    (message,) = reply["result"]["messages"]
    assert message["role"] == "user"
    text = message["content"]["text"]
    assert "deploy_list_deployments with service='db', environment='staging'" in text
    assert "deploy_rollback" in text
    _, reply = await rpc(
        worker,
        "prompts/get",
        {"name": "issue_agent_api_key", "arguments": {"name": "export", "permissions": "db:read, db:write"}},
        headers=ADMIN,
        modern=True,
    )
    assert "permissions=['db:read', 'db:write']" in reply["result"]["messages"][0]["content"]["text"]


async def test_missing_or_unknown_arguments_and_hidden_prompts_are_invalid_params(worker):
    for headers, params in (
        (DEPLOYER, {"name": "rollback_service", "arguments": {"service": "db"}}),
        (DEPLOYER, {"name": "rollback_service", "arguments": {"service": "db", "environment": "x", "extra": "1"}}),
        (READER, {"name": "rollback_service", "arguments": {"service": "db", "environment": "staging"}}),
        (ADMIN, {"name": "no_such_prompt"}),
    ):
        _, reply = await rpc(worker, "prompts/get", params, headers=headers)
        assert reply["error"]["code"] == -32602, params


def test_every_prompt_names_tools_that_exist():
    """The tools the prompts name are declared by their services (`tool="..."` in their operations.py)."""
    named = {"deploy_list_deployments", "deploy_rollback", "auth_create_api_key", "queue_list_dead_letters"}
    named |= {"queue_get_dead_letter", "queue_replay_dead_letter", "queue_discard_dead_letter"}
    declared = set()
    for operations in (ROOT.parent).glob("*/src/operations.py"):
        declared |= set(re.findall(r'tool="([a-z_]+)"', operations.read_text()))
    assert named <= declared
