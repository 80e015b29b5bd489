"""Local Workflows: instances run, persist their steps, retry, sleep, wait for events and obey their binding."""

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from dotdo_dev.config import ConfigError, load_worker
from dotdo_dev.runtime.bindings.workflows import shutdown
from dotdo_dev.runtime.errors import WorkerError
from dotdo_dev.runtime.workflows import InstanceError
from dotdo_dev.runtime.workflows.durations import to_ms
from dotdo_dev.testing import WorkerHarness

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workers" / "workflows"
HEADER = (
    '{"name": "w", "main": "src/%s.py", "compatibility_date": "%s", '
    '"compatibility_flags": ["python_workers"%s], "workflows": %s}'
)


@pytest.fixture
async def worker(tmp_path):
    harness = WorkerHarness(FIXTURE, state_dir=tmp_path)
    yield harness
    await shutdown(harness.isolate.resources)


async def settled(instance, *statuses, within=5.0):
    """The instance's status once it is one of `statuses` (or fail after `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        status = await instance.status()
        if status["status"] in statuses:
            return status
        assert time.monotonic() < deadline, f"still {status} after {within}s"
        await asyncio.sleep(0.01)


async def test_an_instance_runs_to_completion_with_its_output(worker):
    instance = await worker.env.GREETER.create(id="ada", params={"name": "ada"})
    assert instance.id == "ada"
    status = await settled(instance, "complete")
    assert status == {
        "status": "complete",
        "error": None,
        "output": {
            "greeting": "hello ada",
            "loud": {"text": "HELLO ADA", "step": "shout", "attempt": 1},
            "instance": "ada",
        },
    }
    assert status.output["greeting"] == "hello ada"  # a JsDict, as the SDK gives it
    again = await worker.env.GREETER.get("ada")
    assert (await again.status())["status"] == "complete"


async def test_ids_are_made_or_checked_and_never_reused(worker):
    made = await worker.env.GREETER.create({"params": {"name": "x"}})
    assert len(made.id) == 36  # a UUID
    with pytest.raises(InstanceError, match="already_exists"):
        await worker.env.GREETER.create(id=made.id, params={"name": "y"})
    for bad in ("-leading-dash", "has space", "x" * 101, 7):
        with pytest.raises(InstanceError, match="invalid id"):
            await worker.env.GREETER.create(id=bad)
    with pytest.raises(InstanceError, match="not_found"):
        await worker.env.GREETER.get("nobody")
    with pytest.raises(TypeError, match="unknown options"):
        await worker.env.GREETER.create(id="a", param={"name": "typo"})
    with pytest.raises(TypeError, match="not both"):
        await worker.env.GREETER.create({"id": "a"}, params={})
    with pytest.raises(TypeError, match="RPC"):
        await worker.env.GREETER.create(params={"t": (1, 2)})


async def test_create_batch_and_fetch(worker):
    batch = await worker.env.GREETER.create_batch(
        [{"id": "b1", "params": {"name": "one"}}, {"params": {"name": "two"}}]
    )
    assert batch[0].id == "b1"
    assert len(batch) == 2
    assert (await settled(batch[1], "complete"))["output"]["greeting"] == "hello two"
    with pytest.raises(TypeError, match="non-empty list"):
        await worker.env.GREETER.createBatch([])
    with pytest.raises(ValueError, match="at most 100"):
        await worker.env.GREETER.create_batch([{} for _ in range(101)])
    body = await (await worker.fetch("/")).json()
    assert body["details"]["status"] in ("queued", "running", "complete")


async def test_settled_steps_are_not_run_again_after_a_crash(tmp_path):
    counter = tmp_path / "calls.txt"
    first = WorkerHarness(FIXTURE, state_dir=tmp_path)
    instance = await first.env.COUNTED.create(id="c1", params={"counter_file": str(counter)})
    await settled(instance, "waiting")
    assert counter.read_text().splitlines() == ["x"]
    await shutdown(first.isolate.resources)  # the process dies while the instance waits

    second = WorkerHarness(FIXTURE, state_dir=tmp_path)  # the worker starts again: the run is replayed
    try:
        again = await second.env.COUNTED.get("c1")
        assert (await settled(again, "waiting"))["status"] == "waiting"
        await again.send_event(type="go", payload={"ok": True})
        status = await settled(again, "complete")
        assert status["output"] == {"count": 1, "event": {"ok": True}, "type": "go"}
        assert counter.read_text().splitlines() == ["x"]  # the first step ran once in all
    finally:
        await shutdown(second.isolate.resources)


async def test_an_attempt_cut_short_by_a_crash_counts_as_failed(tmp_path):
    started = tmp_path / "started"
    first = WorkerHarness(FIXTURE, state_dir=tmp_path)
    instance = await first.env.FAILING.create(id="h", params={"mode": "hangs once", "started_file": str(started)})
    await settled(instance, "running")
    for _ in range(500):
        if started.exists():
            break
        await asyncio.sleep(0.01)
    assert started.exists()
    await shutdown(first.isolate.resources)  # the process dies during the first attempt

    second = WorkerHarness(FIXTURE, state_dir=tmp_path)
    try:
        again = await second.env.FAILING.get("h")
        assert (await settled(again, "complete"))["output"] == 2  # the step went on with its second attempt
    finally:
        await shutdown(second.isolate.resources)


async def test_an_event_sent_before_the_wait_is_kept_and_a_wait_times_out(worker, tmp_path):
    early = await worker.env.COUNTED.create(id="early", params={"counter_file": str(tmp_path / "a")})
    await early.sendEvent({"type": "go", "payload": "first"})
    await early.send_event(type="go", payload="second")
    assert (await settled(early, "complete"))["output"]["event"] == "first"

    late = await worker.env.COUNTED.create(id="late", params={"counter_file": str(tmp_path / "b"), "timeout": 100})
    status = await settled(late, "errored")
    assert status["error"] == {"name": "WorkflowTimeoutError", "message": "Execution timed out after 100ms"}
    with pytest.raises(InstanceError, match="errored"):
        await late.send_event(type="go", payload=1)
    with pytest.raises(TypeError, match="needs a type"):
        await early.send_event(payload=1)
    with pytest.raises(TypeError, match="unknown options"):
        await early.send_event(type="go", body=1)


@pytest.mark.parametrize(
    ("backoff", "gaps"), [("constant", (50, 50)), ("linear", (50, 100)), ("exponential", (50, 100))]
)
async def test_a_failing_step_is_retried_with_its_backoff_then_succeeds(worker, backoff, gaps):
    from workflow_entry import ATTEMPT_TIMES

    instance = await worker.env.FLAKY.create(id=f"f-{backoff}", params={"backoff": backoff})
    status = await settled(instance, "complete")
    assert status["output"] == {"succeeded_on": 3}
    times = ATTEMPT_TIMES[instance.id]
    assert len(times) == 3
    for (before, after), gap in zip(itertools.pairwise(times), gaps, strict=True):
        assert gap / 1000 <= after - before < gap / 1000 + 0.5


async def test_non_retryable_errors_and_exhausted_retries_error_the_instance(worker):
    refused = await worker.env.FAILING.create(params={"mode": "non-retryable"})
    assert (await settled(refused, "errored"))["error"] == {"name": "NonRetryableError", "message": "bad input"}

    caught = await worker.env.FAILING.create(params={"mode": "caught"})
    assert (await settled(caught, "complete"))["output"] == {"caught": "bad input", "tries": 1}  # not retried

    exhausted = await worker.env.FAILING.create(params={"mode": "exhausted"})
    assert (await settled(exhausted, "errored"))["error"] == {"name": "ValueError", "message": "still broken"}

    slow = await worker.env.FAILING.create(params={"mode": "timeout"})
    error = (await settled(slow, "errored"))["error"]
    assert error["name"] == "WorkflowTimeoutError"

    misuse = await worker.env.FAILING.create(params={"mode": "callable"})
    assert "step.do is a decorator" in (await settled(misuse, "errored"))["error"]["message"]

    bad = await worker.env.FAILING.create(params={"mode": "unserialisable"})
    error = (await settled(bad, "errored"))["error"]
    assert "not serialisable" in error["message"]


async def test_sleep_and_sleep_until(worker):
    instance = await worker.env.SLEEPER.create(params={"sleep": "0.1 seconds"})
    assert (await settled(instance, "waiting"))["status"] == "waiting"
    output = (await settled(instance, "complete"))["output"]
    assert output["then"] == "awake"
    assert 0.15 <= output["slept"] < 2.0
    numeric = await worker.env.SLEEPER.create(params={"sleep": 100})  # a number is milliseconds
    assert (await settled(numeric, "complete"))["output"]["slept"] < 2.0


async def test_pause_resume_and_terminate(worker, tmp_path):
    instance = await worker.env.COUNTED.create(id="p", params={"counter_file": str(tmp_path / "p")})
    await settled(instance, "waiting")
    await instance.pause()
    assert (await instance.status())["status"] == "paused"
    await instance.send_event(type="go", payload=1)
    await asyncio.sleep(0.1)
    assert (await instance.status())["status"] == "paused"  # the event is taken, the run does not go on
    await instance.resume()
    assert (await settled(instance, "complete"))["output"]["event"] == 1
    with pytest.raises(InstanceError, match="not paused"):
        await instance.resume()
    with pytest.raises(InstanceError, match="complete"):
        await instance.terminate()

    doomed = await worker.env.COUNTED.create(id="t", params={"counter_file": str(tmp_path / "t")})
    await settled(doomed, "waiting")
    await doomed.terminate()
    assert await doomed.status() == {"status": "terminated", "error": None, "output": None}
    with pytest.raises(InstanceError, match="terminated"):
        await doomed.pause()


async def test_restart_runs_again_from_the_start(worker, tmp_path):
    counter = tmp_path / "r"
    instance = await worker.env.COUNTED.create(id="r", params={"counter_file": str(counter)})
    await settled(instance, "waiting")
    await instance.restart()
    await settled(instance, "waiting")
    assert len(counter.read_text().splitlines()) == 2  # the first step ran again
    await instance.send_event(type="go", payload=None)
    assert (await settled(instance, "complete"))["output"]["count"] == 2


async def test_another_workers_workflow_fails_on_use(worker):
    with pytest.raises(RuntimeError, match="defined by worker 'billing'"):
        await worker.env.REMOTE.create()


def test_durations():
    assert to_ms(250) == 250
    assert to_ms("10 seconds") == 10_000
    assert to_ms("1.5 hours") == 5_400_000
    assert to_ms("2 days") == 172_800_000
    with pytest.raises(ValueError, match="not a duration"):
        to_ms("soon")
    with pytest.raises(ValueError, match="non-negative"):
        to_ms(-1)
    with pytest.raises(TypeError):
        to_ms(None)


def _worker(folder, workflows, *, flags="", code="", module="wf_entry", date="2026-11-01"):
    """A worker folder whose main module has a name of its own (modules stay loaded across tests)."""
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / f"{module}.py").write_text(code)
    (folder / "wrangler.jsonc").write_text(HEADER % (module, date, flags, workflows))
    return folder


def test_bad_configs_are_refused_clearly(tmp_path):
    with pytest.raises(ConfigError, match=r"workflows\[0\].*class_name"):
        load_worker(_worker(tmp_path, '[{"name": "a", "binding": "A"}]'))
    with pytest.raises(ConfigError, match=r"workflows\[0\].*binding"):
        load_worker(_worker(tmp_path, '[{"name": "a", "class_name": "A"}]'))
    with pytest.raises(ConfigError, match="python_workflows"):
        load_worker(
            _worker(
                tmp_path, '[{"name": "a", "binding": "A", "class_name": "A"}]', flags=', "disable_python_workflows"'
            )
        )
    config = load_worker(_worker(tmp_path, '[{"name": "a", "binding": "A", "class_name": "A"}]'))
    assert "workflows" not in config.not_provided
    assert config.workflows[0].implicit_dependencies is True


def test_a_bound_class_must_be_a_workflow_entrypoint(tmp_path):
    folder = _worker(
        tmp_path,
        '[{"name": "a", "binding": "A", "class_name": "Missing"}]',
        code="from workers import WorkerEntrypoint\nclass Default(WorkerEntrypoint):\n    pass\n",
        module="wf_missing_class",
    )
    with pytest.raises(WorkerError, match=r"class Missing\(WorkflowEntrypoint\)"):
        WorkerHarness(folder, state_dir=tmp_path / "state")


LEGACY = """
from workers import WorkerEntrypoint, WorkflowEntrypoint


