"""Local Queues: send validation, batching, ack/retry rules, dead letters, leases, nothing lost, no double delivery."""

import asyncio
import datetime
import json
import logging
import sqlite3
import sys
import textwrap

import pytest

from dotdo_dev.runtime.bindings import queues
from dotdo_dev.runtime.bindings.queues import (
    LEASE_SECONDS,
    Message,
    MessageBatch,
    QueueConsumer,
    QueueConsumerConfig,
    QueueError,
    QueueProducer,
    QueueStore,
)


@pytest.fixture
def store(tmp_path, clock):
    s = QueueStore(tmp_path / "queues.sqlite", clock=clock)
    yield s
    s.close()


@pytest.fixture
def jobs(store):
    return QueueProducer(store, "jobs")


def consumer(store, handler, **config):
    settings = {"queue": "jobs", "max_batch_size": 10, "max_batch_timeout": 5, "max_retries": 3} | config
    return QueueConsumer(store, QueueConsumerConfig(**settings), handler)


class Recorder:
    """A queue handler that records (body, attempts) per batch, then runs `behaviour(batch)`."""

    def __init__(self, behaviour=None):
        self.batches = []
        self.messages = []
        self.behaviour = behaviour

    async def __call__(self, batch):
        self.batches.append([(m.body, m.attempts) for m in batch.messages])
        self.messages.extend(batch.messages)
        if self.behaviour:
            await self.behaviour(batch)

    @property
    def bodies(self):
        return [body for batch in self.batches for body, _ in batch]


async def fail(batch):
    raise RuntimeError("handler failed")


def bodies(store, queue="jobs"):
    return [m["body"] for m in store.messages(queue)]


# -- producer ---------------------------------------------------------------------------------------


async def test_send_delivers_each_content_type_as_the_consumer_sees_it(store, jobs):
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    assert await jobs.send({"n": 1, "ratio": 2.0, "tags": ["a"]}) is None
    await jobs.send("plain", contentType="text")
    await jobs.send(b"\x00\x01", {"contentType": "bytes"})
    await jobs.send({"when": when, "ids": {1, 2}}, contentType="v8")
    await jobs.send([1, "two"], {"contentType": "JSON"})  # content types are case-insensitive, as in workerd
    seen = Recorder()
    assert await consumer(store, seen).deliver_once(force=True) == 5
    assert seen.bodies == [
        {"n": 1, "ratio": 2, "tags": ["a"]},
        "plain",
        b"\x00\x01",
        {"when": when, "ids": {1, 2}},
        [1, "two"],
    ]
    assert isinstance(seen.bodies[0]["ratio"], int)  # a JavaScript number with an integral value
    assert store.pending("jobs") == 0


async def test_object_bodies_allow_attribute_access(store, jobs):
    await jobs.send({"user": {"id": "u1"}})
    got = []

    async def handler(batch):
        got.append(batch.messages[0].body.user.id)

    await consumer(store, handler).deliver_once(force=True)
    assert got == ["u1"]


async def test_message_fields(store, jobs, clock):
    sent_at = clock.now
    await jobs.send(1)
    seen = Recorder()
    await consumer(store, seen).deliver_once(force=True)
    (message,) = seen.messages
    assert isinstance(message.id, str)
    assert len(message.id) == 32
    assert message.timestamp == datetime.datetime.fromtimestamp(sent_at)
    assert message.attempts == 1


class Custom:
    pass


@pytest.mark.parametrize(
    ("body", "options", "error", "match"),
    [
        ((1, 2), {}, TypeError, "cannot be sent over RPC"),
        ({"nested": (1, 2)}, {}, TypeError, "cannot be sent over RPC"),
        (Custom(), {}, TypeError, "Could not serialize"),
        (Custom(), {"contentType": "v8"}, TypeError, "Could not serialize"),
        (None, {}, QueueError, "cannot be None"),
        ({"x": float("nan")}, {}, QueueError, "JSON"),
        ({1, 2}, {}, QueueError, "JSON-serializable"),
        (datetime.datetime(2026, 1, 1), {}, QueueError, "v8"),
        (1, {"contentType": "text"}, QueueError, "'text' requires a str"),
        ("x", {"contentType": "bytes"}, QueueError, "'bytes' requires a bytes"),
        ("x", {"contentType": "xml"}, QueueError, "content type 'xml'"),
        ("x", {"contentType": 1}, QueueError, "content type 1"),
        ("x", {"delaySeconds": -1}, QueueError, "delaySeconds"),
        ("x", {"delaySeconds": 43201}, QueueError, "delaySeconds"),
        ("x", {"delaySeconds": 1.5}, QueueError, "delaySeconds"),
        ("x", {"delaySeconds": "5"}, QueueError, "delaySeconds"),
        ("x", {"delaySeconds": True}, QueueError, "delaySeconds"),
        ("x", {"delay_seconds": 5}, QueueError, r"'delay_seconds' -> 'delaySeconds'"),
        ("x", {"content_type": "text"}, QueueError, r"'content_type' -> 'contentType'"),
        ("x", {"priority": 1}, QueueError, "unknown option"),
    ],
)
async def test_send_rejects_bad_bodies_and_options(store, jobs, body, options, error, match):
    with pytest.raises(error, match=match):
        await jobs.send(body, options)
    with pytest.raises(error, match=match):
        await jobs.send(body, **options)  # keyword arguments, as Pyodide passes them
    assert store.pending("jobs") == 0


