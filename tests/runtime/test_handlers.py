"""Handlers are called as workerd calls them: relaxed, with as many of (event, env, ctx) as they accept.

`async def scheduled(self, controller)` (Cloudflare's example 08-cron, answered 200 under workerd in
their CI) and `async def scheduled(self, controller, env, ctx)` (Cloudflare's docs) both run; a
handler that cannot take the call fails, saying what the signature must be.
"""

import ast
import itertools
import json
import logging
import re
import sys
import textwrap
from pathlib import Path

import pytest
from workers import Request

from dotdo_dev.config import load_worker
from dotdo_dev.runtime import handlers
from dotdo_dev.runtime.context import ExecutionContext, ScheduledController
from dotdo_dev.runtime.handlers import check_handler_arity, expected_signature
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.state import StateDir
from dotdo_dev.testing import WorkerHarness

RELAXED = "(workerd passes it as many of (event, env, ctx) as it accepts, at most 3)"

_numbers = itertools.count()


@pytest.fixture
def probe(tmp_path):
    """Write a worker named `probe` whose main module holds `body` (a `Default` entrypoint's methods).

    Each probe's main module gets a name of its own: this test process may hold other workers' `entry`.
    """
    made: list[tuple[str, str]] = []

    def make(body: str) -> Path:
        module = f"handlers_probe_{next(_numbers)}"
        folder = tmp_path / module
        (folder / "src").mkdir(parents=True)
        source = "from workers import Response, WorkerEntrypoint\n\nCALLS = []\n\n\nclass Default(WorkerEntrypoint):\n"
        (folder / "src" / f"{module}.py").write_text(source + textwrap.indent(textwrap.dedent(body), "    "))
        config = {
            "name": "probe",
            "main": f"src/{module}.py",
            "compatibility_date": "2026-11-01",
            "compatibility_flags": ["python_workers"],
            "vars": {"GREETING": "hi"},
            "queues": {
                "producers": [{"binding": "JOBS", "queue": "jobs"}],
                "consumers": [{"queue": "jobs", "max_retries": 1, "dead_letter_queue": "jobs-dlq"}],
            },
        }
        (folder / "wrangler.jsonc").write_text(json.dumps(config))
        made.append((module, str(folder / "src")))
        return folder

    yield make
    for module, root in made:
        sys.modules.pop(module, None)
        if root in sys.path:
            sys.path.remove(root)


def isolate(folder: Path, state: Path) -> Isolate:
    return Isolate(load_worker(folder), state=StateDir(state), environ={})


# -- scheduled ----------------------------------------------------------------------------------------


ONE_ARGUMENT_SCHEDULED = """
async def scheduled(self, controller):
    CALLS.append((controller, self.env))
"""


async def test_scheduled_taking_only_the_controller_gets_the_controller(probe, tmp_path):
    worker = isolate(probe(ONE_ARGUMENT_SCHEDULED), tmp_path / "state")
    await worker.scheduled("* * * * *")
    [(controller, own_env)] = worker.module.CALLS
    assert isinstance(controller, ScheduledController)
    assert controller.cron == "* * * * *"
    assert own_env is worker.env


async def test_scheduled_taking_only_the_controller_runs_through_the_harness(probe, tmp_path):
    harness = WorkerHarness(probe(ONE_ARGUMENT_SCHEDULED), state_dir=tmp_path / "state")
    await harness.scheduled("*/5 * * * *")
    [(controller, _)] = harness.isolate.module.CALLS
    assert controller.cron == "*/5 * * * *"


