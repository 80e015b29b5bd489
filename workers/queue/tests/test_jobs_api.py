"""The producer API: enqueueing typed jobs (RPC, HTTP, MCP), idempotency keys, job status, who sees what."""

import pytest
from conftest import ADMIN, ADMIN_P, NOBODY, OTHER, QUEUE, READER, WRITER, WRITER_P, enqueue

from dotdo_dev.testing import envelope, mcp_call, rpc_fails
from shared.principals import service_principal

EMAIL = {"to": ["ada@example.com"], "subject": "Receipt", "text": "Thank you."}
HOOK = {"url": "https://hooks.example.com/in", "event": "order.paid", "data": {"order": 7}}


async def test_health_is_public(worker):
    reply = await worker.fetch("/health")
    assert reply.status == 200
    assert (await envelope(reply))["data"]["service"] == "queue"


async def test_enqueue_records_the_job_and_sends_its_message(worker):
    reply = await enqueue(worker, WRITER, "webhook-delivery", HOOK)
    assert reply.status == 201
    job = (await envelope(reply))["data"]
    assert (job["type"], job["status"], job["attempts"], job["created_by"]) == (
        "webhook-delivery",
        "queued",
        0,
        "usr_writer",
    )
    assert job["payload"] == HOOK
    assert "request_hash" not in job
    assert "lease_until" not in job
    (message,) = worker.isolate.queue_store.messages(QUEUE)
    assert (message["body"]["id"], message["body"]["type"], message["body"]["data"]) == (
        job["id"],
        "webhook-delivery",
        HOOK,
    )
    status = await envelope(await worker.fetch(f"/jobs/{job['id']}", headers=WRITER))
    assert status["data"]["status"] == "queued"


async def test_a_delay_holds_the_message_back(worker, clock):
    job = (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL, delay_seconds=600)))["data"]
    (message,) = worker.isolate.queue_store.messages(QUEUE)
    assert message["visible_at"] - clock.now == pytest.approx(600)
    assert job["delay_seconds"] == 600
    assert await worker.deliver_queue(QUEUE) == 0  # not due yet


async def test_the_same_idempotency_key_twice_is_one_job_and_one_message(worker):
    first = await enqueue(worker, WRITER, "send-email", EMAIL, idempotency_key="order-7-receipt")
    again = await enqueue(worker, WRITER, "send-email", EMAIL, idempotency_key="order-7-receipt")
    assert (first.status, again.status) == (201, 200)
    one, two = (await envelope(first))["data"], (await envelope(again))["data"]
    assert one["id"] == two["id"]
    assert (one["duplicate"], two["duplicate"]) == (False, True)
    assert len(worker.isolate.queue_store.messages(QUEUE)) == 1
    # over RPC, as another service would call it: the same job again
    same = await worker.rpc(
        "enqueue", WRITER_P, {"type": "send-email", "payload": EMAIL, "idempotency_key": "order-7-receipt"}
    )
    assert same["id"] == one["id"]
    assert len(worker.isolate.queue_store.messages(QUEUE)) == 1


async def test_an_idempotency_key_reused_for_another_request_is_a_conflict(worker):
    await enqueue(worker, WRITER, "send-email", EMAIL, idempotency_key="k1")
    reply = await enqueue(worker, WRITER, "send-email", EMAIL | {"subject": "Other"}, idempotency_key="k1")
    assert reply.status == 409
    assert (await envelope(reply))["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(worker.isolate.queue_store.messages(QUEUE)) == 1


async def test_idempotency_keys_are_per_caller(worker):
    mine = (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL, idempotency_key="k")))["data"]
    theirs = (await envelope(await enqueue(worker, OTHER, "send-email", EMAIL, idempotency_key="k")))["data"]
    assert mine["id"] != theirs["id"]
    assert not theirs["duplicate"]


async def test_a_send_that_fails_leaves_no_job_behind(worker):
    class Broken:
        async def send(self, *args, **kwargs):
            raise RuntimeError("queue down")

    worker.env.JOBS = Broken()
    reply = await enqueue(worker, WRITER, "send-email", EMAIL, idempotency_key="retry-me")
    assert reply.status == 503
    assert (await envelope(reply))["error"]["code"] == "QUEUE_UNAVAILABLE"
    listed = await envelope(await worker.fetch("/jobs", headers=WRITER))
    assert listed["data"] == []


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"type": "no-such-job", "payload": {}}, "UNKNOWN_JOB_TYPE", None),
        (
            {"type": "send-email", "payload": {"to": ["not-an-address"], "subject": "x", "text": "y"}},
            "VALIDATION_ERROR",
            "payload.to",
        ),
        ({"type": "send-email", "payload": {"to": ["a@example.com"], "subject": "x"}}, "VALIDATION_ERROR", "payload"),
        (
            {"type": "webhook-delivery", "payload": {"url": "https://x.example.com", "event": "Bad Event"}},
            "VALIDATION_ERROR",
            "payload.event",
        ),
        ({"type": "send-email", "payload": EMAIL, "delay_seconds": 50_000}, "VALIDATION_ERROR", "delay_seconds"),
        ({"type": "send-email", "payload": EMAIL, "delay_seconds": -1}, "VALIDATION_ERROR", "delay_seconds"),
        ({"type": "send-email", "payload": EMAIL, "priority": 5}, "VALIDATION_ERROR", "priority"),
        (
            {"type": "send-email", "payload": EMAIL, "idempotency_key": "has space"},
            "VALIDATION_ERROR",
            "idempotency_key",
        ),
        ({"type": "send-email", "payload": "not an object"}, "VALIDATION_ERROR", "payload"),
    ],
)
async def test_bad_input_is_400_and_records_nothing(worker, body, code, field):
    reply = await worker.fetch("/jobs", method="POST", headers=WRITER, json=body)
    assert reply.status == 400
    error = (await envelope(reply))["error"]
    assert error["code"] == code
    if field:
        assert any(d["field"].startswith(field) for d in error["details"]), error
    assert worker.isolate.queue_store.messages(QUEUE) == []