async def test_send_options_must_be_a_dict(jobs):
    with pytest.raises(QueueError, match="options must be a dict"):
        await jobs.send("x", "text")


async def test_message_size_limit_counts_what_cloudflare_counts(store, jobs):
    await jobs.send("x" * 128_000, contentType="text")  # 128 KB, with 1 KB = 1000 bytes
    with pytest.raises(QueueError, match="larger than the 128000-byte limit"):
        await jobs.send("x" * 128_001, contentType="text")
    with pytest.raises(QueueError, match="larger"):
        await jobs.send("é" * 64_001, contentType="text")  # UTF-8 bytes, not characters
    await jobs.send(b"\x00" * 100_000, contentType="bytes")  # raw bytes count, not their stored base64
    with pytest.raises(QueueError, match="larger"):
        await jobs.send({"data": "x" * 128_000})  # JSON with its quotes and key
    assert store.pending("jobs") == 2


async def test_send_batch_limits_and_all_or_nothing(store, jobs):
    with pytest.raises(QueueError, match="at most 100"):
        await jobs.sendBatch([{"body": i} for i in range(101)])
    with pytest.raises(QueueError, match="at least one message"):
        await jobs.sendBatch([])
    with pytest.raises(QueueError, match="list"):
        await jobs.sendBatch({"body": 1})
    with pytest.raises(QueueError, match="'body'"):
        await jobs.sendBatch([{"data": 1}])
    with pytest.raises(QueueError, match="'body'"):
        await jobs.sendBatch([1])
    with pytest.raises(QueueError, match=r"message 0: unknown option\(s\) \['options'\]"):
        await jobs.sendBatch([{"body": 1, "options": {"delaySeconds": 5}}])
    with pytest.raises(QueueError, match="contentType"):
        await jobs.sendBatch([{"body": 1}], contentType="text")  # sendBatch takes only delaySeconds
    with pytest.raises(QueueError, match="256000"):
        await jobs.sendBatch([{"body": "x" * 100_000, "contentType": "text"} for _ in range(3)])
    with pytest.raises(QueueError, match=r"message 1 is .* larger"):
        await jobs.sendBatch([{"body": 1}, {"body": "x" * 128_001, "contentType": "text"}])
    with pytest.raises(TypeError):
        await jobs.sendBatch([{"body": 1}, {"body": (2,)}])
    with pytest.raises(QueueError, match="message 1"):
        await jobs.sendBatch([{"body": 1}, {"body": 2, "delaySeconds": -5}])
    assert store.pending("jobs") == 0  # a refused batch sends nothing
    await jobs.sendBatch([{"body": i} for i in range(100)])
    await jobs.sendBatch(({"body": "t", "contentType": "text"},))
    assert store.pending("jobs") == 101


async def test_send_batch_content_types_and_delays(store, jobs, clock):
    await jobs.sendBatch(
        [
            {"body": "now", "contentType": "text", "delaySeconds": 0},
            {"body": b"later", "contentType": "bytes"},
            {"body": {"k": "v"}, "delaySeconds": 60},
        ],
        {"delaySeconds": 30},
    )
    seen = Recorder()
    c = consumer(store, seen)
    assert await c.deliver_once(force=True) == 1
    clock.now += 30
    assert await c.deliver_once(force=True) == 1
    clock.now += 30
    assert await c.deliver_once(force=True) == 1
    assert seen.bodies == ["now", b"later", {"k": "v"}]


async def test_delay_holds_messages_back(store, jobs, clock):
    await jobs.send("later", contentType="text", delaySeconds=30)
    c = consumer(store, Recorder())
    assert await c.deliver_once(force=True) == 0
    clock.now += 29.9
    assert await c.deliver_once(force=True) == 0
    clock.now += 0.1
    assert await c.deliver_once(force=True) == 1


async def test_producer_delivery_delay_is_the_default(store, clock):
    delayed = QueueProducer(store, "jobs", delivery_delay=10)
    await delayed.send("default", contentType="text")
    await delayed.send("explicit zero", contentType="text", delaySeconds=0)
    await delayed.send("none means unset", {"contentType": "text", "delaySeconds": None})
    seen = Recorder()
    c = consumer(store, seen)
    await c.deliver_once(force=True)
    assert seen.bodies == ["explicit zero"]
    clock.now += 10
    await c.deliver_once(force=True)
    assert seen.bodies == ["explicit zero", "default", "none means unset"]
    with pytest.raises(QueueError, match="delivery_delay"):
        QueueProducer(store, "jobs", delivery_delay=50_000)


# -- batching ---------------------------------------------------------------------------------------


