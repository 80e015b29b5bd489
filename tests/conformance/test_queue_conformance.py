"""queue's bundle under real Pyodide with Cloudflare's SDK (see test_conformance.py for the harness): a job
enqueued over RPC (its D1 insert and the queue binding's send with `delaySeconds`), and the `queue` handler
called as workerd calls it: invalid messages are acknowledged as dead letters, not retried; a message of the
dead-letter queue is recorded and acknowledged. A webhook-delivery job enqueued over RPC is consumed from what
the worker sent to its queue (`queue={"from_sent": "JOBS"}`) and really posted, with JavaScript `fetch`
(`redirect: "manual"`), to a receiver on 127.0.0.1 (allowed by the local flag `WEBHOOK_ALLOW_LOOPBACK`): done
and signed; a redirect to the metadata address is refused at that hop and recorded."""

import hashlib
import hmac
import http.server
import json
import threading
import time
from pathlib import Path

import pytest

from dotdo_dev.conformance import check

ROOT = Path(__file__).resolve().parents[2]
QUEUE = ROOT / "workers" / "queue"
SECRETS = {"WEBHOOK_SIGNING_SECRET": "conformance-webhook-secret-0123456789abcdef"}
WRITER = {"id": "svc_deploy", "type": "service", "role": "service", "permissions": ["queue:write"]}
EMAIL = {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi"}


JOBS = "SELECT id, status, attempts, result, error_code, last_error, dead_letter_id FROM jobs"
DEAD_LETTERS = "SELECT id, job_id, reason, error, status FROM dead_letters"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """A receiver's check of `X-Dotdo-Signature`, as workers/queue/README.md gives it."""
    fields = dict(item.split("=", 1) for item in header.split(","))
    t, sent = int(fields["t"]), fields["v1"]
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - t) <= tolerance and hmac.compare_digest(expected, sent)


class Receiver:
    """A webhook receiver on 127.0.0.1 in a thread of the test process (the worker runs in Node): records each
    request (path, headers, body) and answers `status` (with `location`, a redirect)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status, self.location = 200, None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("location", receiver.location)
                self.send_header("content-length", "8")
                self.end_headers()
                self.wfile.write(b"received")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver():
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def deliver_webhook(bundle, url: str):
    """Enqueue a webhook-delivery over RPC, then run the queue handler on what the worker sent to `JOBS`."""
    request = {"type": "webhook-delivery", "payload": {"url": url, "event": "order.paid", "data": {"order": 7}}}
    return check(
        ROOT,
        QUEUE,
        bundle=bundle,
        secrets=SECRETS | {"WEBHOOK_ALLOW_LOOPBACK": "1"},  # as workers/queue/.dev.vars gives it locally
        rpc=("enqueue", [WRITER, request]),
        queue={"from_sent": "JOBS"},
        inspect={"jobs": ("QUEUE_DB", JOBS), "dead_letters": ("QUEUE_DB", DEAD_LETTERS)},
    )


@pytest.fixture(scope="module")
def bundle(bundles):
    return bundles(QUEUE)


def test_a_job_is_enqueued_over_rpc_under_pyodide(bundle):
    request = {"type": "send-email", "payload": EMAIL, "delay_seconds": 30, "idempotency_key": "conformance-1"}
    result = check(ROOT, QUEUE, bundle=bundle, secrets=SECRETS, rpc=("enqueue", [WRITER, request]))
    assert result.ok, result.error
    assert (result.rpc["type"], result.rpc["status"], result.rpc["delay_seconds"]) == ("send-email", "queued", 30)
    assert result.rpc["created_by"] == "svc_deploy"
    assert result.rpc["duplicate"] is False
    ((sent,),) = result.sent.values()  # JOBS's send, with the delay as Cloudflare's option
    assert (sent["body"]["id"], sent["options"]) == (result.rpc["id"], {"delaySeconds": 30})


def test_from_sent_must_name_a_queue_producer_binding(bundle):
    with pytest.raises(ValueError, match="'QUEUE_DB' is not a queue producer binding of queue"):
        check(ROOT, QUEUE, bundle=bundle, queue={"from_sent": "QUEUE_DB"})


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


def test_a_webhook_job_enqueued_over_rpc_is_delivered_signed_and_done_under_pyodide(bundle, receiver):
    result = deliver_webhook(bundle, receiver.url)
    assert result.ok, result.error
    job_id = result.rpc["id"]
    ((sent,),) = result.sent.values()  # one message, sent by the rpc stage: the queue stage's batch
    assert (sent["body"]["id"], sent["body"]["type"], sent["options"]) == (
        job_id,
        "webhook-delivery",
        {"delaySeconds": 0},
    )
    assert (result.settled["acked"], result.settled["retried"]) == (["sent-1"], [])
    (job,) = result.inspected["jobs"]
    assert (job["id"], job["status"], job["attempts"]) == (job_id, "done", 1)
    assert json.loads(job["result"])["status"] == 200
    assert json.loads(job["result"])["response"] == "received"
    assert result.inspected["dead_letters"] == []

    ((path, headers, body),) = receiver.requests
    assert path == "/hook"
    assert verify(SECRETS["WEBHOOK_SIGNING_SECRET"], headers["x-dotdo-signature"], body)
    assert not verify("another-secret-of-at-least-32-characters", headers["x-dotdo-signature"], body)
    assert (headers["x-dotdo-delivery"], headers["x-dotdo-event"]) == (job_id, "order.paid")
    posted = json.loads(body)
    assert (posted["id"], posted["event"], posted["data"]) == (job_id, "order.paid", {"order": 7})


def test_a_redirect_to_the_metadata_address_is_refused_at_that_hop_and_recorded_under_pyodide(bundle, receiver):
    receiver.status, receiver.location = 302, "http://169.254.169.254/latest/meta-data/"
    result = deliver_webhook(bundle, receiver.url)
    assert result.ok, result.error
    assert (result.settled["acked"], result.settled["retried"]) == (["sent-1"], [])  # final: no retry loop
    (job,) = result.inspected["jobs"]
    assert job["status"] == "dead"
    assert job["error_code"].startswith("SSRF_")
    assert "redirected to http://169.254.169.254/latest/meta-data/" in job["last_error"]
    (letter,) = result.inspected["dead_letters"]
    assert (letter["id"], letter["job_id"], letter["reason"]) == (job["dead_letter_id"], job["id"], job["error_code"])
    assert len(receiver.requests) == 1  # the first hop only: fetch followed nothing by itself
