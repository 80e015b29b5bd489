"""queue on the platform, real processes (dispatcher, auth, db, queue, email): a job enqueued over HTTP at `queue.do`
is consumed by queue's own consumer (the local runtime's Queues on SQLite) and its status shows it done; a
webhook-delivery reaches a loopback receiver (allowed only by the local-development flag
`WEBHOOK_ALLOW_LOOPBACK`, given through the environment as `.dev.vars` would give it) with a signature the
receiver verifies; the metadata address stays refused even with the flag; a send-email job reaches the real email
service over EMAIL_SERVICE, which sends it to a stand-in of Resend's API on 127.0.0.1 (`RESEND_API_URL`), the
job's id as the email's idempotency key."""

import asyncio
import json
import time

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, ROOT, as_, new_key, running_platform
from test_email import API_KEY, PROVIDER_ID, ResendStandIn

from dotdo_dev.testing import worker_root

worker_root(ROOT / "workers" / "queue" / "tests" / "x")  # queue's src/ on sys.path, for `signing`
import signing  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "e2e-webhook-signing-secret-0123456789abcdef"


class Receiver:
    """A webhook receiver on 127.0.0.1: records each request (headers, body) and answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        self.arrived.set()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nreceived")
        await writer.drain()
        writer.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver():
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def resend():
    stand_in = ResendStandIn()
    server = await asyncio.start_server(stand_in.handle, "127.0.0.1", 0)
    stand_in.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield stand_in


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory, resend):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
        env.setenv("WEBHOOK_ALLOW_LOOPBACK", "1")
        env.setenv("RESEND_API_KEY", API_KEY)
        env.setenv("RESEND_API_URL", resend.url)
        services = ("auth", "db", "queue", "email")
        async with running_platform(tmp_path_factory.mktemp("state"), *services) as running:
            yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def key(platform):
    permissions = ["queue:read", "queue:write"]  # granted to the new user first: no role holds them
    return await new_key(platform, permissions, grants=permissions)


async def settled(http, key, job_id, *, within=30.0) -> dict:
    """The job once it is done or dead (the consumer runs in queue's own process)."""
    deadline = time.monotonic() + within
    while True:
        reply = await http.get(f"/jobs/{job_id}", headers=as_(key, "queue.do"))
        assert reply.status_code == 200, reply.text
        job = reply.json()["data"]
        if job["status"] in ("done", "dead") or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.2)


async def test_a_webhook_is_delivered_to_a_loopback_receiver_signed(http, key, receiver):
    payload = {"url": f"http://127.0.0.1:{receiver.port}/hook", "event": "order.paid", "data": {"order": 7}}
    reply = await http.post(
        "/jobs", json={"type": "webhook-delivery", "payload": payload}, headers=as_(key, "queue.do")
    )
    assert reply.status_code == 201, reply.text
    job = await settled(http, key, reply.json()["data"]["id"])
    assert job["status"] == "done", job
    assert (job["attempts"], job["result"]["status"], job["result"]["response"]) == (1, 200, "received")
    ((headers, body),) = receiver.requests
    assert signing.verify(SECRET, headers["x-dotdo-signature"], body)
    assert headers["x-dotdo-delivery"] == job["id"]
    assert json.loads(body)["data"] == {"order": 7}


async def test_the_same_idempotency_key_over_http_is_one_job(http, key):
    request = {"type": "webhook-delivery", "payload": {"url": "https://hooks.example.com/", "event": "x"}}
    request |= {"idempotency_key": "e2e-once", "delay_seconds": 3600}
    first = await http.post("/jobs", json=request, headers=as_(key, "queue.do"))
    again = await http.post("/jobs", json=request, headers=as_(key, "queue.do"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    listed = await http.get("/jobs", params={"status": "queued"}, headers=as_(key, "queue.do"))
    assert [j["id"] for j in listed.json()["data"]] == [first.json()["data"]["id"]]


async def test_the_metadata_address_is_refused_even_with_the_local_flag(http, key):
    payload = {"url": "http://169.254.169.254/latest/meta-data/", "event": "probe"}
    reply = await http.post(
        "/jobs", json={"type": "webhook-delivery", "payload": payload}, headers=as_(key, "queue.do")
    )
    job = await settled(http, key, reply.json()["data"]["id"])
    assert (job["status"], job["error_code"], job["attempts"]) == ("dead", "SSRF_ADDRESS", 1)
    assert "169.254.169.254" in job["last_error"]


async def test_an_email_job_is_sent_through_the_email_service(http, key, resend):
    payload = {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi"}
    reply = await http.post("/jobs", json={"type": "send-email", "payload": payload}, headers=as_(key, "queue.do"))
    assert reply.status_code == 201, reply.text
    job = await settled(http, key, reply.json()["data"]["id"])
    assert (job["status"], job["attempts"]) == ("done", 1), job
    sent = job["result"]["email"]
    assert (sent["status"], sent["provider_id"], sent["idempotency_key"]) == ("sent", PROVIDER_ID, job["id"])
    ((path, headers, email),) = resend.requests
    assert path == "/emails"
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert (email["to"], email["subject"], email["text"]) == (["ada@example.com"], "Hello", "Hi")
    assert headers["idempotency-key"] == f"dotdo-email/{sent['id']}"
    letters = await http.get("/dead-letters", headers=as_(BOOTSTRAP, "queue.do"))
    assert letters.status_code == 200, letters.text
    assert job["id"] not in {letter["job_id"] for letter in letters.json()["data"]}
    assert (await http.get("/dead-letters", headers=as_(key, "queue.do"))).status_code == 403


async def test_no_key_is_401_and_a_key_without_queue_write_is_403(http, platform):
    request = {"type": "send-email", "payload": {"to": ["a@example.com"], "subject": "s", "text": "t"}}
    assert (await http.post("/jobs", json=request, headers={"host": "queue.do"})).status_code == 401
    reader = await new_key(platform, ["db:read"])
    assert (await http.post("/jobs", json=request, headers=as_(reader, "queue.do"))).status_code == 403