async def test_a_full_batch_goes_at_once(store, jobs):
    seen = Recorder()
    c = consumer(store, seen, max_batch_size=3, max_batch_timeout=5)
    await jobs.sendBatch([{"body": i} for i in range(7)])
    assert await c.deliver_once() == 3
    assert await c.deliver_once() == 3
    assert await c.deliver_once() == 0  # one left: not full, not waited long enough
    assert seen.batches == [[(0, 1), (1, 1), (2, 1)], [(3, 1), (4, 1), (5, 1)]]


async def test_a_partial_batch_goes_when_the_oldest_has_waited_the_timeout(store, jobs, clock):
    c = consumer(store, Recorder(), max_batch_size=10, max_batch_timeout=5)
    await jobs.send(1)
    clock.now += 3
    await jobs.send(2)
    assert await c.deliver_once() == 0
    clock.now += 1.9
    assert await c.deliver_once() == 0
    clock.now += 0.1  # the first has now waited 5 seconds
    assert await c.deliver_once() == 2


async def test_a_delayed_message_waits_the_timeout_from_when_it_became_visible(store, jobs, clock):
    c = consumer(store, Recorder(), max_batch_timeout=5)
    await jobs.send(1, delaySeconds=10)
    clock.now += 12
    assert await c.deliver_once() == 0
    clock.now += 3
    assert await c.deliver_once() == 1


async def test_force_ignores_the_timeout_and_zero_timeout_delivers_at_once(store, jobs):
    await jobs.send(1)
    assert await consumer(store, Recorder()).deliver_once() == 0
    assert await consumer(store, Recorder()).deliver_once(force=True) == 1
    await jobs.send(2)
    assert await consumer(store, Recorder(), max_batch_timeout=0).deliver_once() == 1


async def test_queues_are_separate(store, jobs):
    await QueueProducer(store, "other").send("elsewhere", contentType="text")
    await jobs.send(1)
    seen = Recorder()
    await consumer(store, seen).deliver_once(force=True)
    assert seen.bodies == [1]
    assert store.pending("other") == 1


# -- ack, retry and their precedence ----------------------------------------------------------------


async def test_per_message_ack_and_retry(store, jobs, clock):
    await jobs.sendBatch([{"body": i} for i in range(3)])

    async def first_pass(batch):
        for message in batch.messages:
            message.retry(delaySeconds=5) if message.body == 1 else message.ack()

    c = consumer(store, Recorder(first_pass))
    await c.deliver_once(force=True)
    assert bodies(store) == [1]
    second = Recorder()
    c.deliver = second
    assert await c.deliver_once(force=True) == 0  # still waiting out its delay
    clock.now += 5
    await c.deliver_once(force=True)
    assert second.batches == [[(1, 2)]]
    assert store.pending("jobs") == 0


def call(batch, op):
    if op == "ackAll":
        batch.ackAll()
    elif op == "retryAll":
        batch.retryAll()
    elif op == "ack0":
        batch.messages[0].ack()
    elif op == "retry0":
        batch.messages[0].retry()
    elif op == "raise":
        raise RuntimeError("handler failed")


@pytest.mark.parametrize(
    ("ops", "retried"),
    [
        ([], []),  # returned: everything acked
        (["raise"], [0, 1]),  # raised: the whole batch retried
        (["ack0", "raise"], [1]),  # an explicit ack survives the exception
        (["ackAll", "raise"], []),  # so does ackAll (Cloudflare: "regardless of whether the handler returns")
        (["retry0"], [0]),
        (["retryAll"], [0, 1]),
        (["retry0", "ackAll"], [0]),  # a per-message call wins over a later batch-level call
        (["ack0", "retryAll"], [1]),
        (["ackAll", "retry0"], []),  # a batch-level call wins over a later per-message call (workerd)
        (["retryAll", "ack0"], [0, 1]),
        (["ack0", "retry0"], []),  # the first call wins
        (["retry0", "ack0"], [0]),
        (["ackAll", "retryAll"], []),
        (["retryAll", "ackAll"], [0, 1]),
        (["retryAll", "retry0"], [0, 1]),
    ],
)
async def test_ack_and_retry_precedence(store, jobs, ops, retried):
    await jobs.sendBatch([{"body": 0}, {"body": 1}])

    async def handler(batch):
        for op in ops:
            call(batch, op)

    await consumer(store, Recorder(handler)).deliver_once(force=True)
    assert bodies(store) == retried


async def test_ignored_calls_are_warned_about(store, jobs, caplog):
    await jobs.send(1)

    async def handler(batch):
        batch.ackAll()
        batch.messages[0].retry()
        batch.retryAll()

    with caplog.at_level(logging.WARNING, logger="dotdo.queues"):
        await consumer(store, Recorder(handler)).deliver_once(force=True)
    warnings = [r.getMessage() for r in caplog.records]
    assert any("retry() on message" in w and "after ackAll()" in w for w in warnings)
    assert any("retryAll() after ackAll()" in w for w in warnings)


