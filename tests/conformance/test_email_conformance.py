"""email's bundle under real Pyodide with Cloudflare's SDK (see test_conformance.py for the harness): jinja2 with
the vendored pure-Python MarkupSafe imports and renders there (autoescaped), and a send goes out through the
Resend client, httpx on the SDK's fetch-backed transport, to a stand-in of Resend's API on 127.0.0.1
(`RESEND_API_URL`), which answers as Resend documents: the request it received is Resend's shape, the
provider's id is recorded in email's own D1, and a Resend error comes back as a clear 4xx, recorded `failed`."""

import http.server
import json
import threading
from pathlib import Path

import pytest

from dotdo_dev.conformance import check

ROOT = Path(__file__).resolve().parents[2]
EMAIL = ROOT / "workers" / "email"
API_KEY = "re_conformance_0123456789abcdef"
SENDER = {"id": "usr_1", "type": "user", "role": "user", "permissions": ["email:send"], "org_id": None}
AUTH = {"AUTH_SERVICE": {"validate_token": {"result": SENDER}}}
HEADERS = {"authorization": "Bearer sk_live_" + "a" * 40, "content-type": "application/json"}
EMAILS = "SELECT status, provider, provider_id, template, recipients, created_by, error_code FROM emails"


class ResendStandIn:
    """Resend's send endpoint on 127.0.0.1 in a thread of the test process (the worker runs in Node): records
    each request (path, headers, JSON body) and answers `answer` (status, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict]] = []
        self.answer = (200, {"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                stand_in.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                status, answer = stand_in.answer
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def resend():
    stand_in = ResendStandIn()
    thread = threading.Thread(target=stand_in.server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


@pytest.fixture(scope="module")
def bundle(bundles):
    return bundles(EMAIL)


def send(bundle, resend, body):
    return check(
        ROOT,
        EMAIL,
        bundle=bundle,
        secrets={"RESEND_API_KEY": API_KEY},
        vars={"RESEND_API_URL": resend.url},
        services=AUTH,
        requests=[{"method": "POST", "path": "/send", "headers": HEADERS, "body": body}],
        inspect={"emails": ("EMAIL_DB", EMAILS)},
    )


def test_the_bundle_carries_markupsafe_without_speedups_and_jinja2(bundle):
    modules = bundle / "python_modules"
    assert (modules / "jinja2" / "__init__.py").is_file()
    assert (modules / "markupsafe" / "_native.py").is_file()
    assert not list((modules / "markupsafe").glob("_speedups*"))


def test_a_template_is_rendered_escaped_under_pyodide(bundle):
    call = {
        "module": "email_templates",
        "function": "render",
        "args": ["notification", {"title": "Hi", "message": "<script>alert(1)</script>"}],
    }
    result = check(ROOT, EMAIL, bundle=bundle, call=call)
    assert result.ok, result.error
    rendered = result.raw["call"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in str(rendered)


def test_an_email_is_sent_through_resend_with_httpx_under_pyodide(bundle, resend):
    data = {"title": "Build <done>", "message": "<script>x()</script>", "action_url": "https://ci.example.com/1"}
    result = send(bundle, resend, {"to": ["ada@example.com"], "template": "notification", "data": data})
    assert result.ok, result.error
    assert result.responses[0]["status"] == 201, result.json(0)
    sent = result.json(0)["data"]
    assert (sent["status"], sent["provider_id"]) == ("sent", "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794")
    ((path, headers, body),) = resend.requests
    assert path == "/emails"
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["idempotency-key"] == f"dotdo-email/{sent['id']}"
    assert (body["to"], body["subject"], body["from"]) == (
        ["ada@example.com"],
        "Build <done>",
        "dotdo <noreply@services.do>",
    )
    assert "&lt;script&gt;x()&lt;/script&gt;" in body["html"]
    assert "<script>" not in body["html"]
    assert "<script>x()</script>" in body["text"]
    (row,) = result.inspected["emails"]
    assert (row["status"], row["provider"], row["provider_id"], row["template"], row["created_by"]) == (
        "sent",
        "resend",
        sent["provider_id"],
        "notification",
        "usr_1",
    )


def test_a_resend_refusal_is_a_clear_4xx_and_recorded_failed_under_pyodide(bundle, resend):
    resend.answer = (422, {"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."})
    result = send(bundle, resend, {"to": ["ada@example.com"], "subject": "Hi", "text": "Hello"})
    assert result.ok, result.error
    assert result.responses[0]["status"] == 422, result.json(0)
    error = result.json(0)["error"]
    assert error["code"] == "PROVIDER_REJECTED"
    assert "Invalid `to` field." in error["message"]
    (row,) = result.inspected["emails"]
    assert (row["status"], row["error_code"]) == ("failed", "PROVIDER_REJECTED")
