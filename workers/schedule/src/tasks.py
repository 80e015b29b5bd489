"""The built-in tasks: what each does, on which cron, through which binding. The one list.

Every task is an async function of a `TaskContext` that returns what it did (counts, checks) or
raises; the runner (`runner.py`) retries what raises, records every run and holds the lease. A task
acts on another service over its service binding, as schedule's own principal
(`shared.principals.service_principal("schedule", ...)`): an ordinary principal holding only the
`<service>:maintain` permissions those services define for their housekeeping operations.

A task whose service is not bound here (email: it offers no `retry_failed` yet) is skipped and
recorded as `skipped: <service> not bound`, never reported as done. The RPC it would call is the
contract that service is to offer.

`CRONS` (cron -> task names, in order) is what `wrangler.jsonc`'s `triggers.crons` must list; a test
holds the two equal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import store
from shared.clock import iso_in, now_iso
from shared.cron import CronSchedule
from shared.errors import AppError
from shared.principals import service_principal
from shared.rpc import call

#: Who schedule's tasks act as: only the housekeeping permissions of the services they act on.
PRINCIPAL = service_principal(
    "schedule",
    permissions=[f"{name}:maintain" for name in ("auth", "db", "deploy", "webhooks", "email", "queue")],
)
#: How long run history is kept (days).
HISTORY_DAYS = 30
#: How long db's audit log is kept (days).
AUDIT_LOG_DAYS = 90
#: How long processed webhook events are kept (days; webhooks takes 7 at least).
EVENT_DAYS = 30
#: How long queue keeps dead letters (days; queue takes 7 at least).
DEAD_LETTER_DAYS = 30
#: How many of a service's newest deployments per environment keep their bundle (for rollback).
KEEP_DEPLOYMENTS = 10
#: How long one health check may take (seconds).
HEALTH_TIMEOUT = 5.0


@dataclass(frozen=True)
class TaskContext:
    """What a task gets: the worker's bindings, the principal it acts as, and when it was due (ms)."""

    env: Any
    scheduled_time: int | None = None
    principal: dict[str, Any] = field(default_factory=lambda: dict(PRINCIPAL))


