"""Sending: permissions, recipients, templates, the record, idempotency, suppressions, the rate limit, and
Resend's answers mapped to clear errors."""

import httpx
import pytest
from conftest import ADMIN, API_KEY, NOBODY, OTHER, PLAIN, QUEUE_P, SENDER, SENDER_P, WELCOME, post

from dotdo_dev.testing import envelope, rpc_fails


async def send(worker, body, headers=SENDER):
    return await post(worker, "/send", body, headers)


async def test_a_template_is_sent_through_resend_and_recorded(worker, resend):
    reply = await send(worker, WELCOME)
    assert reply.status == 201
    sent = (await envelope(reply))["data"]
    assert (sent["status"], sent["provider"], sent["template"], sent["created_by"]) == (
        "sent",
        "resend",
        "welcome",
        "usr_sender",
    )
    assert sent["provider_id"] == resend.ids[0]
    assert sent["recipients"] == ["ada@example.com"]
    assert sent["subject"] == "Welcome to dotdo!"
    assert sent["duplicate"] is False
    assert "request_hash" not in sent
    (body,) = resend.sent
    assert body["from"] == "dotdo <noreply@services.do>"
    assert (body["to"], body["subject"]) == (["ada@example.com"], "Welcome to dotdo!")
    assert "https://a.example/in" in body["html"]
    assert "https://a.example/in" in body["text"]
    (request,) = resend.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["idempotency-key"] == f"dotdo-email/{sent['id']}"
    record = (await envelope(await worker.fetch(f"/emails/{sent['id']}", headers=SENDER)))["data"]
    assert (record["status"], record["provider_id"], record["events"]) == ("sent", sent["provider_id"], [])


async def test_a_plain_email_as_the_queue_sends_it_over_rpc(worker, resend):
    message = PLAIN | {"reply_to": "help@example.com", "idempotency_key": "job_123"}
    sent = await worker.rpc("send", QUEUE_P, message)
    assert (sent["status"], sent["created_by"], sent["idempotency_key"]) == ("sent", "svc_queue", "job_123")
    (body,) = resend.sent
    assert (body["subject"], body["text"], body["reply_to"]) == ("Receipt", "Thank you.", "help@example.com")
    assert "html" not in body