async def test_a_message_acked_before_the_handler_raises_is_not_redelivered_and_the_others_are(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(3)])

    async def ack_the_middle_then_raise(batch):
        batch.messages[1].ack()
        raise RuntimeError("handler failed after one ack")

    c = consumer(store, Recorder(ack_the_middle_then_raise))
    assert await c.deliver_once(force=True) == 3
    assert bodies(store) == [0, 2]
    again = Recorder()
    c.deliver = again
    assert await c.deliver_once(force=True) == 2
    assert again.batches == [[(0, 2), (2, 2)]]  # the acked message never comes back
    assert store.pending("jobs") == 0


async def test_a_handler_that_returns_without_acking_acks_every_message_implicitly(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(3)])
    seen = Recorder()  # touches no message: neither ack() nor retry()
    c = consumer(store, seen)
    assert await c.deliver_once(force=True) == 3
    assert store.pending("jobs") == 0
    assert await c.deliver_once(force=True) == 0
    assert seen.batches == [[(0, 1), (1, 1), (2, 1)]]


async def test_a_retry_after_an_ack_of_the_same_message_is_warned_about_and_ignored(store, jobs, caplog):
    await jobs.sendBatch([{"body": 0}, {"body": 1}])

    ids = []

    async def ack_then_retry(batch):
        ids.extend(m.id for m in batch.messages)
        first = batch.messages[0]
        first.ack()
        first.ack()  # a second ack is no contradiction: no warning
        first.retry()
        batch.messages[1].retry()
        batch.messages[1].retry()  # nor is a second retry

    with caplog.at_level(logging.WARNING, logger="dotdo.queues"):
        await consumer(store, Recorder(ack_then_retry)).deliver_once(force=True)
    warnings = [r.getMessage() for r in caplog.records]
    assert bodies(store) == [1]
    assert len(warnings) == 1
    assert f"retry() on message {ids[0]} after ack()" in warnings[0]


async def test_retry_delay_precedence(store, jobs, clock):
    """The message's own delay, else retryAll()'s, else the consumer's retry_delay."""
    await jobs.sendBatch([{"body": i} for i in range(3)])

    async def handler(batch):
        batch.messages[0].retry(delaySeconds=30)
        batch.messages[1].retry()
        batch.retryAll({"delaySeconds": 20})

    c = consumer(store, Recorder(handler), retry_delay=10)
    await c.deliver_once(force=True)
    visible = {m["body"]: m["visible_at"] - clock.now for m in store.messages("jobs")}
    assert visible == {0: 30, 1: 20, 2: 20}

    clock.now += 30
    c.deliver = Recorder(fail)
    await c.deliver_once(force=True)
    assert {m["visible_at"] - clock.now for m in store.messages("jobs")} == {10}


async def test_retry_delay_from_config_after_a_failure(store, jobs, clock):
    await jobs.send(1)
    c = consumer(store, Recorder(fail), retry_delay=10)
    await c.deliver_once(force=True)
    clock.now += 9
    assert await c.deliver_once(force=True) == 0
    clock.now += 1
    assert await c.deliver_once(force=True) == 1


def test_retry_options_are_checked():
    batch = MessageBatch("jobs", [Message("m1", 1, datetime.datetime(2026, 1, 1), 1)])
    message = batch.messages[0]
    with pytest.raises(QueueError, match="'delay_seconds' -> 'delaySeconds'"):
        message.retry({"delay_seconds": 5})
    with pytest.raises(QueueError, match="delaySeconds"):
        message.retry(delaySeconds=-1)
    with pytest.raises(QueueError, match="delaySeconds"):
        batch.retryAll(delaySeconds=43_201)
    message.retry({"delaySeconds": 5}, delaySeconds=7)  # the keyword wins
    assert batch._verdict(message, failed=False) == ("retry", 7)


def test_a_message_outside_a_batch_can_still_be_settled():
    message = Message("m1", 1, datetime.datetime(2026, 1, 1), 1)
    message.ack()
    message.retry()
    assert message._batch._verdict(message, failed=True) == ("ack", None)


async def test_handler_errors_are_logged_without_bodies(store, jobs, caplog):
    await jobs.send({"secret": "s3cr3t"})
    with caplog.at_level(logging.DEBUG, logger="dotdo.queues"):
        await consumer(store, Recorder(fail)).deliver_once(force=True)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    assert "RuntimeError" in errors[0].getMessage()
    assert errors[0].exc_info is not None  # the traceback is there for the developer
    assert all("s3cr3t" not in r.getMessage() for r in errors)


# -- retries run out --------------------------------------------------------------------------------


