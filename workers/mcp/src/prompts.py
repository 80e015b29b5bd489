"""mcp's prompts: the operator tasks an agent is most often asked to do, as step-by-step instructions that
name the tools and resources to use. Each needs the permission its first tool does (hidden without it)."""

from __future__ import annotations

from shared.mcp import PromptArgument, PromptRegistry

ENVIRONMENTS = ("development", "staging", "production")

prompts = PromptRegistry()


@prompts.prompt("check_platform_health", "Check every service's health and explain what is wrong, if anything.")
def check_platform_health(arguments: dict[str, str]) -> str:
    return (
        "Read the resource dotdo://platform/health. Report the platform's status in one line. For every service "
        "whose status is not ok, say what the status means (degraded: it answers but reports a problem of its "
        "own; failing: it answers with an error; unreachable: it does not answer; not_bound: this MCP server "
        "cannot reach it) and what an operator should look at first. Do not change anything."
    )


@prompts.prompt(
    "rollback_service",
    "Roll a service back to its previous successful deployment, after checking what is live.",
    [
        PromptArgument("service", "The service to roll back, e.g. orders", required=True),
        PromptArgument("environment", f"One of {', '.join(ENVIRONMENTS)}", required=True),
    ],
    permission="deploy",
)
def rollback_service(arguments: dict[str, str]) -> str:
    service, environment = arguments["service"], arguments["environment"]
    return (
        f"Roll the service {service!r} back in {environment!r}.\n"
        f"1. Call deploy_list_deployments with service={service!r}, environment={environment!r}, limit=5, and "
        "show the live deployment and the previous successful one (version, commit, who deployed it, when).\n"
        "2. Ask the operator to confirm the rollback. Production needs the permission deploy:production.\n"
        f"3. After confirmation, call deploy_rollback with service={service!r}, environment={environment!r}, "
        "and report the new deployment's id and status. If it fails, report the error code and stop."
    )


@prompts.prompt(
    "issue_agent_api_key",
    "Create an API key for an agent or a script with the fewest permissions that do its job.",
    [
        PromptArgument("name", "What the key is for, e.g. nightly-export", required=True),
        PromptArgument("permissions", "The permissions it needs, comma-separated, e.g. db:read", required=True),
    ],
    permission="apikeys:write",
)
def issue_agent_api_key(arguments: dict[str, str]) -> str:
    wanted = [p.strip() for p in arguments["permissions"].split(",") if p.strip()]
    return (
        f"Create an API key named {arguments['name']!r} with exactly these permissions: {', '.join(wanted)}.\n"
        "1. If any of them ends in :admin or is *, ask the operator whether a narrower one would do.\n"
        f"2. Call auth_create_api_key with name={arguments['name']!r} and permissions={wanted!r}.\n"
        "3. Give the key to the operator once, and say it will not be shown again; never repeat it later.\n"
        "A key can hold only permissions its owner holds: a FORBIDDEN answer means asking an admin."
    )


@prompts.prompt(
    "triage_dead_letters",
    "Go through the queue's dead letters: find why each job failed, then replay or discard it.",
    [PromptArgument("limit", "How many dead letters to look at (default 10)")],
    permission="queue:admin",
)
def triage_dead_letters(arguments: dict[str, str]) -> str:
    limit = arguments.get("limit") or "10"
    return (
        f"Call queue_list_dead_letters with status='dead' and limit={limit}. For each dead letter, call "
        "queue_get_dead_letter and explain its last error. Group them by cause. Propose, per group, to replay "
        "(queue_replay_dead_letter, with a corrected payload if the payload was the cause) or to discard "
        "(queue_discard_dead_letter). Replay or discard only what the operator approves."
    )