class Default(WorkerEntrypoint):
    pass


class Pipeline(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("load")
        async def load():
            return [1, 2, 3]

        @step.do("total", depends=[load], concurrent=True)
        async def total(rows, ctx):
            return {"sum": sum(rows), "attempt": ctx["attempt"]}

        mode = event["payload"]["mode"]
        if mode == "callable":
            return await step.do("inline", lambda: 1)
        if mode == "bad config":

            @step.do("x", config={"retries": {"limit": 1, "delay": "1 s", "backof": "linear"}})
            async def x():
                return 1

        if mode == "undeclared":

            @step.do("y")
            async def y(load):
                return load

        if mode == "pause":
            gate = event["payload"]["gate"]

            @step.do("slow step")
            async def slow():
                import asyncio, pathlib

                while not pathlib.Path(gate).exists():
                    await asyncio.sleep(0.01)
                return "done"

            await slow()

            @step.do("after pause")
            async def after():
                return "resumed"

            return await after()
        return await total()
"""


@pytest.fixture(scope="module")
def legacy_worker(tmp_path_factory):
    """A worker dated 2025-10-01: python_workflows is on, implicit dependencies not yet (2026-02-25)."""
    return _worker(
        tmp_path_factory.mktemp("legacy"),
        '[{"name": "pipeline", "binding": "PIPELINE", "class_name": "Pipeline"}]',
        code=LEGACY,
        module="wf_legacy",
        date="2025-10-01",
    )


async def test_depends_lists_dependencies_before_implicit_dependencies(legacy_worker, tmp_path):
    harness = WorkerHarness(legacy_worker, state_dir=tmp_path)
    flows = harness.env.PIPELINE
    try:
        ok = await flows.create(params={"mode": "ok"})
        assert (await settled(ok, "complete"))["output"] == {"sum": 6, "attempt": 1}
        misuse = await flows.create(params={"mode": "callable"})
        assert "step.do is a decorator" in (await settled(misuse, "errored"))["error"]["message"]
        bad = await flows.create(params={"mode": "bad config"})
        assert "retries.backof" in (await settled(bad, "errored"))["error"]["message"]
        undeclared = await flows.create(params={"mode": "undeclared"})
        error = (await settled(undeclared, "errored"))["error"]
        assert error["name"] == "TypeError"
        assert "depends lists 0" in error["message"]
    finally:
        await shutdown(harness.isolate.resources)


async def test_a_pause_during_a_step_waits_for_the_step_to_end(legacy_worker, tmp_path):
    harness = WorkerHarness(legacy_worker, state_dir=tmp_path)
    gate = tmp_path / "gate"
    try:
        instance = await harness.env.PIPELINE.create(params={"mode": "pause", "gate": str(gate)})
        await settled(instance, "running")
        await asyncio.sleep(0.05)
        await instance.pause()
        assert (await instance.status())["status"] == "waitingForPause"
        gate.touch()
        await settled(instance, "paused")
        await asyncio.sleep(0.05)
        assert (await instance.status())["status"] == "paused"  # the next step does not start
        await instance.resume()
        assert (await settled(instance, "complete"))["output"] == "resumed"
    finally:
        await shutdown(harness.isolate.resources)