async def test_malformed_json_is_400(worker):
    reply = await worker.fetch("/jobs", method="POST", headers=WRITER | {"content-type": "application/json"}, body="{")
    assert reply.status == 400


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/jobs", {}, 401),
        ("GET", "/jobs", {}, 401),
        ("GET", "/jobs", {"authorization": "Bearer wrong"}, 401),
        ("POST", "/jobs", READER, 403),
        ("GET", "/jobs", NOBODY, 403),
        ("GET", "/dead-letters", WRITER, 403),
        ("POST", "/dead-letters/dl_1/replay", WRITER, 403),
        ("POST", "/dead-letters/dl_1/discard", READER, 403),
    ],
)
async def test_who_may_do_what(worker, method, path, headers, status):
    body = {"type": "send-email", "payload": EMAIL} if method == "POST" else None
    reply = await worker.fetch(path, method=method, headers=headers, json=body)
    assert reply.status == status
    assert worker.isolate.queue_store.messages(QUEUE) == []


async def test_rpc_needs_a_principal_with_queue_write(worker):
    assert (await rpc_fails(worker, "enqueue", None, {"type": "send-email", "payload": EMAIL})).status == 401
    reader = service_principal("reports", permissions=("queue:read",))
    assert (await rpc_fails(worker, "enqueue", reader, {"type": "send-email", "payload": EMAIL})).status == 403
    deploy = service_principal("deploy", permissions=("queue:write", "queue:read"))
    notify = {
        "service": "orders",
        "environment": "staging",
        "status": "uploaded",
        "deployment_id": "dep_1",
        "to": ["ops@example.com"],
    }
    job = await worker.rpc("enqueue", deploy, {"type": "deploy-notify", "payload": notify})
    assert (job["type"], job["created_by"]) == ("deploy-notify", "svc_deploy")


async def test_a_caller_sees_its_own_jobs_and_an_admin_every_job(worker):
    mine = (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL)))["data"]
    theirs = (await envelope(await enqueue(worker, OTHER, "send-email", EMAIL)))["data"]
    assert (await worker.fetch(f"/jobs/{theirs['id']}", headers=WRITER)).status == 404
    assert (await worker.fetch(f"/jobs/{mine['id']}", headers=WRITER)).status == 200
    assert (await worker.fetch("/jobs/job_missing", headers=WRITER)).status == 404
    listed = await envelope(await worker.fetch("/jobs", headers=WRITER))
    assert [j["id"] for j in listed["data"]] == [mine["id"]]
    everyone = await envelope(await worker.fetch("/jobs", headers=ADMIN))
    assert {j["id"] for j in everyone["data"]} == {mine["id"], theirs["id"]}


async def test_jobs_are_listed_newest_first_in_pages_and_by_status(worker):
    ids = []
    for n in range(25):
        ids.append(
            (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL | {"subject": f"n{n}"})))["data"]["id"]
        )
    page = await envelope(await worker.fetch("/jobs?limit=10&offset=20", headers=WRITER))
    assert [j["id"] for j in page["data"]] == list(reversed(ids))[20:]
    assert (page["meta"]["total"], page["meta"]["has_more"], page["meta"]["limit"]) == (25, False, 10)
    first = await envelope(await worker.fetch("/jobs?limit=10", headers=WRITER))
    assert [j["id"] for j in first["data"]] == list(reversed(ids))[:10]
    assert first["meta"]["has_more"] is True
    queued = await envelope(await worker.fetch("/jobs?status=queued&limit=1", headers=WRITER))
    assert queued["meta"]["total"] == 25
    done = await envelope(await worker.fetch("/jobs?status=done", headers=WRITER))
    assert (done["data"], done["meta"]["total"]) == ([], 0)
    for query in ("status=finished", "limit=0", "limit=101", "offset=-1"):
        assert (await worker.fetch(f"/jobs?{query}", headers=WRITER)).status == 400


async def test_rpc_http_and_mcp_answer_the_same_job(worker):
    job = await worker.rpc("enqueue", WRITER_P, {"type": "send-email", "payload": EMAIL})
    over_http = (await envelope(await worker.fetch(f"/jobs/{job['id']}", headers=WRITER)))["data"]
    over_rpc = await worker.rpc("get_job", WRITER_P, {"id": job["id"]})
    status, reply = await mcp_call(
        worker, "tools/call", {"name": "queue_get_job", "arguments": {"id": job["id"]}}, headers=WRITER
    )
    assert status == 200
    over_mcp = reply["result"]["structuredContent"]
    assert over_http == over_rpc == over_mcp


async def test_job_types_describe_each_payload(worker):
    types = (await envelope(await worker.fetch("/job-types", headers=READER)))["data"]["types"]
    assert [t["type"] for t in types] == ["deploy-notify", "send-email", "webhook-delivery"]
    assert "url" in next(t for t in types if t["type"] == "webhook-delivery")["payload"]["properties"]
    assert ADMIN_P["permissions"] == ["*"]
