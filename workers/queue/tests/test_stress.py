"""1,000 jobs through the local runtime's Queues on SQLite with faults injected: transient handler failures,
acknowledgements lost after the effect was recorded (the message comes back), and messages sent twice. Every
job ends done or dead-lettered: none lost, none run to its effect twice."""

import collections
import random
import time

from conftest import DLQ, QUEUE, WRITER_P
from pydantic import BaseModel

from dotdo_dev.runtime.bindings.queues import QueueConsumer
from jobs import JOB_TYPES

JOBS = 1000


class Work(BaseModel):
    n: int


async def test_a_thousand_jobs_with_faults_end_done_or_dead_none_lost_none_twice(worker, clock):
    rng = random.Random(13)
    effects: collections.Counter[str] = collections.Counter()

    async def handler(run):
        if rng.random() < 0.3:
            raise ConnectionError("injected transient failure")
        effects[run.job["id"]] += 1
        return {"n": run.payload.n}

    JOB_TYPES.job("stress-test", Work)(handler)
    started = time.monotonic()
    try:
        ids = []
        for n in range(JOBS):
            job = await worker.rpc("enqueue", WRITER_P, {"type": "stress-test", "payload": {"n": n}})
            ids.append(job["id"])
        store = worker.isolate.queue_store
        for message in rng.sample(store.messages(QUEUE), JOBS // 10):  # at-least-once: some come twice
            await worker.env.JOBS.send(message["body"])

        async def deliver(batch):
            for message in batch.messages:  # some acknowledgements are lost: the message comes back
                if rng.random() < 0.1:
                    message.ack = lambda m=message: m.retry(delaySeconds=0)
            await worker.isolate.queue(batch)

        configs = {c.queue: c for c in worker.config.queue_consumers}
        consumers = [QueueConsumer(store, configs[q], deliver) for q in (QUEUE, DLQ)]
        for _ in range(200):
            delivered = 0
            for consumer in consumers:
                while n := await consumer.deliver_once(force=True):
                    delivered += n
            if not store.pending(QUEUE) and not store.pending(DLQ):
                break
            if not delivered:
                clock.advance(3600)
        assert store.pending(QUEUE) == store.pending(DLQ) == 0
        assert store.dead() == []  # nothing fell out of the dead-letter queue

        db = worker.env.QUEUE_DB
        rows = (await db.prepare("SELECT id, status, attempts FROM jobs").all())["results"]
        status = {row["id"]: row["status"] for row in rows}
        assert set(status) == set(ids)  # none lost
        assert set(status.values()) <= {"done", "dead"}
        done = {i for i, s in status.items() if s == "done"}
        dead = set(ids) - done
        assert all(effects[i] == 1 for i in done)  # each done job's effect once
        assert all(effects[i] == 0 for i in dead)  # a dead job never reached its effect
        assert sum(effects.values()) == len(done)
        letters = (await db.prepare("SELECT job_id, reason FROM dead_letters WHERE status = 'dead'").all())["results"]
        assert sorted(r["job_id"] for r in letters) == sorted(dead)
        assert {r["reason"] for r in letters} <= {"RETRIES_EXHAUSTED"}
        assert len(done) > 900
        assert time.monotonic() - started < 60
    finally:
        JOB_TYPES.remove("stress-test")
