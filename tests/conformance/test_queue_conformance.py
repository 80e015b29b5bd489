"""queue's bundle under real Pyodide with Cloudflare's SDK (see test_conformance.py for the harness): a job
enqueued over RPC (its D1 insert and the queue binding's send with `delaySeconds`), and the `queue` handler
called as workerd calls it: invalid messages are acknowledged as dead letters, not retried; a message of the
dead-letter queue is recorded and acknowledged."""

from pathlib import Path

import pytest

from dotdo_dev.build import build
from dotdo_dev.conformance import check
from dotdo_dev.testing import copy_repo

ROOT = Path(__file__).resolve().parents[2]
QUEUE = ROOT / "workers" / "queue"
SECRETS = {"WEBHOOK_SIGNING_SECRET": "conformance-webhook-secret-0123456789abcdef"}
WRITER = {"id": "svc_deploy", "type": "service", "role": "service", "permissions": ["queue:write"]}
EMAIL = {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    repo = copy_repo(ROOT, tmp_path_factory.mktemp("repo"))
    return build(repo, repo / "workers" / "queue", tmp_path_factory.mktemp("queue") / "bundle").outdir


def test_a_job_is_enqueued_over_rpc_under_pyodide(bundle):
    request = {"type": "send-email", "payload": EMAIL, "delay_seconds": 30, "idempotency_key": "conformance-1"}
    result = check(ROOT, QUEUE, bundle=bundle, secrets=SECRETS, rpc=("enqueue", [WRITER, request]))
    assert result.ok, result.error
    assert (result.rpc["type"], result.rpc["status"], result.rpc["delay_seconds"]) == ("send-email", "queued", 30)
    assert result.rpc["created_by"] == "svc_deploy"
    assert result.rpc["duplicate"] is False


def test_the_consumer_dead_letters_invalid_messages_at_once_under_pyodide(bundle):
    unknown_job = {"id": "job_never_enqueued", "type": "send-email", "data": EMAIL, "timestamp": "2026-12-02T00:00:00Z"}
    bad_payload = {"id": "job_x", "type": "webhook-delivery", "data": {"url": 5}, "timestamp": "2026-12-02T00:00:00Z"}
    messages = [
        {"id": "m1", "body": {"nonsense": True}, "attempts": 1},
        {"id": "m2", "body": unknown_job, "attempts": 1},
        {"id": "m3", "body": bad_payload, "attempts": 2},
    ]
    result = check(ROOT, QUEUE, bundle=bundle, secrets=SECRETS, queue={"queue": "queue-jobs", "messages": messages})
    assert result.ok, result.error
    assert sorted(result.settled["acked"]) == ["m1", "m2", "m3"]  # recorded as dead letters, no retry loop
    assert result.settled["retried"] == []


def test_the_dead_letter_queue_consumer_records_and_acks_under_pyodide(bundle):
    exhausted = {"id": "job_gone", "type": "send-email", "data": EMAIL, "timestamp": "2026-12-02T00:00:00Z"}
    messages = [{"id": "d1", "body": exhausted, "attempts": 1}, {"id": "d2", "body": "not even json", "attempts": 1}]
    result = check(ROOT, QUEUE, bundle=bundle, secrets=SECRETS, queue={"queue": "queue-jobs-dlq", "messages": messages})
    assert result.ok, result.error
    assert sorted(result.settled["acked"]) == ["d1", "d2"]
    assert result.settled["retried"] == []
