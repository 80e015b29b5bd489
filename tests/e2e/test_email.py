"""email on the platform, real processes (dispatcher, auth, email): an email sent at `email.do` with a key holding
`email:send` goes out through the Resend client to a stand-in of Resend's API on 127.0.0.1 (Resend itself cannot
be reached here: `RESEND_API_URL` points at the stand-in, given through the environment as `.dev.vars` would give
it), and its record shows it sent with the provider's id; without credentials or the permission nothing is sent."""

import asyncio
import json

import httpx
import pytest
import pytest_asyncio
from conftest import as_, new_key, running_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")

API_KEY = "re_e2e_0123456789abcdefghijklmnop"
PROVIDER_ID = "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"


class ResendStandIn:
    """Resend's `POST /emails` on 127.0.0.1: records each request (path, headers, JSON body), answers `{"id"}`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((request_line.split(" ")[1], headers, json.loads(body)))
        answer = json.dumps({"id": PROVIDER_ID}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
            + f"content-length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        writer.close()


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
        env.setenv("RESEND_API_KEY", API_KEY)
        env.setenv("RESEND_API_URL", resend.url)
        async with running_platform(tmp_path_factory.mktemp("state"), "auth", "email") as running:
            yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as client:
        yield client


async def test_an_email_is_sent_through_resend_and_recorded(http, platform, resend):
    key = await new_key(platform, ["email:send"], grants=["email:send"])
    body = {
        "to": ["ada@example.com"],
        "template": "welcome",
        "data": {"name": "<b>Ada</b>", "login_url": "https://app.example.com/login"},
        "idempotency_key": "e2e-welcome-1",
    }
    reply = await http.post("/send", json=body, headers=as_(key, "email.do"))
    assert reply.status_code == 201, reply.text
    sent = reply.json()["data"]
    assert (sent["status"], sent["provider_id"], sent["template"]) == ("sent", PROVIDER_ID, "welcome")
    ((path, headers, email),) = resend.requests
    assert path == "/emails"
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["idempotency-key"] == f"dotdo-email/{sent['id']}"
    assert (email["to"], email["subject"]) == (["ada@example.com"], "Welcome to dotdo!")
    assert "&lt;b&gt;Ada&lt;/b&gt;" in email["html"]
    # the same key again: the first send answers, nothing more reaches Resend
    again = await http.post("/send", json=body, headers=as_(key, "email.do"))
    assert (again.status_code, again.json()["data"]["id"]) == (200, sent["id"])
    assert len(resend.requests) == 1
    record = (await http.get(f"/emails/{sent['id']}", headers=as_(key, "email.do"))).json()["data"]
    assert (record["status"], record["recipients"], record["created_by"]) == (
        "sent",
        ["ada@example.com"],
        sent["created_by"],
    )


async def test_send_needs_credentials_and_the_permission(http, platform, resend):
    before = len(resend.requests)
    body = {"to": ["ada@example.com"], "subject": "Hi", "text": "Hello"}
    anonymous = await http.post("/send", json=body, headers={"host": "email.do"})
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "UNAUTHORIZED")
    other = await new_key(platform, ["db:read"])
    refused = await http.post("/send", json=body, headers=as_(other, "email.do"))
    assert refused.status_code == 403
    assert len(resend.requests) == before