async def test_attempts_count_up_and_every_message_reaches_the_dlq_exactly_once(store, jobs):
    n = 25
    await jobs.sendBatch([{"body": i} for i in range(n)])
    originals = {m["body"]: m for m in store.messages("jobs")}
    attempts = []

    async def always_fail(batch):
        attempts.extend(m.attempts for m in batch.messages)
        raise RuntimeError("down")

    c = consumer(store, Recorder(always_fail), max_batch_size=7, max_retries=2, dead_letter_queue="jobs-dlq")
    while await c.deliver_once(force=True):
        pass
    assert store.pending("jobs") == 0
    assert sorted(attempts) == sorted([1, 2, 3] * n)  # max_retries + 1 deliveries each
    dlq = store.messages("jobs-dlq")
    assert sorted(m["body"] for m in dlq) == list(range(n))  # every message, exactly once
    assert {m["id"] for m in dlq} == {m["id"] for m in originals.values()}  # same ids, as miniflare
    assert all(m["attempts"] == 0 and m["created"] == originals[m["body"]]["created"] for m in dlq)
    assert store.dead() == []

    seen = Recorder()
    await consumer(store, seen, queue="jobs-dlq").deliver_once(force=True)
    assert {a for batch in seen.batches for _, a in batch} == {1}  # attempts start again


async def test_an_explicit_retry_after_the_last_attempt_dead_letters_too(store, jobs):
    await jobs.send(b"raw", contentType="bytes")

    async def retry(batch):
        batch.retryAll()

    c = consumer(store, Recorder(retry), max_retries=1, dead_letter_queue="dlq")
    assert await c.deliver_once(force=True) == 1
    assert store.pending("dlq") == 0
    assert await c.deliver_once(force=True) == 1
    assert store.messages("dlq")[0]["body"] == b"raw"
    assert store.messages("dlq")[0]["content_type"] == "bytes"


async def test_an_ack_on_the_last_attempt_settles_the_message(store, jobs):
    await jobs.send(1)
    c = consumer(store, Recorder(fail), max_retries=1, dead_letter_queue="dlq")
    await c.deliver_once(force=True)

    async def ack(batch):
        batch.ackAll()

    c.deliver = Recorder(ack)
    await c.deliver_once(force=True)
    assert store.pending("jobs") == store.pending("dlq") == 0


async def test_without_a_dlq_exhausted_messages_are_kept_and_logged(store, jobs, caplog):
    await jobs.send({"secret": "s3cr3t"})
    message_id = store.messages("jobs")[0]["id"]
    c = consumer(store, Recorder(fail), max_retries=1)
    with caplog.at_level(logging.ERROR, logger="dotdo.queues"):
        await c.deliver_once(force=True)
        assert store.dead() == []
        await c.deliver_once(force=True)
    assert store.pending("jobs") == 0
    (dead,) = store.dead("jobs")
    assert dead["id"] == message_id
    assert dead["body"] == {"secret": "s3cr3t"}
    assert dead["attempts"] == 2
    assert store.dead("other") == []
    logged = [r.getMessage() for r in caplog.records if "no dead_letter_queue" in r.getMessage()]
    assert len(logged) == 1
    assert "jobs" in logged[0]
    assert message_id in logged[0]
    assert all("s3cr3t" not in r.getMessage() for r in caplog.records)


# -- leases and several processes -------------------------------------------------------------------


async def test_two_stores_on_one_file_never_deliver_a_message_twice(tmp_path, clock):
    path = tmp_path / "shared.sqlite"
    producer = QueueProducer(QueueStore(path, clock=clock), "jobs")
    for start in range(0, 60, 20):
        await producer.sendBatch([{"body": i} for i in range(start, start + 20)])
    delivered = []

    async def record(batch):
        delivered.extend(m.body for m in batch.messages)

    first = consumer(QueueStore(path, clock=clock), record, max_batch_size=7)
    second = consumer(QueueStore(path, clock=clock), record, max_batch_size=5)
    while (await first.deliver_once(force=True)) + (await second.deliver_once(force=True)):
        pass
    assert sorted(delivered) == list(range(60))


async def test_a_batch_being_delivered_is_invisible_to_another_consumer(tmp_path, clock):
    path = tmp_path / "shared.sqlite"
    await QueueProducer(QueueStore(path, clock=clock), "jobs").sendBatch([{"body": i} for i in range(6)])
    other = Recorder()
    second = consumer(QueueStore(path, clock=clock), other, max_batch_size=10)

    async def slow(batch):
        # While this batch is out, the other process finds nothing more to deliver.
        assert await second.deliver_once(force=True) == 0

    first = consumer(QueueStore(path, clock=clock), Recorder(slow), max_batch_size=10)
    assert await first.deliver_once(force=True) == 6
    assert other.batches == []
    assert QueueStore(path, clock=clock).pending("jobs") == 0


async def test_leased_messages_come_back_after_a_crash(store, jobs, clock):
    await jobs.send(1)
    c = consumer(store, Recorder())
    rows, _ = store._claim(c.config, "crashed-process", clock.now, force=True)  # taken, never settled
    assert len(rows) == 1
    assert store.messages("jobs")[0]["leased"] is True
    assert await c.deliver_once(force=True) == 0
    clock.now += LEASE_SECONDS
    seen = Recorder()
    c.deliver = seen
    assert await c.deliver_once(force=True) == 1
    assert seen.batches == [[(1, 2)]]  # the lost delivery counts as an attempt