TaskFunction = Callable[[TaskContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Task:
    """A task: its name, its cron, what it does (`effect`, the README's words), the function, and the
    service binding it needs (None: its own storage only)."""

    name: str
    cron: str
    effect: str
    run: TaskFunction
    binding: str | None = None
    service: str | None = None
    max_attempts: int = 3
    #: Seconds one attempt may take before it counts as failed.
    timeout: float = 20.0

    @property
    def schedule(self) -> CronSchedule:
        return CronSchedule.parse(self.cron)


# -- what the tasks do ------------------------------------------------------------------------------------


async def auth_expire_sessions(ctx: TaskContext) -> dict[str, Any]:
    return await call(ctx.env.AUTH_SERVICE.remove_expired, ctx.principal, {"scope": "sessions"}, service="auth")


async def auth_purge_api_keys(ctx: TaskContext) -> dict[str, Any]:
    return await call(ctx.env.AUTH_SERVICE.remove_expired, ctx.principal, {"scope": "api_keys"}, service="auth")


async def db_purge_audit_log(ctx: TaskContext) -> dict[str, Any]:
    args = {"older_than_days": AUDIT_LOG_DAYS}
    return await call(ctx.env.DB_SERVICE.purge_audit_log, ctx.principal, args, service="db")


async def db_usage_rollup(ctx: TaskContext) -> dict[str, Any]:
    return await call(ctx.env.DB_SERVICE.usage_stats, ctx.principal, {}, service="db")


async def deploy_prune_bundles(ctx: TaskContext) -> dict[str, Any]:
    args = {"keep": KEEP_DEPLOYMENTS}
    return await call(ctx.env.DEPLOY_SERVICE.prune_bundles, ctx.principal, args, service="deploy")


#: The services `health-check-services` asks, by binding.
HEALTH_CHECKED = {
    "AUTH_SERVICE": "auth",
    "DB_SERVICE": "db",
    "DEPLOY_SERVICE": "deploy",
    "QUEUE_SERVICE": "queue",
    "WEBHOOKS_SERVICE": "webhooks",
}


class Unhealthy(AppError):
    status = 503
    code = "SERVICES_UNHEALTHY"


async def health_check_services(ctx: TaskContext) -> dict[str, Any]:
    """GET /health of every bound service; raises (so it is retried, then recorded failed) if one is not ok."""
    bound = {name: getattr(ctx.env, binding) for binding, name in HEALTH_CHECKED.items() if _bound(ctx.env, binding)}
    checks = await asyncio.gather(*(_health(service) for service in bound.values()))
    report = dict(zip(bound, checks, strict=True))
    failing = sorted(name for name, check in report.items() if check["status"] != "ok")
    if failing:
        raise Unhealthy(f"not healthy: {', '.join(failing)}", details=report)
    return {"services": report}


async def _health(service: Any) -> dict[str, Any]:
    reply = None
    try:
        reply = await asyncio.wait_for(service.fetch("https://schedule.internal/health"), HEALTH_TIMEOUT)
        body = await asyncio.wait_for(reply.json(), HEALTH_TIMEOUT)
    except Exception as exc:  # unreachable, timed out, or an answer that is not JSON
        if reply is None:
            return {"status": "unreachable", "error": f"{type(exc).__name__}: {exc}"[:200]}
        return {"status": "failing", "http_status": reply.status}
    data = body.get("data") if isinstance(body, dict) else None
    reported = data.get("status") if isinstance(data, dict) else None
    if reply.status != 200 or reported not in (None, "ok"):
        return {"status": "failing", "http_status": reply.status, "reported": reported}
    return {"status": "ok", "http_status": reply.status}


async def webhooks_purge_events(ctx: TaskContext) -> dict[str, Any]:
    args = {"older_than_days": EVENT_DAYS}
    return await call(ctx.env.WEBHOOKS_SERVICE.purge_events, ctx.principal, args, service="webhooks")


async def webhooks_retry_failed(ctx: TaskContext) -> dict[str, Any]:
    return await call(ctx.env.WEBHOOKS_SERVICE.retry_failed, ctx.principal, {}, service="webhooks")


async def email_retry_failed(ctx: TaskContext) -> dict[str, Any]:
    return await call(ctx.env.EMAIL_SERVICE.retry_failed, ctx.principal, {}, service="email")


async def queue_purge_dead_letters(ctx: TaskContext) -> dict[str, Any]:
    args = {"older_than_days": DEAD_LETTER_DAYS}
    return await call(ctx.env.QUEUE_SERVICE.purge_dead_letters, ctx.principal, args, service="queue")


async def schedule_prune_history(ctx: TaskContext) -> dict[str, Any]:
    return await store.prune(ctx.env, iso_in(-HISTORY_DAYS * 86400), now_iso())


def _bound(env: Any, binding: str) -> bool:
    return getattr(env, binding, None) is not None


# -- the list -----------------------------------------------------------------------------------------------

EVERY_5_MINUTES, HOURLY, DAILY, WEEKLY = "*/5 * * * *", "17 * * * *", "30 3 * * *", "0 4 * * SUN"

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "health-check-services",
            EVERY_5_MINUTES,
            "GET /health of auth, db, deploy, queue and webhooks; fails (and is retried) if one is not ok",
            health_check_services,
            timeout=HEALTH_TIMEOUT * 2 + 1,
        ),
        Task(
            "webhooks-retry-failed",
            EVERY_5_MINUTES,
            "Asks webhooks to process again the events failed for an hour or more, 50 at most (webhooks.retry_failed)",
            webhooks_retry_failed,
            binding="WEBHOOKS_SERVICE",
            service="webhooks",
        ),
        Task(
            "email-retry-failed",
            EVERY_5_MINUTES,
            "Asks email to send again the messages whose sending failed (email.retry_failed)",
            email_retry_failed,
            binding="EMAIL_SERVICE",
            service="email",
        ),
        Task(
            "auth-expire-sessions",
            HOURLY,
            "Deletes expired OAuth sign-in states and refresh tokens, and sessions ended 30 days ago (auth)",
            auth_expire_sessions,
            binding="AUTH_SERVICE",
            service="auth",
        ),
        Task(
            "db-usage-rollup",
            HOURLY,
            "Counts things, relationships, namespaces and types over every owner (db.usage_stats); kept in the run",
            db_usage_rollup,
            binding="DB_SERVICE",
            service="db",
        ),
        Task(
            "auth-purge-api-keys",
            DAILY,
            "Deletes API keys expired or revoked more than 90 days ago (auth; the bootstrap key's record stays)",
            auth_purge_api_keys,
            binding="AUTH_SERVICE",
            service="auth",
        ),
        Task(
            "db-purge-audit-log",
            DAILY,
            f"Deletes db's audit log entries older than {AUDIT_LOG_DAYS} days (db.purge_audit_log)",
            db_purge_audit_log,
            binding="DB_SERVICE",
            service="db",
        ),
        Task(
            "webhooks-purge-events",
            DAILY,
            f"Deletes webhooks' processed events (done, unhandled) settled more than {EVENT_DAYS} days ago "
            "(webhooks.purge_events)",
            webhooks_purge_events,
            binding="WEBHOOKS_SERVICE",
            service="webhooks",
        ),
        Task(
            "queue-purge-dead-letters",
            DAILY,
            f"Deletes queue's dead letters recorded more than {DEAD_LETTER_DAYS} days ago; their jobs still dead "
            "are marked discarded (queue.purge_dead_letters)",
            queue_purge_dead_letters,
            binding="QUEUE_SERVICE",
            service="queue",
        ),
        Task(
            "schedule-prune-history",
            DAILY,
            f"Deletes this service's run history older than {HISTORY_DAYS} days and expired leases",
            schedule_prune_history,
        ),
        Task(
            "deploy-prune-bundles",
            WEEKLY,
            f"Deletes stored bundles no longer among a service's {KEEP_DEPLOYMENTS} newest deployments per "
            "environment (never the live one; deploy.prune_bundles)",
            deploy_prune_bundles,
            binding="DEPLOY_SERVICE",
            service="deploy",
        ),
    )
}


def crons() -> dict[str, list[str]]:
    """Cron -> the names of its tasks, in the order they run."""
    mapping: dict[str, list[str]] = {}
    for task in TASKS.values():
        mapping.setdefault(task.cron, []).append(task.name)
    return mapping


def tasks_of(cron: str) -> list[Task]:
    """The tasks a cron runs: those declared with exactly that expression (as Cloudflare passes it back)."""
    return [task for task in TASKS.values() if task.cron == cron]
