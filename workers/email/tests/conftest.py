"""The email worker in this process, on a D1 database of its own, with Resend's API mocked (respx).

HTTP routes authenticate through `AUTH_SERVICE`: a stand-in (dotdo_dev.pytest_plugin's `auth`) answers
`validate_token` for the tokens below. `resend` is respx answering `POST https://api.resend.com/emails` as
Resend documents it (200 `{"id": <uuid>}`) unless a test routes another answer; nothing reaches the network.
"""

import json
import time
import uuid

import httpx
import pytest
import respx

from dotdo_dev.testing import WorkerHarness, bearer, worker_root
from shared.principals import service_principal

ROOT = worker_root(__file__)  # puts workers/email/src on sys.path, as Cloudflare's module root

API_KEY = "re_test_0123456789abcdefghijklmnopqrstuv"
RESEND = "https://api.resend.com/emails"

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "sender-token": {"id": "usr_sender", "type": "user", "role": "user", "permissions": ["email:send"]},
    "other-token": {"id": "usr_other", "type": "user", "role": "user", "permissions": ["email:send"]},
    "db-token": {"id": "usr_db", "type": "user", "role": "user", "permissions": ["db:read"]},
}
ADMIN, SENDER, OTHER, NOBODY = (bearer(t) for t in ("admin-token", "sender-token", "other-token", "db-token"))
SENDER_P, ADMIN_P = PRINCIPALS["sender-token"], PRINCIPALS["admin-token"]
QUEUE_P = service_principal("queue", permissions=("email:send",))
WEBHOOKS_P = service_principal("webhooks", permissions=("email:events",))

WELCOME = {
    "to": ["ada@example.com"],
    "template": "welcome",
    "data": {"name": "Ada", "login_url": "https://a.example/in"},
}
PLAIN = {"to": ["ada@example.com"], "subject": "Receipt", "text": "Thank you."}


@pytest.fixture
def principals():
    return PRINCIPALS


@pytest.fixture
def environ():
    return {"RESEND_API_KEY": API_KEY}


class Clock:
    """A settable clock (the rate limiter's fixed windows), starting mid-window so a test never crosses one."""

    def __init__(self) -> None:
        self.now = (time.time() // 60) * 60 + 1

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def worker(tmp_path, bindings, environ, clock):
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings, environ=environ, clock=clock)


class ResendStub:
    """respx's route for Resend's send endpoint: each request kept (`sent`: their JSON bodies), each answered
    200 with a fresh id unless `answer` is set to an httpx.Response (or an exception to raise)."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.answer = None
        self.sent: list[dict] = []
        self.requests: list[httpx.Request] = []
        self.ids: list[str] = []
        mock.post(RESEND).mock(side_effect=self._reply)

    def _reply(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.sent.append(json.loads(request.content))
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer is not None:
            return self.answer
        self.ids.append(str(uuid.uuid4()))
        return httpx.Response(200, json={"id": self.ids[-1]})


@pytest.fixture
def resend():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield ResendStub(mock)


async def post(worker, path, body, headers):
    return await worker.fetch(path, method="POST", headers=headers, json=body)