async def test_send_without_credentials_is_401_and_without_the_permission_403(worker, resend):
    assert (await send(worker, WELCOME, {})).status == 401
    reply = await send(worker, WELCOME, NOBODY)
    assert reply.status == 403
    assert (await envelope(reply))["error"]["details"]["permission"] == "email:send"
    err = await rpc_fails(worker, "send", None, WELCOME)
    assert err.status == 401
    err = await rpc_fails(worker, "send", {"id": "svc_x", "permissions": ["email:events"]}, WELCOME)
    assert err.status == 403
    assert resend.sent == []


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "ada smith@example.com",
        "Ada <ada@example.com>",
        "ada@example.com\r\nBcc: eve@example.com",
        "a..b@example.com",
        "ada@-example.com",
        "ada@example.c0m",
        "x" * 65 + "@example.com",
    ],
)
async def test_an_invalid_recipient_is_a_400(worker, resend, address):
    reply = await send(worker, PLAIN | {"to": ["ok@example.com", address]})
    assert reply.status == 400
    error = (await envelope(reply))["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "to.1"
    assert resend.sent == []


async def test_recipients_and_bodies_are_checked(worker, resend):
    for body in (
        {"to": [], "subject": "s", "text": "t"},
        {"to": ["a@example.com"] * 51, "subject": "s", "text": "t"},
        {"to": ["a@example.com"], "subject": "s"},  # no body
        {"to": ["a@example.com"], "text": "t"},  # no subject
        {"to": ["a@example.com"], "subject": "line\nbreak", "text": "t"},
        WELCOME | {"subject": "also"},  # a template and a subject
        PLAIN | {"data": {"x": 1}},
        PLAIN | {"reply_to": "nope"},
        PLAIN | {"cc": ["x@example.com"]},
        {"to": ["a@example.com"], "template": "nope", "data": {}},
    ):
        reply = await send(worker, body)
        assert reply.status == 400, body
    assert resend.sent == []


async def test_a_missing_template_variable_is_a_400_naming_it_and_nothing_is_sent(worker, resend):
    reply = await send(worker, WELCOME | {"data": {"name": "Ada"}})
    assert reply.status == 400
    error = (await envelope(reply))["error"]
    assert (error["code"], error["details"]["missing"]) == ("TEMPLATE_DATA_INVALID", ["login_url"])
    assert "login_url" in error["message"]
    assert resend.sent == []


async def test_a_script_in_template_data_is_sent_escaped(worker, resend):
    data = {"title": "Hello", "message": "<script>steal()</script>"}
    assert (await send(worker, {"to": ["a@example.com"], "template": "notification", "data": data})).status == 201
    (body,) = resend.sent
    assert "<script>" not in body["html"]
    assert "&lt;script&gt;steal()&lt;/script&gt;" in body["html"]


async def test_recipients_are_compared_lower_case_and_once(worker, resend):
    await send(worker, PLAIN | {"to": ["Ada@Example.com", "ada@example.com", "bob@example.com"]})
    assert resend.sent[0]["to"] == ["ada@example.com", "bob@example.com"]


# -- idempotency -----------------------------------------------------------------------------------------------


async def test_the_same_idempotency_key_twice_sends_once(worker, resend):
    first = await send(worker, PLAIN | {"idempotency_key": "receipt-7"})
    again = await send(worker, PLAIN | {"idempotency_key": "receipt-7"})
    assert (first.status, again.status) == (201, 200)
    one, two = (await envelope(first))["data"], (await envelope(again))["data"]
    assert one["id"] == two["id"]
    assert two["duplicate"] is True
    assert len(resend.sent) == 1


async def test_an_idempotency_key_reused_for_another_email_is_a_conflict(worker, resend):
    await send(worker, PLAIN | {"idempotency_key": "k1"})
    reply = await send(worker, PLAIN | {"subject": "Other", "idempotency_key": "k1"})
    assert reply.status == 409
    assert (await envelope(reply))["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(resend.sent) == 1


async def test_idempotency_keys_are_per_caller(worker, resend):
    mine = (await envelope(await send(worker, PLAIN | {"idempotency_key": "k"})))["data"]
    theirs = (await envelope(await send(worker, PLAIN | {"idempotency_key": "k"}, OTHER)))["data"]
    assert mine["id"] != theirs["id"]
    assert len(resend.sent) == 2


async def test_a_failed_send_is_tried_again_with_its_key_under_the_same_record(worker, resend):
    resend.answer = httpx.Response(500, json={"statusCode": 500, "name": "application_error", "message": "boom"})
    failed = await send(worker, PLAIN | {"idempotency_key": "retry-me"})
    assert failed.status == 502
    resend.answer = None
    retried = await send(worker, PLAIN | {"idempotency_key": "retry-me"})
    assert retried.status == 201
    sent = (await envelope(retried))["data"]
    assert (sent["status"], sent["attempts"], sent["error_code"]) == ("sent", 2, None)
    # the same provider idempotency key both times: a first try Resend did take is not sent twice
    assert resend.requests[0].headers["idempotency-key"] == resend.requests[1].headers["idempotency-key"]


# -- suppressions ----------------------------------------------------------------------------------------------


async def test_a_suppressed_recipient_is_refused_with_a_code(worker, resend):
    added = await post(worker, "/suppressions", {"address": "Gone@Example.com", "reason": "unsubscribed"}, ADMIN)
    assert added.status == 201
    reply = await send(worker, PLAIN | {"to": ["ok@example.com", "gone@example.com"]})
    assert reply.status == 422
    error = (await envelope(reply))["error"]
    assert error["code"] == "RECIPIENT_SUPPRESSED"
    assert error["details"]["suppressed"] == [{"address": "gone@example.com", "reason": "unsubscribed"}]
    assert resend.sent == []
    # taken off the list, the address is mailed again
    assert (await worker.fetch("/suppressions/gone@example.com", method="DELETE", headers=ADMIN)).status == 200
    assert (await send(worker, PLAIN | {"to": ["gone@example.com"]})).status == 201


async def test_suppressions_are_for_admins(worker):
    assert (await worker.fetch("/suppressions", headers=SENDER)).status == 403
    assert (await post(worker, "/suppressions", {"address": "a@example.com"}, SENDER)).status == 403
    assert (await post(worker, "/suppressions", {"address": "not an address"}, ADMIN)).status == 400
    assert (await post(worker, "/suppressions", {"address": "a@example.com", "reason": "bounced"}, ADMIN)).status == 400
    await post(worker, "/suppressions", {"address": "a@example.com", "note": "asked by phone"}, ADMIN)
    again = await post(worker, "/suppressions", {"address": "A@example.com"}, ADMIN)
    assert again.status == 200  # there already
    listed = await envelope(await worker.fetch("/suppressions", headers=ADMIN))
    assert [(s["address"], s["reason"], s["note"]) for s in listed["data"]] == [
        ("a@example.com", "manual", "asked by phone")
    ]
    assert listed["meta"]["total"] == 1
    missing = await worker.fetch("/suppressions/b@example.com", method="DELETE", headers=ADMIN)
    assert missing.status == 404


# -- the rate limit --------------------------------------------------------------------------------------------


async def test_each_callers_sends_are_limited(worker, resend, clock):
    limit = worker.config.ratelimits[0].limit
    for _ in range(limit):
        assert (await send(worker, PLAIN)).status == 201
    reply = await send(worker, PLAIN)
    assert reply.status == 429
    assert (await envelope(reply))["error"]["code"] == "RATE_LIMITED"
    assert reply.headers.get("retry-after") == "60"
    assert len(resend.sent) == limit
    assert (await send(worker, PLAIN, OTHER)).status == 201  # another caller has a budget of its own
    # over RPC the same budget
    err = await rpc_fails(worker, "send", SENDER_P, PLAIN)
    assert err.status == 429
    clock.now += 60  # the next window
    assert (await send(worker, PLAIN)).status == 201


# -- Resend's errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "ours", "code"),
    [
        (400, "validation_error", 422, "PROVIDER_REJECTED"),
        (422, "validation_error", 422, "PROVIDER_REJECTED"),
        (403, "invalid_api_key", 502, "PROVIDER_AUTH_FAILED"),
        (403, "validation_error", 502, "PROVIDER_FORBIDDEN"),  # the sending domain is not verified
        (401, "missing_api_key", 502, "PROVIDER_AUTH_FAILED"),
        (409, "invalid_idempotent_request", 409, "PROVIDER_IDEMPOTENCY_CONFLICT"),
        (429, "rate_limit_exceeded", 429, "PROVIDER_RATE_LIMITED"),
        (429, "daily_quota_exceeded", 429, "PROVIDER_RATE_LIMITED"),
        (500, "application_error", 502, "PROVIDER_UNAVAILABLE"),
        (503, "internal_server_error", 502, "PROVIDER_UNAVAILABLE"),
    ],
)
async def test_resend_errors_are_clear_answers_never_a_500(worker, resend, status, name, ours, code):
    said = f"{name} happened"
    resend.answer = httpx.Response(status, json={"statusCode": status, "name": name, "message": said})
    reply = await send(worker, PLAIN)
    body = await envelope(reply)
    assert (reply.status, body["error"]["code"]) == (ours, code)
    assert said in body["error"]["message"]
    assert body["error"]["details"]["upstream"] == {"status": status, "name": name}
    listed = (await envelope(await worker.fetch("/emails", headers=SENDER)))["data"]
    assert (listed[0]["status"], listed[0]["error_code"]) == ("failed", body["error"]["code"])


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(200, json={"unexpected": True}),
    ],
)
async def test_resend_unreachable_or_unreadable_is_a_502(worker, resend, answer):
    resend.answer = answer
    reply = await send(worker, PLAIN)
    assert reply.status == 502
    assert (await envelope(reply))["error"]["code"] == "PROVIDER_UNAVAILABLE"


