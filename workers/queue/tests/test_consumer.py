"""The consumer: invalid messages dead-lettered at once with the reason, failures retried with backoff until
the dead-letter queue, dead letters replayed after the cause is fixed or discarded, effects exactly once."""

import pytest
from conftest import ADMIN, DLQ, QUEUE, WRITER, drain, enqueue
from pydantic import BaseModel

import consumer
import jobs
from dotdo_dev.testing import envelope
from jobs import JOB_TYPES, JobFailed

EMAIL = {"to": ["ada@example.com"], "subject": "Receipt", "text": "Thank you."}


class Flaky(BaseModel):
    name: str


class Effects:
    """A test job type `flaky-test`: fails while `broken`, else records its effect once per run."""

    def __init__(self) -> None:
        self.broken = False
        self.runs: list[str] = []
        self.effects: list[str] = []

    async def handler(self, run: jobs.Run) -> dict:
        self.runs.append(run.job["id"])
        if self.broken:
            raise RuntimeError("the target is down")
        self.effects.append(run.job["id"])
        return {"effect": run.payload.name}


@pytest.fixture
def flaky():
    effects = Effects()
    JOB_TYPES.job("flaky-test", Flaky)(effects.handler)
    yield effects
    JOB_TYPES.remove("flaky-test")


async def job_of(worker, job_id):
    return (await envelope(await worker.fetch(f"/jobs/{job_id}", headers=ADMIN)))["data"]


async def dead_letters(worker, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return (await envelope(await worker.fetch(f"/dead-letters?{qs}", headers=ADMIN)))["data"]


async def test_a_job_runs_once_and_is_done(worker, clock, flaky):
    job = (await envelope(await enqueue(worker, WRITER, "flaky-test", {"name": "a"})))["data"]
    await drain(worker, clock)
    done = await job_of(worker, job["id"])
    assert (done["status"], done["attempts"], done["result"]) == ("done", 1, {"effect": "a"})
    assert done["completed_at"]
    assert flaky.effects == [job["id"]]


async def test_a_redelivered_message_of_a_done_job_is_acked_without_a_second_effect(worker, clock, flaky):
    job = (await envelope(await enqueue(worker, WRITER, "flaky-test", {"name": "a"})))["data"]
    (message,) = worker.isolate.queue_store.messages(QUEUE)
    await drain(worker, clock)
    # at-least-once delivery: the same message comes again (its ack was lost), twice
    await worker.env.JOBS.send(message["body"])
    await worker.env.JOBS.send(message["body"])
    await drain(worker, clock)
    assert flaky.effects == [job["id"]]
    assert (await job_of(worker, job["id"]))["attempts"] == 1
    assert worker.isolate.queue_store.pending(QUEUE) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"nonsense": True}, "INVALID_MESSAGE"),
        ("just text", "INVALID_MESSAGE"),
        ({"id": "job_x", "type": "no-such-type", "data": {}, "timestamp": "2026-12-02T00:00:00Z"}, "UNKNOWN_JOB_TYPE"),
        (
            {"id": "job_x", "type": "send-email", "data": {"to": "nobody"}, "timestamp": "2026-12-02T00:00:00Z"},
            "INVALID_PAYLOAD",
        ),
        (
            {"id": "job_never_enqueued", "type": "send-email", "data": EMAIL, "timestamp": "2026-12-02T00:00:00Z"},
            "UNKNOWN_JOB",
        ),
    ],
)
async def test_an_invalid_message_is_dead_lettered_at_once_with_its_reason(worker, clock, body, reason):
    await worker.env.JOBS.send(body)
    assert await worker.deliver_queue(QUEUE) == 1  # one delivery: no retry loop
    assert worker.isolate.queue_store.pending(QUEUE) == 0
    (letter,) = await dead_letters(worker)
    assert (letter["reason"], letter["status"], letter["attempts"]) == (reason, "dead", 1)
    assert letter["error"]
    assert letter["body"] == body


async def test_a_payload_its_type_no_longer_accepts_dead_letters_the_job_and_a_corrected_replay_runs(
    worker, clock, flaky
):
    job = (await envelope(await enqueue(worker, WRITER, "flaky-test", {"name": "a"})))["data"]
    (message,) = worker.isolate.queue_store.messages(QUEUE)
    worker.isolate.queue_store._conn.execute("DELETE FROM messages")
    await worker.env.JOBS.send(message["body"] | {"data": {"name": 5}})  # what a newer schema rejects
    await drain(worker, clock)
    dead = await job_of(worker, job["id"])
    assert (dead["status"], dead["error_code"]) == ("dead", "INVALID_PAYLOAD")
    assert "name" in dead["last_error"]
    assert flaky.runs == []
    replay = await worker.fetch(
        f"/dead-letters/{dead['dead_letter_id']}/replay",
        method="POST",
        headers=ADMIN,
        json={"payload": {"name": "fixed"}},
    )
    assert replay.status == 200
    await drain(worker, clock)
    done = await job_of(worker, job["id"])
    assert (done["status"], done["result"]) == ("done", {"effect": "fixed"})