async def test_a_message_that_keeps_crashing_its_consumer_is_dead_lettered(store, jobs, clock, caplog):
    await jobs.send(1)
    config = QueueConsumerConfig(queue="jobs", max_retries=2, dead_letter_queue="dlq")
    for _ in range(3):
        assert len(store._claim(config, "doomed", clock.now, force=True)[0]) == 1
        clock.now += LEASE_SECONDS
    seen = Recorder()
    with caplog.at_level(logging.WARNING, logger="dotdo.queues"):
        assert await QueueConsumer(store, config, seen).deliver_once(force=True) == 0
    assert seen.batches == []
    assert bodies(store, "dlq") == [1]
    assert any("after 3 deliveries" in r.getMessage() for r in caplog.records)


async def test_a_settle_after_the_lease_was_lost_changes_nothing(store, jobs, clock, caplog):
    await jobs.send(1)
    rescuer = Recorder()
    second = consumer(store, rescuer)

    async def too_slow(batch):
        clock.now += LEASE_SECONDS + 1  # e.g. a frozen process: the lease runs out
        assert await second.deliver_once(force=True) == 1  # ... and another consumer gets the message
        batch.messages[0].retry()

    with caplog.at_level(logging.WARNING, logger="dotdo.queues"):
        await consumer(store, Recorder(too_slow)).deliver_once(force=True)
    assert rescuer.batches == [[(1, 2)]]
    assert store.pending("jobs") == 0  # the rescuer's ack stands; the late retry is dropped
    assert any("outlived its lease" in r.getMessage() for r in caplog.records)


async def test_the_lease_is_renewed_while_the_handler_runs(store, jobs, clock, monkeypatch):
    monkeypatch.setattr(queues, "LEASE_SECONDS", 0.08)
    await jobs.send(1)
    other = consumer(store, Recorder())

    async def slow(batch):
        for _ in range(12):  # 0.24 s of fake time: three leases' worth
            clock.now += 0.02
            await asyncio.sleep(0.02)
        assert await other.deliver_once(force=True) == 0

    await consumer(store, Recorder(slow)).deliver_once(force=True)
    assert store.pending("jobs") == 0


async def test_cancelling_a_delivery_keeps_decisions_and_hands_the_rest_back(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(3)])
    started = asyncio.Event()

    async def hang(batch):
        batch.messages[0].ack()
        batch.messages[1].retry(delaySeconds=60)
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(consumer(store, hang).deliver_once(force=True))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    remaining = {m["body"]: m for m in store.messages("jobs")}
    assert sorted(remaining) == [1, 2]
    assert remaining[2]["attempts"] == 0
    assert not remaining[2]["leased"]
    assert remaining[1]["attempts"] == 1
    seen = Recorder()
    await consumer(store, seen).deliver_once(force=True)
    assert seen.batches == [[(2, 1)]]


WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from dotdo_dev.runtime.bindings.queues import QueueConsumer, QueueConsumerConfig, QueueProducer, QueueStore

    async def main(role, path, start):
        store = QueueStore(Path(path))
        if role == "produce":
            producer = QueueProducer(store, "jobs")
            for i in range(start, start + 200, 10):
                await producer.sendBatch([{"body": j} for j in range(i, i + 10)])
            return
        seen = []
        async def record(batch):
            seen.extend(m.body for m in batch.messages)
            if start % 2:  # one consumer fails its first batches: they must be retried, not lost
                for m in batch.messages:
                    if m.attempts == 1:
                        m.retry()
        consumer = QueueConsumer(store, QueueConsumerConfig(queue="jobs", max_batch_size=7), record)
        done = Path(path).with_suffix(".done")
        while True:
            if not await consumer.deliver_once(force=True):
                if done.exists() and store.pending("jobs") == 0:
                    break
                await asyncio.sleep(0.005)
        print(json.dumps(seen))

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


@pytest.mark.slow
async def test_producer_and_consumer_processes_share_the_store(tmp_path):
    path = tmp_path / "queues.sqlite"
    QueueStore(path).close()
    script = tmp_path / "worker.py"
    script.write_text(WORKER)

    async def start(role, n):
        return await asyncio.create_subprocess_exec(
            sys.executable, str(script), role, str(path), str(n), stdout=asyncio.subprocess.PIPE
        )

    consumers = [await start("consume", 0), await start("consume", 1)]
    producers = [await start("produce", 0), await start("produce", 200)]
    async with asyncio.timeout(60):
        for p in producers:
            await p.wait()
            assert p.returncode == 0
        path.with_suffix(".done").touch()
        outputs = [json.loads((await c.communicate())[0]) for c in consumers]
    delivered = sorted(b for out in outputs for b in out)
    retried = set(delivered) - {b for b in delivered if delivered.count(b) == 1}
    assert sorted(set(delivered)) == list(range(400))  # every message arrived
    assert all(delivered.count(b) == 2 for b in retried)  # retried once, never delivered twice at once
    assert QueueStore(path).pending("jobs") == 0


# -- the store --------------------------------------------------------------------------------------


