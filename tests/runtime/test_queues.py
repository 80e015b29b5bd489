"""Local Queues: send validation, batching, ack/retry, dead letters, nothing lost, no double delivery."""

import logging

import pytest

from dotdo_dev.config import QueueConsumerConfig
from dotdo_dev.runtime.bindings.queues import QueueConsumer, QueueError, QueueProducer, QueueStore


@pytest.fixture
def store(tmp_path, clock):
    return QueueStore(tmp_path / "queues.sqlite", clock=clock)


@pytest.fixture
def jobs(store):
    return QueueProducer(store, "jobs")


def consumer(store, handler, **config):
    settings = {"queue": "jobs", "max_batch_size": 10, "max_batch_timeout": 5, "max_retries": 3} | config
    return QueueConsumer(store, QueueConsumerConfig(**settings), handler)


class Recorder:
    def __init__(self, behaviour=None):
        self.batches = []
        self.behaviour = behaviour

    async def __call__(self, batch):
        self.batches.append([(m.body, m.attempts) for m in batch.messages])
        if self.behaviour:
            await self.behaviour(batch)


async def test_send_and_deliver_json_text_bytes(store, jobs):
    await jobs.send({"n": 1})
    await jobs.send("plain", contentType="text")
    await jobs.send(b"\x00\x01", {"contentType": "bytes"})
    seen = Recorder()
    assert await consumer(store, seen).deliver_once(force=True) == 3
    assert seen.batches == [[({"n": 1}, 1), ("plain", 1), (b"\x00\x01", 1)]]
    assert store.pending("jobs") == 0


async def test_body_dicts_allow_attribute_access(store, jobs):
    await jobs.send({"user": {"id": "u1"}})
    got = []

    async def handler(batch):
        got.append(batch.messages[0].body.user.id)

    await consumer(store, handler).deliver_once(force=True)
    assert got == ["u1"]


@pytest.mark.parametrize(
    ("body", "options", "error", "match"),
    [
        ((1, 2), {}, TypeError, "cannot be sent over RPC"),
        (object(), {}, TypeError, "Could not serialize"),
        ({"x": float("nan")}, {}, QueueError, "JSON"),
        (1, {"contentType": "text"}, QueueError, "text"),
        ("x", {"contentType": "xml"}, QueueError, "content type"),
        ("x", {"delaySeconds": -1}, QueueError, "delaySeconds"),
        ("x", {"delaySeconds": 43201}, QueueError, "delaySeconds"),
        ("x", {"delay_seconds": 5}, Exception, "delay_seconds"),
        ("x" * (128 * 1024 + 1), {"contentType": "text"}, QueueError, "larger"),
    ],
)
async def test_send_rejects_what_cloudflare_rejects(jobs, body, options, error, match):
    with pytest.raises(error, match=match):
        await jobs.send(body, options)


async def test_send_batch_limits(jobs, store):
    with pytest.raises(QueueError, match="at most 100"):
        await jobs.sendBatch([{"body": i} for i in range(101)])
    with pytest.raises(QueueError, match="non-empty"):
        await jobs.sendBatch([])
    with pytest.raises(QueueError, match="body"):
        await jobs.sendBatch([{"data": 1}])
    with pytest.raises(QueueError, match="256"):
        await jobs.sendBatch([{"body": "x" * 100_000, "contentType": "text"} for _ in range(3)])
    # a failing batch sends nothing
    with pytest.raises(TypeError):
        await jobs.sendBatch([{"body": 1}, {"body": (2,)}])
    assert store.pending("jobs") == 0
    await jobs.sendBatch([{"body": i} for i in range(100)])
    assert store.pending("jobs") == 100


async def test_delay_holds_messages_back(store, jobs, clock):
    await jobs.send("later", contentType="text", delaySeconds=30)
    seen = Recorder()
    c = consumer(store, seen)
    assert await c.deliver_once(force=True) == 0
    clock.now += 30
    assert await c.deliver_once(force=True) == 1