async def test_the_api_key_never_appears_in_an_error(worker, resend):
    resend.answer = httpx.Response(401, json={"statusCode": 401, "name": "x", "message": f"bad key {API_KEY}"})
    text = await (await send(worker, PLAIN)).text()
    assert API_KEY not in text
    assert "[RESEND_API_KEY]" in text


@pytest.mark.parametrize("environ", [{}])
async def test_without_an_api_key_nothing_is_sent_and_preview_still_works(worker, resend):
    reply = await send(worker, PLAIN)
    assert reply.status == 503
    assert (await envelope(reply))["error"]["code"] == "EMAIL_NOT_CONFIGURED"
    assert resend.sent == []
    preview = await post(
        worker, "/preview", {"template": "notification", "data": {"title": "t", "message": "m"}}, SENDER
    )
    assert preview.status == 200


# -- the record ------------------------------------------------------------------------------------------------


async def test_callers_see_their_own_sends_and_admins_every_send(worker, resend):
    mine = (await envelope(await send(worker, PLAIN)))["data"]
    theirs = (await envelope(await send(worker, WELCOME, OTHER)))["data"]
    assert (await worker.fetch(f"/emails/{theirs['id']}", headers=SENDER)).status == 404
    assert (await worker.fetch(f"/emails/{theirs['id']}", headers=ADMIN)).status == 200
    listed = await envelope(await worker.fetch("/emails", headers=SENDER))
    assert [e["id"] for e in listed["data"]] == [mine["id"]]
    everything = await envelope(await worker.fetch("/emails", headers=ADMIN))
    assert {e["id"] for e in everything["data"]} == {mine["id"], theirs["id"]}
    by_template = await envelope(await worker.fetch("/emails?template=welcome", headers=ADMIN))
    assert [e["id"] for e in by_template["data"]] == [theirs["id"]]
    # a caller's created_by filter is its own id whatever it asks
    forced = await envelope(await worker.fetch("/emails?created_by=usr_other", headers=SENDER))
    assert [e["id"] for e in forced["data"]] == [mine["id"]]
