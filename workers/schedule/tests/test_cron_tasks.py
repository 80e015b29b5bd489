"""The scheduled handler runs exactly the tasks of the cron that fired, as workerd calls it, and every
run is in the history; tasks of services that are not bound are skipped, saying so (email's, and webhooks' when
its binding is missing)."""

import pytest
from conftest import ROOT, history

import tasks
from dotdo_dev.config import load_worker
from dotdo_dev.testing import WorkerHarness
from shared.cron import CronSchedule


def test_the_wrangler_crons_are_exactly_the_tasks_crons():
    for environment in (None, "staging", "development"):
        config = load_worker(ROOT, environment=environment)
        assert sorted(config.crons) == sorted(tasks.crons()), environment


@pytest.mark.parametrize("task", list(tasks.TASKS.values()), ids=lambda t: t.name)
def test_every_task_has_a_cloudflare_cron_and_an_effect(task):
    CronSchedule.parse(task.cron)  # CronError if Cloudflare would refuse it
    assert task.effect
    assert task.max_attempts >= 1


def test_weekly_is_sunday_as_cloudflare_counts_it():
    import datetime as dt

    sunday = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.UTC)  # a Sunday
    assert CronSchedule.parse(tasks.WEEKLY).matches(sunday)
    assert not CronSchedule.parse(tasks.WEEKLY).matches(sunday + dt.timedelta(days=1))


async def test_the_hourly_cron_runs_its_tasks_and_no_other(worker, auth, db, deploy, queue):
    await worker.scheduled(tasks.HOURLY)
    assert [c[0] for c in auth.calls if c[0] != "validate_token"] == ["remove_expired"]
    assert auth.calls[0][2] == {"scope": "sessions"}
    assert auth.calls[0][1]["id"] == "svc_schedule"  # schedule's own principal, not an admin
    assert "*" not in auth.calls[0][1]["permissions"]
    assert [c[0] for c in db.calls] == ["usage_stats"]
    assert deploy.calls == queue.calls == []

    runs, meta = await history(worker)
    assert meta["total"] == 2
    assert {r["task"] for r in runs} == {"auth-expire-sessions", "db-usage-rollup"}
    for run in runs:
        assert (run["trigger"], run["cron"], run["status"], run["attempts"]) == ("cron", tasks.HOURLY, "succeeded", 1)
        assert run["finished_at"] >= run["started_at"]
        assert run["duration_ms"] >= 0
    rollup = next(r for r in runs if r["task"] == "db-usage-rollup")
    assert rollup["result"]["things"] == 7


async def test_the_daily_cron_runs_its_tasks(worker, auth, db, queue, webhooks):
    await worker.scheduled(tasks.DAILY)
    runs, _ = await history(worker, limit=100)
    by_task = {r["task"]: r for r in runs}
    assert set(by_task) == {t.name for t in tasks.tasks_of(tasks.DAILY)}
    for name in by_task:
        assert by_task[name]["status"] == "succeeded", by_task[name]
    # webhooks' processed events past their retention, as schedule's own principal holding webhooks:maintain
    ((method, principal, args),) = webhooks.calls
    assert (method, args) == ("purge_events", {"older_than_days": tasks.EVENT_DAYS})
    assert principal["id"] == "svc_schedule"
    assert "webhooks:maintain" in principal["permissions"]
    assert by_task["webhooks-purge-events"]["result"]["events"] == 3
    assert ("remove_expired", {"scope": "api_keys"}) in [(c[0], c[2]) for c in auth.calls]
    assert [c[0] for c in db.calls] == ["purge_audit_log"]
    # queue's dead letters past their retention, as schedule's own principal holding queue:maintain
    ((method, principal, args),) = queue.calls
    assert (method, args) == ("purge_dead_letters", {"older_than_days": tasks.DEAD_LETTER_DAYS})
    assert principal["id"] == "svc_schedule"
    assert "queue:maintain" in principal["permissions"]
    assert "*" not in principal["permissions"]
    assert by_task["queue-purge-dead-letters"]["result"]["dead_letters"] == 2


