"""schedule on the platform, real processes (dispatcher, auth, db, queue, webhooks, schedule): the cron URLs at
`schedule.do` run exactly that cron's tasks, their effects land in auth's, db's, queue's and webhooks' own
databases (webhooks' housekeeping over WEBHOOKS_SERVICE, as schedule's principal holding webhooks:maintain),
email's task is skipped (not bound), and the history shows each run. deploy is not started here: its binding
reaches nothing, which the health check records as a failure naming it."""

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, ROOT, as_, auth_database, new_key, running_platform

from dotdo_dev.config import load_local
from dotdo_dev.runtime.bindings.d1 import D1Database
from shared.clock import iso_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOURLY, DAILY, EVERY_5_MINUTES = "17 * * * *", "30 3 * * *", "*/5 * * * *"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    services = ("auth", "db", "queue", "webhooks", "schedule")
    async with running_platform(tmp_path_factory.mktemp("state"), *services) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as client:
        yield client


def database_of(platform, worker: str) -> D1Database:
    (database,) = load_local(ROOT / "workers" / worker).d1_databases
    return D1Database(platform.state.d1(database.database_id))


def db_database(platform) -> D1Database:
    return database_of(platform, "db")


async def history(http, **query) -> dict:
    reply = await http.get("/history", params=query | {"limit": 100}, headers=as_(BOOTSTRAP, "schedule.do"))
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_the_cron_url_runs_exactly_the_hourly_tasks_and_auth_loses_its_expired_states(http, platform):
    auth_db = auth_database(platform)
    assert (await http.get("/me", headers=as_(BOOTSTRAP, "auth.do"))).status_code == 200  # auth's schema made
    await (
        auth_db.prepare(
            "INSERT INTO oauth_states (id, redirect_uri, expires_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
        )
        .bind("st_e2e_old", "https://app.do", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z")
        .run()
    )

    fired = await http.get("/cdn-cgi/handler/scheduled", params={"cron": HOURLY}, headers={"host": "schedule.do"})
    assert fired.status_code == 200, fired.text

    body = await history(http)
    runs = body["data"]
    assert sorted(r["task"] for r in runs) == ["auth-expire-sessions", "db-usage-rollup"]
    for run in runs:
        assert (run["status"], run["trigger"], run["cron"], run["attempts"]) == ("succeeded", "cron", HOURLY, 1), run
    expired = next(r for r in runs if r["task"] == "auth-expire-sessions")
    assert expired["result"]["oauth_states"] == 1
    left = await auth_db.prepare("SELECT id FROM oauth_states WHERE id = ?").bind("st_e2e_old").all()
    assert left["results"] == []


async def test_scheduled_runs_the_daily_tasks_and_purges_db_queue_and_webhooks(http, platform):
    key = await new_key(platform, ["db:read", "db:write"])
    thing = {"ns": "e2e", "id": "n1", "type": "Note", "content": "hello"}
    assert (await http.post("/things", json=thing, headers=as_(key, "db.do"))).status_code == 201
    db = db_database(platform)
    await (
        db.prepare(
            "INSERT INTO audit_log (id, actor, action, target, details, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        .bind("aud_e2e_old", "usr_x", "sql", "things", "{}", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z")
        .run()
    )

    # a dead letter recorded 40 days ago, and its job still dead; one of yesterday stays
    assert (await http.get("/jobs", headers=as_(BOOTSTRAP, "queue.do"))).status_code == 200  # queue's schema made
    queue_db = database_of(platform, "queue")
    old, recent = "2020-01-01T00:00:00Z", iso_in(-86400)
    for letter, job, created in (("dl_e2e_old", "job_e2e_old", old), ("dl_e2e_new", "job_e2e_new", recent)):
        await (
            queue_db.prepare(
                "INSERT INTO jobs (id, type, payload, status, request_hash, dead_letter_id, created_at, updated_at) "
                "VALUES (?, 'send-email', '{}', 'dead', 'h', ?, ?, ?)"
            )
            .bind(job, letter, created, created)
            .run()
        )
        await (
            queue_db.prepare(
                "INSERT INTO dead_letters (id, message_id, job_id, type, reason, status, created_at, updated_at) "
                "VALUES (?, ?, ?, 'send-email', 'RETRIES_EXHAUSTED', 'dead', ?, ?)"
            )
            .bind(letter, f"msg_{letter}", job, created, created)
            .run()
        )

    # webhooks: an event done in 2020 goes; one done yesterday and one failed in 2020 stay
    assert (await http.get("/events", headers=as_(BOOTSTRAP, "webhooks.do"))).status_code == 200  # schema made
    webhooks_db = database_of(platform, "webhooks")
    for event, status, moment in (
        ("whe_e2e_old", "done", old),
        ("whe_e2e_new", "done", recent),
        ("whe_e2e_failed", "failed", old),
    ):
        processed = moment if status == "done" else None
        await (
            webhooks_db.prepare(
                "INSERT INTO events (id, provider, event_id, type, status, payload, processed_at, created_at, "
                "updated_at) VALUES (?, 'github', ?, 'ping', ?, '{}', ?, ?, ?)"
            )
            .bind(event, f"d-{event}", status, processed, moment, moment)
            .run()
        )

    fired = await http.get("/__scheduled", params={"cron": DAILY}, headers={"host": "schedule.do"})
    assert fired.status_code == 200, fired.text

    runs = {r["task"]: r for r in (await history(http, cron=DAILY))["data"]}
    assert set(runs) == {
        "auth-purge-api-keys",
        "db-purge-audit-log",
        "webhooks-purge-events",
        "queue-purge-dead-letters",
        "schedule-prune-history",
    }
    for name in ("auth-purge-api-keys", "db-purge-audit-log", "schedule-prune-history", "webhooks-purge-events"):
        assert runs[name]["status"] == "succeeded", runs[name]
    assert runs["webhooks-purge-events"]["result"]["events"] == 1
    kept = await webhooks_db.prepare("SELECT id FROM events ORDER BY id").all()
    assert [row["id"] for row in kept["results"]] == ["whe_e2e_failed", "whe_e2e_new"]
    assert runs["queue-purge-dead-letters"]["status"] == "succeeded", runs["queue-purge-dead-letters"]
    assert runs["queue-purge-dead-letters"]["result"]["dead_letters"] == 1
    left = await queue_db.prepare("SELECT id FROM dead_letters ORDER BY id").all()
    assert [row["id"] for row in left["results"]] == ["dl_e2e_new"]
    jobs = await queue_db.prepare("SELECT id, status FROM jobs ORDER BY id").all()
    assert [(row["id"], row["status"]) for row in jobs["results"]] == [
        ("job_e2e_new", "dead"),
        ("job_e2e_old", "discarded"),
    ]
    assert runs["db-purge-audit-log"]["result"]["audit_log"] == 1
    gone = await db.prepare("SELECT id FROM audit_log WHERE id = ?").bind("aud_e2e_old").all()
    assert gone["results"] == []
    # the hourly runs of the test before are still there: the daily cron ran only its own tasks
    assert (await history(http, cron=HOURLY))["meta"]["total"] == 2


async def test_the_health_check_fails_naming_the_service_that_does_not_answer(http):
    fired = await http.get("/__scheduled", params={"cron": EVERY_5_MINUTES}, headers={"host": "schedule.do"})
    assert fired.status_code == 200
    (run,) = (await history(http, task="health-check-services"))["data"]
    assert run["status"] == "failed"
    assert "deploy" in run["error"]
    assert run["attempts"] >= 2  # retried with backoff before it was recorded failed
    # webhooks sent the event failed in 2020 back to its queue; email's task is skipped, not faked
    (retry,) = (await history(http, task="webhooks-retry-failed"))["data"]
    assert (retry["status"], retry["result"]["retried"]) == ("succeeded", ["whe_e2e_failed"]), retry
    (email,) = (await history(http, task="email-retry-failed"))["data"]
    assert (email["status"], email["reason"]) == ("skipped", "email not bound")


async def test_the_api_needs_a_key_and_schedule_permissions(http, platform):
    assert (await http.get("/history", headers={"host": "schedule.do"})).status_code == 401
    reader = await new_key(platform, ["db:read"])
    refused = await http.post("/tasks/db-usage-rollup/run", json={}, headers=as_(reader, "schedule.do"))
    assert refused.status_code == 403
    ran = await http.post("/tasks/db-usage-rollup/run", json={}, headers=as_(BOOTSTRAP, "schedule.do"))
    assert ran.status_code == 200, ran.text
    assert (ran.json()["data"]["trigger"], ran.json()["data"]["status"]) == ("manual", "succeeded")
    listed = await http.get("/tasks", headers=as_(BOOTSTRAP, "schedule.do"))
    assert {t["name"]: t["last_run"]["id"] for t in listed.json()["data"] if t["last_run"]}["db-usage-rollup"] == (
        ran.json()["data"]["id"]
    )