async def test_scheduled_receives_controller_env_and_ctx(probe, tmp_path):
    folder = probe(
        """
        async def scheduled(self, controller, env, ctx):
            CALLS.append((controller, env, ctx, self.env, self.ctx))
        """
    )
    harness = WorkerHarness(folder, state_dir=tmp_path / "state")
    await harness.scheduled("*/5 * * * *", 1_700_000_000.5)
    [(controller, env, ctx, own_env, own_ctx)] = harness.isolate.module.CALLS
    assert isinstance(controller, ScheduledController)
    assert (controller.cron, controller.scheduledTime, controller.type) == (
        "*/5 * * * *",
        1_700_000_000_500,
        "scheduled",
    )
    assert env is harness.env is own_env
    assert env.GREETING == "hi"
    assert isinstance(ctx, ExecutionContext)
    assert ctx is own_ctx


@pytest.mark.parametrize(
    ("signature", "problem"),
    [
        ("self, controller, env, ctx, extra", "it takes 4"),
        ("self, controller, env, ctx, extra=None, *, more", "it requires keyword-only 'more'"),
        ("self, controller, env, ctx, extra, *rest", "it takes at least 4"),
        ("self, controller, env, ctx, *, when", "it requires keyword-only 'when'"),
    ],
)
async def test_other_wrong_arities_say_what_the_handler_takes(probe, tmp_path, signature, problem):
    worker = isolate(probe(f"async def scheduled({signature}):\n    pass\n"), tmp_path / "state")
    with pytest.raises(TypeError, match=re.escape(f"{RELAXED}; {problem}")):
        await worker.scheduled("* * * * *")
    assert worker.module.CALLS == []


@pytest.mark.parametrize(
    "signature", ["self, controller, env, ctx", "self, *args", "self, controller, env=None, ctx=None, more=None"]
)
async def test_signatures_that_accept_three_arguments_are_called_with_all_three(probe, tmp_path, signature):
    worker = isolate(probe(f"async def scheduled({signature}):\n    CALLS.append(locals())\n"), tmp_path / "state")
    await worker.scheduled("* * * * *")
    [seen] = worker.module.CALLS
    values = seen.get("args") or (seen["controller"], seen["env"], seen["ctx"])
    assert values[1] is worker.env
    assert isinstance(values[2], ExecutionContext)


# -- fetch stays relaxed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        """
        async def fetch(self, request):
            CALLS.append((request,))
            return Response("ok")
        """,
        """
        async def fetch(self, request, env, ctx):
            CALLS.append((request, env, ctx))
            return Response("ok")
        """,
        """
        async def fetch(self, request, env):
            CALLS.append((request, env))
            return Response("ok")
        """,
    ],
    ids=["request", "request-env-ctx", "request-env"],
)
async def test_fetch_gets_as_many_of_request_env_ctx_as_it_accepts(probe, tmp_path, body):
    harness = WorkerHarness(probe(body), state_dir=tmp_path / "state")
    response = await harness.fetch("/")
    assert response.status == 200
    [seen] = harness.isolate.module.CALLS
    assert isinstance(seen[0], Request)
    assert seen[0].url == "http://probe.do/"
    if len(seen) > 1:
        assert seen[1] is harness.env
    if len(seen) > 2:
        assert isinstance(seen[2], ExecutionContext)


async def test_fetch_that_needs_more_than_three_arguments_fails_naming_the_signature(probe, tmp_path):
    worker = isolate(probe("async def fetch(self, request, env, ctx, extra):\n    pass\n"), tmp_path / "state")
    with pytest.raises(TypeError, match=re.escape("probe: fetch handler must be 'async def fetch(self, request)'")):
        await worker.fetch(Request("http://probe.do/"))


# -- queue ----------------------------------------------------------------------------------------------


ONE_ARGUMENT_QUEUE = """
async def queue(self, batch):
    CALLS.append(batch)
    for message in batch.messages:
        message.ack()