async def test_batches_form_by_size_or_timeout(store, jobs, clock):
    seen = Recorder()
    c = consumer(store, seen, max_batch_size=3, max_batch_timeout=5)
    await jobs.sendBatch([{"body": i} for i in range(2)])
    assert await c.deliver_once() == 0  # not full, not waited long enough
    clock.now += 5
    assert await c.deliver_once() == 2  # timeout reached
    await jobs.sendBatch([{"body": i} for i in range(7)])
    assert await c.deliver_once() == 3  # full batch at once
    assert await c.deliver_once() == 3
    assert await c.deliver_once() == 0


async def test_handler_exception_retries_the_batch_except_explicit_acks(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(3)])

    async def ack_first_then_fail(batch):
        batch.messages[0].ack()
        raise RuntimeError("boom")

    c = consumer(store, Recorder(ack_first_then_fail))
    await c.deliver_once(force=True)
    remaining = store.messages("jobs")
    assert [m["body"] for m in remaining] == [1, 2]
    assert all(m["attempts"] == 1 for m in remaining)


async def test_per_message_retry_and_ack_win_over_batch_calls(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(3)])

    async def mixed(batch):
        batch.messages[0].retry()
        batch.ackAll()
        batch.messages[1].retry()  # a per-message call still decides for this one

    await consumer(store, Recorder(mixed)).deliver_once(force=True)
    assert [m["body"] for m in store.messages("jobs")] == [0, 1]


async def test_retry_all_with_delay(store, jobs, clock):
    await jobs.send(1)

    async def later(batch):
        batch.retryAll(delaySeconds=60)

    c = consumer(store, Recorder(later))
    await c.deliver_once(force=True)
    assert await c.deliver_once(force=True) == 0
    clock.now += 60
    assert await c.deliver_once(force=True) == 1


async def test_retry_delay_from_config(store, jobs, clock):
    await jobs.send(1)

    async def fail(batch):
        raise RuntimeError("x")

    c = consumer(store, Recorder(fail), retry_delay=10)
    await c.deliver_once(force=True)
    clock.now += 9
    assert await c.deliver_once(force=True) == 0
    clock.now += 1
    assert await c.deliver_once(force=True) == 1


async def test_attempts_count_up_and_exhausted_messages_reach_the_dlq(store, jobs):
    await jobs.sendBatch([{"body": i} for i in range(25)])
    attempts = []

    async def always_fail(batch):
        attempts.extend(m.attempts for m in batch.messages)
        raise RuntimeError("down")

    c = consumer(store, Recorder(always_fail), max_retries=2, dead_letter_queue="jobs-dlq")
    while await c.deliver_once(force=True):
        pass
    assert store.pending("jobs") == 0
    dlq = store.messages("jobs-dlq")
    assert sorted(m["body"] for m in dlq) == list(range(25))  # every message, exactly once
    assert sorted(set(attempts)) == [1, 2, 3]
    assert len(attempts) == 75


async def test_without_a_dlq_exhausted_messages_are_kept_and_logged(store, jobs, caplog):
    await jobs.send({"n": 1})

    async def fail(batch):
        raise RuntimeError("x")

    c = consumer(store, Recorder(fail), max_retries=0)
    with caplog.at_level(logging.ERROR, logger="dotdo.queues"):
        await c.deliver_once(force=True)
    assert store.pending("jobs") == 0
    dead = store.dead("jobs")
    assert [d["body"] for d in dead] == [{"n": 1}]
    assert any("no dead_letter_queue" in r.message for r in caplog.records)


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


async def test_leased_messages_come_back_after_a_crash(store, jobs, clock):
    await jobs.send(1)
    c = consumer(store, Recorder())
    c._claim(force=True)  # a consumer took the message and died before settling it
    assert await c.deliver_once(force=True) == 0
    clock.now += 121
    assert await c.deliver_once(force=True) == 1


async def test_messages_survive_reopening(tmp_path, clock):
    path = tmp_path / "q.sqlite"
    await QueueProducer(QueueStore(path, clock=clock), "jobs").send({"kept": True})
    assert QueueStore(path, clock=clock).messages("jobs")[0]["body"] == {"kept": True}