async def test_without_the_queue_binding_its_task_is_skipped_saying_so(tmp_path, bindings, queue):
    unbound = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings | {"QUEUE_SERVICE": None})
    await unbound.scheduled(tasks.DAILY)
    (run,) = (await history(unbound, task="queue-purge-dead-letters"))[0]
    assert (run["status"], run["reason"], run["attempts"]) == ("skipped", "queue not bound", 0)
    assert queue.calls == []


async def test_every_5_minutes_webhooks_retries_its_failed_events(worker, webhooks):
    await worker.scheduled(tasks.EVERY_5_MINUTES)
    assert [(c[0], c[2]) for c in webhooks.calls if c[0] != "fetch"] == [("retry_failed", {})]
    assert "webhooks:maintain" in webhooks.calls[-1][1]["permissions"]
    (run,) = (await history(worker, task="webhooks-retry-failed"))[0]
    assert (run["status"], run["result"]["retried"]) == ("succeeded", ["whe_1"])
    (skipped,) = (await history(worker, task="email-retry-failed"))[0]
    assert (skipped["status"], skipped["reason"], skipped["attempts"]) == ("skipped", "email not bound", 0)


async def test_without_the_webhooks_binding_its_tasks_are_skipped_saying_so(tmp_path, bindings, webhooks):
    unbound = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings | {"WEBHOOKS_SERVICE": None})
    await unbound.scheduled(tasks.DAILY)
    (run,) = (await history(unbound, task="webhooks-purge-events"))[0]
    assert (run["status"], run["reason"], run["attempts"]) == ("skipped", "webhooks not bound", 0)
    assert webhooks.calls == []


def test_webhooks_is_bound_in_every_environment():
    for environment, name in (
        (None, "webhooks"),
        ("staging", "webhooks-staging"),
        ("development", "webhooks-development"),
    ):
        services = {s.binding: s.service for s in load_worker(ROOT, environment=environment).services}
        assert services["WEBHOOKS_SERVICE"] == name, environment
    assert "EMAIL_SERVICE" not in services  # email offers no retry_failed yet: its task is skipped


async def test_the_weekly_cron_prunes_deploys_bundles(worker, deploy, db):
    await worker.scheduled(tasks.WEEKLY)
    assert [c[0] for c in deploy.calls] == ["prune_bundles"]
    assert deploy.calls[0][2] == {"keep": tasks.KEEP_DEPLOYMENTS}
    assert db.calls == []


async def test_the_health_check_fails_after_its_retries_when_a_service_is_down(worker, db, deploy):
    deploy.healthy = False
    await worker.scheduled(tasks.EVERY_5_MINUTES)
    runs, _ = await history(worker, task="health-check-services")
    (run,) = runs
    assert (run["status"], run["attempts"]) == ("failed", 3)
    assert "SERVICES_UNHEALTHY" in run["error"]
    assert "deploy" in run["error"]
    assert len([c for c in db.calls if c[0] == "fetch"]) == 3


@pytest.mark.parametrize("name", ["queue", "webhooks"])
async def test_the_health_check_asks_every_bound_platform_service(worker, request, name):
    service = request.getfixturevalue(name)
    service.healthy = False
    await worker.scheduled(tasks.EVERY_5_MINUTES)
    runs, _ = await history(worker, task="health-check-services")
    (run,) = runs
    assert run["status"] == "failed"
    assert f"not healthy: {name}" in run["error"]
    assert len([c for c in service.calls if c[0] == "fetch"]) == 3


async def test_a_cron_with_no_task_runs_nothing(worker, auth, db, deploy):
    await worker.scheduled("1 2 3 4 5")
    _, meta = await history(worker)
    assert meta["total"] == 0
    assert db.calls == deploy.calls == []
