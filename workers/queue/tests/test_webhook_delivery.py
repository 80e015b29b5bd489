"""webhook-delivery: the SSRF guard (every notation of a private address, names resolving to one, redirects to
one: each refused with the reason recorded), the signed POST receivers can verify, bounded redirects."""

import json

import httpx
import pytest
import respx
from conftest import ADMIN, SECRET, WRITER, drain, enqueue

import signing
import ssrf
from dotdo_dev.testing import envelope

PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch):
    """The resolver the guard uses (the event loop's getaddrinfo otherwise): name -> addresses."""
    answers = {"hooks.example.com": [PUBLIC_IP], "other.example.com": ["93.184.216.35"]}

    async def resolve(host, port):
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    monkeypatch.setattr(ssrf, "resolve", resolve)
    return answers


@pytest.fixture
def http():
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


async def deliver(worker, clock, url, data=None):
    payload = {"url": url, "event": "order.paid", "data": data or {"order": 7}}
    job = (await envelope(await enqueue(worker, WRITER, "webhook-delivery", payload)))["data"]
    await drain(worker, clock)
    return (await envelope(await worker.fetch(f"/jobs/{job['id']}", headers=ADMIN)))["data"]


PROBES = [
    ("http://127.0.0.1/", "SSRF_ADDRESS"),
    ("https://127.0.0.1/", "SSRF_ADDRESS"),
    ("http://169.254.169.254/latest/meta-data/", "SSRF_ADDRESS"),
    ("https://169.254.169.254/", "SSRF_ADDRESS"),
    ("http://[::1]/", "SSRF_ADDRESS"),
    ("https://[::1]/", "SSRF_ADDRESS"),
    ("https://2130706433/", "SSRF_ADDRESS"),
    ("https://0x7f000001/", "SSRF_ADDRESS"),
    ("https://0177.0.0.1/", "SSRF_ADDRESS"),
    ("https://0x7f.0.0.1/", "SSRF_ADDRESS"),
    ("https://127.1/", "SSRF_ADDRESS"),
    ("https://127.0.0.1./", "SSRF_ADDRESS"),
    ("https://[::ffff:127.0.0.1]/", "SSRF_ADDRESS"),
    ("https://[::ffff:a9fe:a9fe]/", "SSRF_ADDRESS"),
    ("https://[64:ff9b::a00:1]/", "SSRF_ADDRESS"),
    ("https://[2002:a9fe:a9fe::]/", "SSRF_ADDRESS"),
    ("https://[fd00:ec2::254]/", "SSRF_ADDRESS"),
    ("https://[fe80::1]/", "SSRF_ADDRESS"),
    ("https://[::]/", "SSRF_ADDRESS"),
    ("https://0.0.0.0/", "SSRF_ADDRESS"),
    ("https://0/", "SSRF_ADDRESS"),
    ("https://10.0.0.1/", "SSRF_ADDRESS"),
    ("https://172.16.5.4/", "SSRF_ADDRESS"),
    ("https://192.168.1.1/", "SSRF_ADDRESS"),
    ("https://100.64.0.1/", "SSRF_ADDRESS"),
    ("https://100.100.100.200/", "SSRF_ADDRESS"),
    ("https://192.0.0.192/", "SSRF_ADDRESS"),
    ("https://224.0.0.1/", "SSRF_ADDRESS"),
    ("https://255.255.255.255/", "SSRF_ADDRESS"),
    ("https://198.18.0.1/", "SSRF_ADDRESS"),
    ("https://localhost/", "SSRF_LOCAL_NAME"),
    ("https://localhost./", "SSRF_LOCAL_NAME"),
    ("https://api.localhost/", "SSRF_LOCAL_NAME"),
    ("https://metadata.google.internal/computeMetadata/v1/", "SSRF_LOCAL_NAME"),
    ("https://printer.local/", "SSRF_LOCAL_NAME"),
    ("https://hooks.example.com@127.0.0.1/", "SSRF_USERINFO"),
    ("https://user:pass@hooks.example.com/", "SSRF_USERINFO"),
    ("https://hooks.example.com\\@127.0.0.1/", "SSRF_BAD_URL"),
    ("http://hooks.example.com/", "SSRF_SCHEME"),
    ("ftp://hooks.example.com/", "SSRF_SCHEME"),
    ("file:///etc/passwd", "SSRF_SCHEME"),
    ("https://hooks.example.com:8443/", "SSRF_PORT"),
    ("https://1.2.3.4.5/", "SSRF_MALFORMED_HOST"),
    ("https://256.256.256.256/", "SSRF_MALFORMED_HOST"),
    ("https://08.0.0.1/", "SSRF_MALFORMED_HOST"),
    ("https://[::1%25eth0]/", "SSRF_MALFORMED_HOST"),
]


