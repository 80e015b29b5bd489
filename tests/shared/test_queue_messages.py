"""Queue message types declared once: producers build valid envelopes, consumers dispatch batches safely."""

import json
import re

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from shared.queues import MessageTypes, QueueMessage


class Event(BaseModel):
    n: int


class FakeMessage:
    """Cloudflare's queue Message: body, id, attempts, ack(), retry()."""

    def __init__(self, body, id="m1", attempts=1):
        self.body, self.id, self.attempts, self.outcome = body, id, attempts, None

    def ack(self):
        self.outcome = "ack"

    def retry(self):
        self.outcome = "retry"


class FakeBatch:
    def __init__(self, messages):
        self.messages = messages


@pytest.fixture
def types(lines):
    types = MessageTypes(log=lines.append)
    types.handled = []

    @types.handler("svc.thing.done", Event)
    async def on_done(data, message, ctx):
        if data.n == 13:
            raise RuntimeError("unlucky secret")
        types.handled.append((data.n, message.body["id"], ctx))

    return types


def test_build_makes_a_validated_envelope(types):
    body = types.build("svc.thing.done", {"n": "2"}, request_id="r1")
    assert body["type"] == "svc.thing.done"
    assert body["data"] == {"n": 2}
    assert re.fullmatch(r"msg_[0-9a-z]{25}", body["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["timestamp"])
    assert body["request_id"] == "r1"
    assert QueueMessage.model_validate(body).type == "svc.thing.done"
    assert json.loads(json.dumps(body)) == body
    assert types.build("svc.thing.done", Event(n=3))["data"] == {"n": 3}


def test_build_refuses_what_a_consumer_could_not_handle(types):
    with pytest.raises(ValueError, match="unknown message type"):
        types.build("svc.other.x", {})
    with pytest.raises(PydanticValidationError):
        types.build("svc.thing.done", {"n": "many"})


@pytest.mark.parametrize("name", ["NoDots", "svc", "svc.", ".svc.x", "Svc.thing", "svc thing.x", "svc.thing\n"])
def test_type_names_are_checked_at_declaration(name):
    with pytest.raises(ValueError, match="dotted"):
        MessageTypes().handler(name, Event)


def test_a_type_is_declared_once(types):
    with pytest.raises(ValueError, match="twice"):
        types.handler("svc.thing.done", Event)
    assert types.names() == ["svc.thing.done"]


async def test_dispatch_acks_handled_messages(types):
    good = FakeMessage(types.build("svc.thing.done", {"n": 1}))
    counts = await types.dispatch(FakeBatch([good]), "ctx")
    assert good.outcome == "ack"
    assert types.handled == [(1, good.body["id"], "ctx")]
    assert counts == {"acked": 1, "retried": 0, "poison": 0}


async def test_a_failing_handler_retries_its_message_only(types, lines):
    unlucky = FakeMessage(types.build("svc.thing.done", {"n": 13}), id="m-13", attempts=2)
    after = FakeMessage(types.build("svc.thing.done", {"n": 2}))
    counts = await types.dispatch(FakeBatch([unlucky, after]), None)
    assert (unlucky.outcome, after.outcome) == ("retry", "ack")
    assert counts == {"acked": 1, "retried": 1, "poison": 0}
    entry = json.loads(lines[0])
    assert (entry["type"], entry["message_id"], entry["attempts"], entry["error"]) == (
        "queue_retry",
        "m-13",
        2,
        "RuntimeError",
    )
    assert "secret" not in lines[0]


POISON = [
    {"type": "other.thing.x", "data": {}, "id": "p1", "timestamp": "t"},  # unknown type
    {"type": "svc.thing.done", "data": {"n": "x"}, "id": "p2", "timestamp": "t"},  # invalid data
    {"type": "svc.thing.done", "data": {"n": 1}},  # not an envelope: no id / timestamp
    {"type": ["svc.thing.done"], "data": {}, "id": "p3", "timestamp": "t"},  # unhashable type
    {"type": {"a": 1}, "data": {}, "id": "p4", "timestamp": "t"},
    "garbage",
    None,
    [1, 2],
    42,
]


async def test_poison_cannot_block_the_batch(types, lines):
    poison = [FakeMessage(body, id=f"cf-{i}") for i, body in enumerate(POISON)]
    good = FakeMessage(types.build("svc.thing.done", {"n": 7}))
    counts = await types.dispatch(FakeBatch([*poison, good]), None)
    assert good.outcome == "ack"
    assert [m.outcome for m in poison] == ["retry"] * len(POISON)  # -> the dead-letter queue after max_retries
    assert counts == {"acked": 1, "retried": 0, "poison": len(POISON)}
    assert [n for n, _, _ in types.handled] == [7]


async def test_poison_is_logged_with_its_id_and_reason_never_its_body(types, lines):
    secret = {"type": "svc.thing.done", "data": {"n": "password=hunter2"}, "id": "p-1", "timestamp": "t"}
    await types.dispatch(FakeBatch([FakeMessage(secret, id="cf-1")]), None)
    entry = json.loads(lines[0])
    assert (entry["type"], entry["message_id"], entry["body_id"]) == ("queue_poison", "cf-1", "p-1")
    assert entry["reason"] == "invalid data for svc.thing.done: n"
    assert "hunter2" not in lines[0]
    unknown = {"type": "svc.new.kind", "data": {}, "id": "p-2", "timestamp": "t"}
    await types.dispatch(FakeBatch([FakeMessage(unknown)]), None)
    assert "unknown message type 'svc.new.kind'" in json.loads(lines[1])["reason"]


async def test_bodies_still_in_js_form_are_converted():
    types, seen = MessageTypes(), []

    @types.handler("svc.thing.done", Event)
    async def on_done(data, message, ctx):
        seen.append(data.n)

    class JsProxy:
        def __init__(self, value):
            self.value = value

        def to_py(self):
            return self.value

    message = FakeMessage(JsProxy(types.build("svc.thing.done", {"n": 4})))
    await types.dispatch(FakeBatch([message]), None)
    assert (message.outcome, seen) == ("ack", [4])


async def test_settle_each_acks_retries_and_never_acks_a_message_whose_run_raised(capsys):
    from types import SimpleNamespace

    from shared.queues import settle_each

    class Message:
        def __init__(self, id, attempts=1):
            self.id, self.attempts, self.body, self.settled = id, attempts, {}, None

        def ack(self):
            self.settled = "ack"

        def retry(self, *, delaySeconds):
            self.settled = ("retry", delaySeconds)

    async def run(env, message):
        if message.id == "boom":
            raise RuntimeError("storage down")
        return ("done", None) if message.id == "ok" else ("later", 7)

    batch = SimpleNamespace(messages=[Message("ok"), Message("wait"), Message("boom", attempts=3)])
    env = SimpleNamespace(RETRY_BASE_SECONDS="10")
    counts = await settle_each(batch, env, run, error_log="x_error")
    assert counts == {"done": 1, "later": 1, "error": 1}
    assert [m.settled for m in batch.messages] == ["ack", ("retry", 7), ("retry", 40)]  # 10 s doubled twice
    line = json.loads(capsys.readouterr().out)
    assert (line["type"], line["message_id"], line["error"]) == ("x_error", "boom", "RuntimeError")