async def test_a_job_failing_every_time_is_retried_with_backoff_then_dead_lettered_and_replayed_after_a_fix(
    worker, clock, flaky
):
    flaky.broken = True
    job = (await envelope(await enqueue(worker, WRITER, "flaky-test", {"name": "a"})))["data"]
    store = worker.isolate.queue_store
    delays = []
    for _ in range(4):  # max_retries 3: four deliveries
        assert await worker.deliver_queue(QUEUE) == 1
        waiting = store.messages(QUEUE)
        if waiting:
            delays.append(round(waiting[0]["visible_at"] - clock.now))
            retrying = await job_of(worker, job["id"])
            assert (retrying["status"], retrying["error_code"]) == ("retrying", "HANDLER_ERROR")
            clock.advance(delays[-1])
    assert delays == [1, 2, 4]  # RETRY_BASE_SECONDS=1, doubled per try
    assert store.pending(QUEUE) == 0
    assert store.pending(DLQ) == 1  # the queue moved it to the dead-letter queue
    await drain(worker, clock)
    dead = await job_of(worker, job["id"])
    assert (dead["status"], dead["attempts"]) == ("dead", 4)
    assert "the target is down" in dead["last_error"]
    (letter,) = await dead_letters(worker, status="dead")
    assert (letter["reason"], letter["job_id"], letter["attempts"]) == ("RETRIES_EXHAUSTED", job["id"], 4)
    assert "RuntimeError: the target is down" in letter["error"]
    assert flaky.effects == []
    # the cause is fixed; the replay runs the job again and it succeeds
    flaky.broken = False
    replayed = await envelope(
        await worker.fetch(f"/dead-letters/{letter['id']}/replay", method="POST", headers=ADMIN, json={})
    )
    assert replayed["data"]["dead_letter"]["status"] == "replayed"
    assert replayed["data"]["job"]["status"] == "queued"
    await drain(worker, clock)
    done = await job_of(worker, job["id"])
    assert (done["status"], done["attempts"], done["last_error"]) == ("done", 5, None)
    assert flaky.effects == [job["id"]]
    again = await worker.fetch(f"/dead-letters/{letter['id']}/replay", method="POST", headers=ADMIN, json={})
    assert again.status == 409


async def test_a_job_needing_the_missing_email_service_fails_for_good_and_runs_once_it_is_bound(worker, clock):
    del worker.env.EMAIL_SERVICE  # wrangler.jsonc binds it; a deployment without the binding:
    job = (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL)))["data"]
    await drain(worker, clock)
    dead = await job_of(worker, job["id"])
    assert (dead["status"], dead["error_code"], dead["attempts"]) == ("dead", "EMAIL_SERVICE_UNAVAILABLE", 1)
    (letter,) = await dead_letters(worker)
    assert letter["reason"] == "EMAIL_SERVICE_UNAVAILABLE"

    class Email:
        sent = []

        async def send(self, principal, message):
            self.sent.append((principal["id"], message))
            return {"id": "eml_1", "status": "queued"}

    worker.env.EMAIL_SERVICE = email = Email()
    assert (
        await worker.fetch(f"/dead-letters/{letter['id']}/replay", method="POST", headers=ADMIN, json={})
    ).status == 200
    await drain(worker, clock)
    done = await job_of(worker, job["id"])
    assert (done["status"], done["result"]) == ("done", {"email": {"id": "eml_1", "status": "queued"}})
    ((sender, message),) = email.sent
    assert sender == "svc_queue"
    assert (message["to"], message["idempotency_key"]) == (["ada@example.com"], job["id"])


async def test_the_email_service_is_bound_and_a_send_while_it_is_not_running_is_retried(worker, clock):
    assert "EMAIL_SERVICE" in vars(worker.env)  # wrangler.jsonc: email (email-staging, email-development)
    job = (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL)))["data"]
    await drain(worker, clock)
    dead = await job_of(worker, job["id"])
    assert (dead["status"], dead["error_code"], dead["attempts"]) == ("dead", "RETRIES_EXHAUSTED", 4)
    assert dead["last_error"] == "email: The email service failed"  # a 5xx: retried, then dead