@pytest.mark.parametrize(("url", "code"), PROBES)
def test_the_guard_refuses_every_notation_of_a_private_target(url, code):
    with pytest.raises(ssrf.Refused) as refused:
        ssrf.parse(url)
    assert refused.value.code == code, refused.value.message


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://hooks.example.com/in?x=1", "https://hooks.example.com/in?x=1"),
        ("https://HOOKS.Example.COM./in", "https://hooks.example.com/in"),
        ("https://hooks.example.com:443", "https://hooks.example.com/"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://8.8.8.8/", "https://8.8.8.8/"),
        ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/"),
    ],
)
def test_the_guard_lets_public_https_targets_through(url, canonical):
    assert ssrf.parse(url).url == canonical


def test_loopback_over_http_only_with_the_local_flag():
    with pytest.raises(ssrf.Refused):
        ssrf.parse("http://127.0.0.1:8000/hook")
    assert ssrf.parse("http://127.0.0.1:8000/hook", allow_loopback=True).url == "http://127.0.0.1:8000/hook"
    assert ssrf.parse("http://localhost:8000/hook", allow_loopback=True).port == 8000
    for still_refused in ("http://10.0.0.1:8000/", "http://169.254.169.254/", "http://hooks.example.com/"):
        with pytest.raises(ssrf.Refused):
            ssrf.parse(still_refused, allow_loopback=True)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://169.254.169.254/", "http://[::1]/", "https://0x7f000001/"]
)
async def test_a_probe_is_refused_and_recorded_without_a_request(worker, clock, dns, http, url):
    job = await deliver(worker, clock, url)
    assert job["status"] == "dead"
    assert job["error_code"].startswith("SSRF_")
    assert job["attempts"] == 1  # refused for good: no retries
    assert job["last_error"]
    assert not http.calls
    (letter,) = (await envelope(await worker.fetch("/dead-letters", headers=ADMIN)))["data"]
    assert (letter["reason"], letter["error"]) == (job["error_code"], job["last_error"])


async def test_a_name_resolving_to_a_private_address_is_refused(worker, clock, dns, http):
    dns["internal.example.com"] = ["93.184.216.40", "10.1.2.3"]  # one bad answer is enough
    job = await deliver(worker, clock, "https://internal.example.com/hook")
    assert (job["status"], job["error_code"]) == ("dead", "SSRF_RESOLVED_ADDRESS")
    assert "10.1.2.3" in job["last_error"]
    assert not http.calls


async def test_a_signed_delivery_reaches_the_resolved_address_and_verifies(worker, clock, dns, http):
    route = http.post(f"https://{PUBLIC_IP}/in").mock(return_value=httpx.Response(200, text="thanks"))
    job = await deliver(worker, clock, "https://hooks.example.com/in", {"order": 7})
    assert job["status"] == "done"
    assert job["result"]["status"] == 200
    assert job["result"]["response"] == "thanks"
    (call,) = route.calls
    request = call.request
    assert request.headers["host"] == "hooks.example.com"  # connected to the address resolved, named by its host
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # TLS checks the name's certificate
    body = request.content
    assert signing.verify(SECRET, request.headers[signing.SIGNATURE_HEADER], body)
    assert not signing.verify("another-secret-0123456789abcdefghijkl", request.headers[signing.SIGNATURE_HEADER], body)
    assert not signing.verify(SECRET, request.headers[signing.SIGNATURE_HEADER], body + b" ")
    assert request.headers[signing.DELIVERY_HEADER] == job["id"]
    assert request.headers[signing.EVENT_HEADER] == "order.paid"
    assert json.loads(body) == {
        "id": job["id"],
        "event": "order.paid",
        "created_at": job["created_at"],
        "data": {"order": 7},
    }