async def test_messages_survive_reopening(tmp_path, clock):
    path = tmp_path / "q.sqlite"
    first = QueueStore(path, clock=clock)
    await QueueProducer(first, "jobs").send({"kept": True})
    await consumer(first, Recorder(fail), dead_letter_queue=None, max_retries=0).deliver_once(force=True)
    await QueueProducer(first, "jobs").send("second", contentType="text")
    first.close()
    again = QueueStore(path, clock=clock)
    assert bodies(again) == ["second"]
    assert again.dead("jobs")[0]["body"] == {"kept": True}
    assert again._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_store_written_before_leases_had_owners_still_opens(tmp_path, clock):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,
            body TEXT NOT NULL, content_type TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
            visible_at REAL NOT NULL, lease_until REAL);
        INSERT INTO messages (id, queue, body, content_type, created, visible_at)
            VALUES ('old1', 'jobs', '{"n":1}', 'json', 0, 0);
        """
    )
    conn.close()
    store = QueueStore(path, clock=clock)
    seen = Recorder()
    assert await consumer(store, seen).deliver_once(force=True) == 1
    assert seen.bodies == [{"n": 1}]


async def test_inspection_helpers(store, jobs, clock):
    await jobs.send("a", contentType="text", delaySeconds=5)
    (message,) = store.messages("jobs")
    assert message["body"] == "a"
    assert message["content_type"] == "text"
    assert message["visible_at"] == clock.now + 5
    assert message["attempts"] == 0
    assert message["leased"] is False
    assert store.pending("jobs") == 1
    assert store.pending("nothing") == 0
    await QueueProducer(store, "other").send(2)
    await consumer(store, Recorder(fail), queue="other", max_retries=0).deliver_once(force=True)
    assert [d["queue"] for d in store.dead()] == ["other"]


# -- the polling loop -------------------------------------------------------------------------------


async def test_run_polls_batches_out_and_survives_failures(store, jobs, clock):
    await jobs.sendBatch([{"body": i} for i in range(3)])
    done = asyncio.Event()
    seen = []

    async def flaky(batch):
        seen.append([(m.body, m.attempts) for m in batch.messages])
        if len(seen) == 1:
            raise RuntimeError("first batch fails")
        done.set()

    async def fake_sleep(seconds):
        clock.now += seconds
        await asyncio.sleep(0)

    c = QueueConsumer(store, QueueConsumerConfig(queue="jobs", max_batch_timeout=1), flaky, sleep=fake_sleep)
    task = asyncio.create_task(c.run())
    async with asyncio.timeout(5):
        await done.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [[(0, 1), (1, 1), (2, 1)], [(0, 2), (1, 2), (2, 2)]]
    assert store.pending("jobs") == 0


async def test_run_keeps_going_when_the_store_is_busy(store, jobs, clock, monkeypatch, caplog):
    await jobs.send(1)
    real_claim = store._claim
    calls = []

    def busy_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(store, "_claim", busy_once)
    done = asyncio.Event()

    async def handler(batch):
        done.set()

    c = consumer(store, handler, max_batch_timeout=0)
    with caplog.at_level(logging.ERROR, logger="dotdo.queues"):
        task = asyncio.create_task(c.run())
        async with asyncio.timeout(5):
            await done.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert any("database is locked" in (r.exc_text or "") or r.exc_info for r in caplog.records)


# -- edges found by mutation testing (docs/mutation.md) ---------------------------------------------


async def test_the_longest_delay_is_43200_seconds(store, jobs):
    await jobs.send("x", contentType="text", delaySeconds=43_200)
    await jobs.sendBatch([{"body": 1, "delaySeconds": 43_200}])
    assert store.pending("jobs") == 2


async def test_a_message_of_a_batch_may_be_128000_bytes_and_not_one_more(store, jobs):
    await jobs.sendBatch([{"body": "x" * 128_000, "contentType": "text"}])
    with pytest.raises(QueueError, match="message 0 is 128001 bytes"):
        await jobs.sendBatch([{"body": "x" * 128_001, "contentType": "text"}])
    assert store.pending("jobs") == 1


async def test_a_batch_may_total_256000_bytes_and_not_one_more(store, jobs):
    exactly = [{"body": "x" * size, "contentType": "text"} for size in (100_000, 100_000, 56_000)]
    await jobs.sendBatch(exactly)
    with pytest.raises(QueueError, match="256000"):
        await jobs.sendBatch([{"body": "x" * size, "contentType": "text"} for size in (100_000, 100_000, 56_001)])
    assert store.pending("jobs") == 3


async def test_a_lease_lasts_60_seconds_to_the_instant(store, jobs, clock):
    await jobs.send(1)
    start = clock.now
    config = QueueConsumerConfig(queue="jobs")
    assert len(store._claim(config, "first", start, force=True)[0]) == 1
    clock.now = start + 59.9
    assert store.messages("jobs")[0]["leased"] is True
    assert store._claim(config, "second", clock.now, force=True)[0] == []
    clock.now = start + 60
    assert store.messages("jobs")[0]["leased"] is False  # lease_until == now: free again
    assert len(store._claim(config, "second", clock.now, force=True)[0]) == 1


async def test_a_renewed_lease_runs_60_seconds_from_the_renewal(store, jobs, clock):
    await jobs.send(1)
    start = clock.now
    assert len(store._claim(QueueConsumerConfig(queue="jobs"), "holder", start, force=True)[0]) == 1
    store._renew("holder", start + 50)
    clock.now = start + 109.9
    assert store.messages("jobs")[0]["leased"] is True
    clock.now = start + 110
    assert store.messages("jobs")[0]["leased"] is False
    clock.now = start + 500
    assert store.messages("jobs")[0]["leased"] is False  # long run out


async def test_a_store_failure_in_a_send_leaves_nothing_half_written(store, jobs, monkeypatch):
    monkeypatch.setattr(queues.secrets, "token_hex", lambda n: "same-id")  # the second insert breaks UNIQUE
    with pytest.raises(sqlite3.IntegrityError):
        await jobs.sendBatch([{"body": 1}, {"body": 2}])
    assert store.pending("jobs") == 0  # rolled back: the first insert is gone too
    monkeypatch.undo()
    await jobs.send(3)  # and the store is usable: no transaction was left open
    assert bodies(store) == [3]


async def test_inspection_shows_when_a_message_was_sent_and_when_it_died(store, clock):
    sent_at = clock.now
    await QueueProducer(store, "other").send("gone", contentType="text", delaySeconds=5)
    (waiting,) = store.messages("other")
    assert (waiting["created"], waiting["visible_at"]) == (sent_at, sent_at + 5)
    clock.now += 7
    await consumer(store, Recorder(fail), queue="other", max_retries=0).deliver_once(force=True)
    (dead,) = store.dead("other")
    assert (dead["body"], dead["content_type"]) == ("gone", "text")
    assert (dead["created"], dead["died"]) == (sent_at, sent_at + 7)


async def test_a_handler_failure_logs_how_many_messages_it_retries(store, jobs, caplog):
    await jobs.sendBatch([{"body": i} for i in range(3)])

    async def ack_one_then_fail(batch):
        batch.messages[0].ack()
        raise RuntimeError("handler failed")

    with caplog.at_level(logging.ERROR, logger="dotdo.queues"):
        await consumer(store, Recorder(ack_one_then_fail)).deliver_once(force=True)
    (logged,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "retrying the 2 message(s) it did not ack" in logged


async def test_the_public_options_are_keyword_only(store, jobs, tmp_path, clock):
    with pytest.raises(TypeError):
        QueueStore(tmp_path / "other.sqlite", clock)
    with pytest.raises(TypeError):
        await consumer(store, Recorder()).deliver_once(True)
    batch = MessageBatch("jobs", [Message("m1", 1, datetime.datetime(2026, 1, 1), 1)])
    with pytest.raises(TypeError):
        batch.retryAll(None, 5)
    with pytest.raises(TypeError):
        QueueProducer(store, "jobs", 5)


async def test_cancelling_a_delivery_settles_decisions_made_after_an_undecided_message(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(3)])
    started = asyncio.Event()

    async def hang(batch):
        batch.messages[2].ack()  # the first message stays undecided; a later one is acked
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(consumer(store, hang).deliver_once(force=True))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    remaining = {m["body"]: m for m in store.messages("jobs")}
    assert sorted(remaining) == [0, 1]
    assert not any(m["leased"] for m in remaining.values())  # handed back at once, not after the lease


async def test_a_slow_handler_keeps_its_lease_for_as_long_as_it_runs(store, jobs, clock, monkeypatch):
    monkeypatch.setattr(queues, "LEASE_SECONDS", 0.08)
    await jobs.send(1)
    rescuer = Recorder()
    other = consumer(store, rescuer)
    taken_meanwhile = []

    async def slow(batch):
        for _ in range(12):  # 0.24 s of fake time: three leases' worth
            clock.now += 0.02
            await asyncio.sleep(0.02)
            taken_meanwhile.append(await other.deliver_once(force=True))

    await consumer(store, Recorder(slow)).deliver_once(force=True)
    assert taken_meanwhile == [0] * 12  # asserted here: an assertion inside the handler would be its failure
    assert rescuer.batches == []
    assert store.pending("jobs") == 0


@pytest.mark.parametrize(("first", "earlier"), [("retryAll", "retryAll()"), ("retry0", "retry()")])
async def test_an_ignored_ack_names_the_call_that_came_first(store, jobs, caplog, first, earlier):
    await jobs.send(1)

    async def handler(batch):
        call(batch, first)
        call(batch, "ack0")

    with caplog.at_level(logging.WARNING, logger="dotdo.queues"):
        await consumer(store, Recorder(handler)).deliver_once(force=True)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"after {earlier} was already called" in warning


async def test_a_failing_poll_waits_before_the_next(store, monkeypatch):
    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "_claim", locked)
    pauses = []

    async def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 3:
            raise asyncio.CancelledError

    c = QueueConsumer(store, QueueConsumerConfig(queue="jobs"), Recorder(), sleep=sleep)
    with pytest.raises(asyncio.CancelledError):
        await c.run()
    assert pauses == [queues.POLL_SECONDS] * 3
