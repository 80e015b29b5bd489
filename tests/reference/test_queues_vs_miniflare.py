"""The local Queues against miniflare 4: retries, attempts and dead-lettering must agree.

One difference is deliberate and kept (see docs/local-runtime.md): when a handler throws after
acknowledging a message, miniflare retries the whole batch, acknowledged message included; the
local runtime follows Cloudflare's documentation, where an explicit ack stands.
"""

import asyncio
from pathlib import Path

import pytest

from dotdo_dev.reference import run_queue_scenario
from dotdo_dev.runtime.bindings.queues import QueueConsumer, QueueConsumerConfig, QueueProducer, QueueStore

ROOT = Path(__file__).resolve().parents[2]


async def run_local(scenario, tmp_path):
    store = QueueStore(tmp_path / "queues.sqlite")
    await QueueProducer(store, "jobs").sendBatch([{"body": m} for m in scenario["messages"]])
    state = {}

    async def consume(batch):
        fail = False
        for m in batch.messages:
            state.setdefault(f"seen:{m.body['n']}", []).append(m.attempts)
            mode = m.body["mode"]
            if mode == "ack":
                m.ack()
            elif mode == "retry":
                m.retry()
            elif mode == "ack-then-throw":
                m.ack()
                fail = True
            else:
                fail = True
        if fail:
            raise RuntimeError("failing on purpose")

    async def dead(batch):
        for m in batch.messages:
            state[f"dead:{m.body['n']}"] = True
            m.ack()

    config = QueueConsumerConfig(
        queue="jobs",
        max_batch_size=10,
        max_batch_timeout=1,
        max_retries=scenario["max_retries"],
        dead_letter_queue="jobs-dlq",
    )
    jobs = QueueConsumer(store, config, consume)
    dlq = QueueConsumer(store, QueueConsumerConfig(queue="jobs-dlq", max_batch_size=10), dead)
    while (await jobs.deliver_once(force=True)) + (await dlq.deliver_once(force=True)):
        pass
    return state


SCENARIOS = {
    "ack-and-retry": {"max_retries": 2, "messages": [{"n": 1, "mode": "ack"}, {"n": 2, "mode": "retry"}]},
    "throw": {"max_retries": 1, "messages": [{"n": 1, "mode": "throw"}, {"n": 2, "mode": "throw"}]},
}


@pytest.fixture(scope="module")
def reference():
    return {name: run_queue_scenario(ROOT, scenario) for name, scenario in SCENARIOS.items()}


@pytest.mark.parametrize("name", ["ack-and-retry", "throw"])
def test_local_queues_agree_with_miniflare(name, reference, tmp_path):
    local = asyncio.run(run_local(SCENARIOS[name], tmp_path))
    assert local == reference[name]


def test_expected_shapes(reference):
    assert reference["ack-and-retry"] == {"seen:1": [1], "seen:2": [1, 2, 3], "dead:2": True}
    assert reference["throw"] == {"seen:1": [1, 2], "seen:2": [1, 2], "dead:1": True, "dead:2": True}


def test_ack_before_a_throw_is_where_the_two_differ(tmp_path):
    scenario = {"max_retries": 1, "messages": [{"n": 1, "mode": "ack-then-throw"}]}
    assert run_queue_scenario(ROOT, scenario) == {"seen:1": [1, 2], "dead:1": True}  # miniflare retries it
    assert asyncio.run(run_local(scenario, tmp_path)) == {"seen:1": [1]}  # Cloudflare's docs: the ack stands