def test_the_signature_is_the_documented_hmac_and_expires():
    body = b'{"a":1}'
    header = signing.sign("s" * 32, body, 1_700_000_000)
    import hashlib
    import hmac

    expected = hmac.new(b"s" * 32, b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signing.verify("s" * 32, header, body, now=1_700_000_100)
    assert not signing.verify("s" * 32, header, body, now=1_700_000_000 + 301)
    assert not signing.verify("s" * 32, "t=1700000000", body, now=1_700_000_000)
    assert not signing.verify("s" * 32, None, body)


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://2130706433/",
        "https://internal.example.com/",
        "http://hooks.example.com/plain",
    ],
)
async def test_a_redirect_to_a_refused_target_is_refused_at_that_hop(worker, clock, dns, http, location):
    dns["internal.example.com"] = ["10.0.0.7"]
    first = http.post(f"https://{PUBLIC_IP}/in").mock(return_value=httpx.Response(302, headers={"location": location}))
    job = await deliver(worker, clock, "https://hooks.example.com/in")
    assert job["status"] == "dead"
    assert job["error_code"].startswith("SSRF_")
    assert "redirected to" in job["last_error"]
    assert len(first.calls) == 1
    assert len(http.calls) == 1  # nothing was sent to the redirect's target


async def test_redirects_are_followed_to_a_checked_target_and_bounded(worker, clock, dns, http):
    http.post(f"https://{PUBLIC_IP}/in").mock(
        return_value=httpx.Response(307, headers={"location": "https://other.example.com/v2"})
    )
    landed = http.post("https://93.184.216.35/v2").mock(return_value=httpx.Response(204))
    job = await deliver(worker, clock, "https://hooks.example.com/in")
    assert (job["status"], job["result"]["status"], job["result"]["url"]) == (
        "done",
        204,
        "https://other.example.com/v2",
    )
    assert [hop["status"] for hop in job["result"]["redirects"]] == [307]
    assert signing.verify(
        SECRET, landed.calls[0].request.headers[signing.SIGNATURE_HEADER], landed.calls[0].request.content
    )

    http.post(f"https://{PUBLIC_IP}/loop").mock(return_value=httpx.Response(302, headers={"location": "/loop"}))
    looping = await deliver(worker, clock, "https://hooks.example.com/loop")
    assert (looping["status"], looping["error_code"]) == ("dead", "TOO_MANY_REDIRECTS")


@pytest.mark.parametrize(
    ("answer", "status", "code", "attempts"),
    [
        (httpx.Response(404), "dead", "WEBHOOK_REJECTED", 1),
        (httpx.Response(410), "dead", "WEBHOOK_REJECTED", 1),
        (httpx.Response(503), "dead", "RETRIES_EXHAUSTED", 4),
        (httpx.Response(429), "dead", "RETRIES_EXHAUSTED", 4),
        (httpx.ConnectError("refused"), "dead", "RETRIES_EXHAUSTED", 4),
        (httpx.ReadTimeout("slow"), "dead", "RETRIES_EXHAUSTED", 4),
    ],
)
async def test_a_target_refusing_is_final_and_a_failing_one_is_retried(
    worker, clock, dns, http, answer, status, code, attempts
):
    route = http.post(f"https://{PUBLIC_IP}/in")
    route.mock(side_effect=answer) if isinstance(answer, Exception) else route.mock(return_value=answer)
    job = await deliver(worker, clock, "https://hooks.example.com/in")
    assert (job["status"], job["error_code"], job["attempts"]) == (status, code, attempts)
    assert len(route.calls) == attempts


async def test_a_large_answer_is_read_only_up_to_the_bound(worker, clock, dns, http):
    http.post(f"https://{PUBLIC_IP}/in").mock(return_value=httpx.Response(200, content=b"x" * 10_000_000))
    job = await deliver(worker, clock, "https://hooks.example.com/in")
    assert job["status"] == "done"
    assert len(job["result"]["response"]) == 256


async def test_without_a_signing_secret_nothing_is_sent(tmp_path, bindings, clock, dns, http):
    from conftest import ROOT

    from dotdo_dev.testing import WorkerHarness

    # Blank is missing (`shared.settings.setting`), whatever a developer's `make dev` wrote into .dev.vars.
    unset = {"RETRY_BASE_SECONDS": "1", "WEBHOOK_SIGNING_SECRET": ""}
    worker = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings | unset, environ={}, clock=clock)
    job = await deliver(worker, clock, "https://hooks.example.com/in")
    assert (job["status"], job["error_code"]) == ("dead", "SIGNING_SECRET_MISSING")
    assert not http.calls


async def test_an_unresolvable_name_is_retried(worker, clock, dns, http):
    job = await deliver(worker, clock, "https://nowhere.example.com/in")
    assert (job["status"], job["attempts"]) == ("dead", 4)
    assert "does not resolve" in job["last_error"]