async def test_a_deploy_notification_is_mailed_through_the_email_service(worker, clock):
    class Email:
        async def send(self, principal, message):
            self.message = message
            return {"id": "eml_2"}

    worker.env.EMAIL_SERVICE = email = Email()
    notify = {
        "service": "orders",
        "environment": "production",
        "status": "rolled_back",
        "deployment_id": "dep_9",
        "to": ["ops@example.com"],
    }
    job = (await envelope(await enqueue(worker, WRITER, "deploy-notify", notify)))["data"]
    await drain(worker, clock)
    assert (await job_of(worker, job["id"]))["status"] == "done"
    assert email.message["subject"] == "[production] orders: deployment rolled back"
    assert "Deployment: dep_9" in email.message["text"]


async def test_a_failure_the_handler_calls_final_is_dead_lettered_without_retries(worker, clock, flaky):
    async def refuse(run):
        raise JobFailed("NOT_ALLOWED", "the target refused the job")

    JOB_TYPES.remove("flaky-test")
    JOB_TYPES.job("flaky-test", Flaky)(refuse)
    job = (await envelope(await enqueue(worker, WRITER, "flaky-test", {"name": "a"})))["data"]
    assert await worker.deliver_queue(QUEUE) == 1
    dead = await job_of(worker, job["id"])
    assert (dead["status"], dead["error_code"], dead["last_error"]) == (
        "dead",
        "NOT_ALLOWED",
        "the target refused the job",
    )


async def test_a_discarded_dead_letter_and_its_job_never_run(worker, clock, flaky):
    flaky.broken = True
    job = (await envelope(await enqueue(worker, WRITER, "flaky-test", {"name": "a"})))["data"]
    await drain(worker, clock)
    (letter,) = await dead_letters(worker)
    reply = await worker.fetch(f"/dead-letters/{letter['id']}/discard", method="POST", headers=ADMIN, json={})
    assert (await envelope(reply))["data"]["status"] == "discarded"
    assert (await job_of(worker, job["id"]))["status"] == "discarded"
    assert (
        await worker.fetch(f"/dead-letters/{letter['id']}/replay", method="POST", headers=ADMIN, json={})
    ).status == 409
    assert (
        await worker.fetch(f"/dead-letters/{letter['id']}/discard", method="POST", headers=ADMIN, json={})
    ).status == 409
    assert (await worker.fetch("/dead-letters/dl_missing/discard", method="POST", headers=ADMIN, json={})).status == 404
    assert await dead_letters(worker, status="dead") == []


async def test_a_dead_letter_without_a_job_can_only_be_discarded(worker, clock):
    await worker.env.JOBS.send({"nonsense": True})
    await drain(worker, clock)
    (letter,) = await dead_letters(worker)
    reply = await worker.fetch(f"/dead-letters/{letter['id']}/replay", method="POST", headers=ADMIN, json={})
    assert (reply.status, (await envelope(reply))["error"]["code"]) == (409, "NOT_REPLAYABLE")


async def test_the_dead_letter_queue_records_a_message_once_though_delivered_twice(worker, clock, flaky):
    flaky.broken = True
    await enqueue(worker, WRITER, "flaky-test", {"name": "a"})
    for _ in range(4):
        await worker.deliver_queue(QUEUE)
        clock.advance(3600)
    (message,) = worker.isolate.queue_store.messages(DLQ)
    delivered = type("Message", (), {"id": message["id"], "body": message["body"], "attempts": 1})()
    assert await consumer.record_exhausted(worker.env, delivered) == ("dead_letter", None)
    assert await consumer.record_exhausted(worker.env, delivered) == ("dead_letter", None)  # at least once
    await drain(worker, clock)  # and the queue's own delivery of it
    assert len(await dead_letters(worker)) == 1


async def test_storage_failure_retries_the_message_instead_of_acking_it(worker, clock, flaky, monkeypatch):
    await enqueue(worker, WRITER, "flaky-test", {"name": "a"})

    async def down(*args, **kwargs):
        raise RuntimeError("D1_ERROR: storage down")

    monkeypatch.setattr("store.get_job", down)
    assert await worker.deliver_queue(QUEUE) == 1
    assert worker.isolate.queue_store.pending(QUEUE) == 1  # retried, not lost
    monkeypatch.undo()
    await drain(worker, clock)
    assert len(flaky.effects) == 1


def test_backoff_doubles_from_the_base_up_to_an_hour():
    from shared.queues import retry_delay

    env = type("Env", (), {"RETRY_BASE_SECONDS": "30"})()
    assert [retry_delay(env, n) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]
    assert retry_delay(type("Env", (), {"RETRY_BASE_SECONDS": "5"})(), 2) == 10
    assert retry_delay(type("Env", (), {})(), 1) == 30


async def test_the_migrations_make_the_tables_as_declared(worker):
    from tables import TABLES

    await worker.fetch("/jobs", headers=ADMIN)  # the first open migrates
    for name, spec in TABLES.items():
        rows = (await worker.env.QUEUE_DB.prepare(f'PRAGMA table_info("{name}")').all())["results"]
        assert {row["name"] for row in rows} == set(spec.all_columns), name