"""


async def test_queue_taking_only_the_batch_gets_the_batch_and_acks(probe, tmp_path):
    harness = WorkerHarness(probe(ONE_ARGUMENT_QUEUE), state_dir=tmp_path / "state")
    await harness.env.JOBS.send({"n": 1})
    assert await harness.deliver_queue() == 1
    [batch] = harness.isolate.module.CALLS
    assert [m.body for m in batch.messages] == [{"n": 1}]
    assert harness.isolate.queue_store.pending("jobs") == 0
    assert harness.isolate.queue_store.messages("jobs-dlq") == []


async def test_queue_that_cannot_take_the_call_fails_every_delivery(probe, tmp_path, caplog):
    harness = WorkerHarness(
        probe("async def queue(self, batch, env, ctx, extra):\n    pass\n"), state_dir=tmp_path / "state"
    )
    await harness.env.JOBS.send({"n": 1})
    with caplog.at_level(logging.ERROR, logger="dotdo.queues"):
        await harness.deliver_queue()
    expected = f"probe: queue handler must be 'async def queue(self, batch, env, ctx)' {RELAXED}; it takes 4"
    failures = [r for r in caplog.records if r.exc_info and expected in str(r.exc_info[1])]
    assert failures, caplog.text
    assert harness.isolate.queue_store.pending("jobs") == 0
    assert len(harness.isolate.queue_store.messages("jobs-dlq")) == 1  # never acked: retried, then dead-lettered


async def test_queue_receives_batch_env_and_ctx(probe, tmp_path):
    folder = probe(
        """
        async def queue(self, batch, env, ctx):
            CALLS.append((batch, env, ctx))
            batch.ackAll()
        """
    )
    harness = WorkerHarness(folder, state_dir=tmp_path / "state")
    await harness.env.JOBS.send({"n": 1})
    assert await harness.deliver_queue() == 1
    [(batch, env, ctx)] = harness.isolate.module.CALLS
    assert [m.body for m in batch.messages] == [{"n": 1}]
    assert env is harness.env
    assert isinstance(ctx, ExecutionContext)


# -- the table and the check, for reuse (the conformance harness) ---------------------------------------


def test_expected_signatures():
    assert expected_signature("scheduled") == "async def scheduled(self, controller, env, ctx)"
    assert expected_signature("queue") == "async def queue(self, batch, env, ctx)"
    assert expected_signature("fetch") == "async def fetch(self, request)"
    assert expected_signature("tail") == "async def tail(self, event, env, ctx)"


def test_check_handler_arity_on_plain_functions():
    async def scheduled(controller):
        pass

    async def queue(batch, env, ctx):
        pass

    async def too_many(event, env, ctx, extra):
        pass

    check_handler_arity("auth", "scheduled", scheduled)  # relaxed: gets the controller only
    check_handler_arity("auth", "queue", queue)
    check_handler_arity("auth", "fetch", scheduled)
    with pytest.raises(TypeError, match=re.escape("auth: scheduled handler must be")):
        check_handler_arity("auth", "scheduled", too_many)
    check_handler_arity("auth", "scheduled", print)  # no signature to read: left to the call


def test_the_handlers_module_imports_only_the_standard_library():
    tree = ast.parse(Path(handlers.__file__).read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_a_methods_signature_is_read_once_for_every_instance(monkeypatch):
    # A handler is a method bound to a new entrypoint per request: its shape is read once per function.
    class Entry:
        async def scheduled(self, controller):
            pass

        async def queue(self, batch, env, ctx):
            pass

    reads = []
    real = handlers.inspect.signature
    monkeypatch.setattr(handlers.inspect, "signature", lambda f: reads.append(f) or real(f))
    for _ in range(3):
        assert handlers.handler_arguments("w", "scheduled", Entry().scheduled, "ev", "env", "ctx") == ("ev",)
        assert handlers.handler_arguments("w", "queue", Entry().queue, "b", "env", "ctx") == ("b", "env", "ctx")
    assert len(reads) == 2

    async def too_many(self, a, b, c, d):
        pass

    Entry.tail = too_many
    for _ in range(2):  # the second call's shape comes from the cache, and is still checked
        with pytest.raises(TypeError, match="it takes 4"):
            handlers.handler_arguments("w", "tail", Entry().tail, "e", "env", "ctx")
