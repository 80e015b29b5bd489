"""`workers.env`, `workers.wait_until`, `patch_env` and `import_from_javascript`, as the SDK gives them.

On Cloudflare they come from `cloudflare:workers`: `env` is a live view of the worker's env (or of
what `patch_env` put in place), `waitUntil` extends the current request. The local runtime marks
each handler call so that the same code works here.
"""

import asyncio
import itertools
import json
import textwrap

import pytest
import workers
from workers import import_from_javascript, patch_env, wait_until
from workers._invocation import invocation

from dotdo_dev.runtime.context import ExecutionContext
from dotdo_dev.testing import WorkerHarness

_numbers = itertools.count()

WORKER = """
import asyncio

from workers import Response, WorkerEntrypoint, env, import_from_javascript, patch_env, wait_until

GREETING_AT_IMPORT = env.GREETING
DONE = []


async def later(tag):
    await asyncio.sleep(0)
    DONE.append((tag, env.GREETING))


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        wait_until(later("fetch"))
        import_from_javascript("cloudflare:workers").waitUntil(later("js"))
        with patch_env(GREETING="patched"):
            patched = env.GREETING
            other_visible = hasattr(env, "OTHER")
        return Response.json(
            {"import": GREETING_AT_IMPORT, "env": env.GREETING, "patched": patched, "other_visible": other_visible,
             "self_env": self.env.GREETING}
        )

    async def remember(self):
        wait_until(later("rpc"))
        return env.OTHER
"""


@pytest.fixture
def harness(tmp_path):
    module = f"sdk_env_probe_{next(_numbers)}"
    folder = tmp_path / module
    (folder / "src").mkdir(parents=True)
    (folder / "src" / f"{module}.py").write_text(textwrap.dedent(WORKER))
    config = {
        "name": "envprobe",
        "main": f"src/{module}.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "vars": {"GREETING": "hi", "OTHER": "other"},
    }
    (folder / "wrangler.jsonc").write_text(json.dumps(config))
    return WorkerHarness(folder, state_dir=tmp_path / "state")


async def test_a_worker_reads_env_at_import_and_in_handlers(harness):
    response = await harness.fetch("/")
    assert await response.json() == {
        "import": "hi",
        "env": "hi",
        "patched": "patched",
        "other_visible": False,
        "self_env": "hi",
    }


async def test_wait_until_keeps_work_running_after_the_response(harness):
    await harness.fetch("/")
    done = harness.isolate.module.DONE
    assert sorted(done) == [("fetch", "hi"), ("js", "hi")]
    assert await harness.rpc("remember") == "other"
    assert ("rpc", "hi") in done


def test_wait_until_outside_a_handler_is_refused():
    async def nothing():
        return None

    coroutine = nothing()
    with pytest.raises(RuntimeError, match="can only be called while a request"):
        wait_until(coroutine)
    coroutine.close()


async def test_wait_until_uses_the_current_invocations_ctx():
    ctx = ExecutionContext()
    ran = []

    async def job():
        ran.append(True)

    with invocation({"a": 1}, ctx):
        workers.wait_until(job())
        workers.waitUntil(job())
    await ctx.drain()
    assert ran == [True, True]


async def test_env_follows_the_invocation_and_each_task_keeps_its_own():
    class Env:
        def __init__(self, name):
            self.NAME = name

    async def handler(name):
        with invocation(Env(name), ExecutionContext()):
            await asyncio.sleep(0)
            return workers.env.NAME

    assert await asyncio.gather(handler("a"), handler("b")) == ["a", "b"]


def test_patch_env_replaces_env_inside_the_block_only():
    class Env:
        secret = "s"

    with invocation(Env(), None):
        with patch_env(NAME=1, place="there"):
            assert (workers.env.NAME, workers.env.place) == (1, "there")
            assert not hasattr(workers.env, "secret")
        with patch_env({"NAME": 1}, extra=2):
            assert (workers.env.NAME, workers.env.extra) == (1, 2)
        with patch_env([("NAME", 3)]):
            assert workers.env.NAME == 3
        with pytest.raises(ValueError, match="inside"), patch_env(NAME=4):
            raise ValueError("inside")
        assert workers.env.secret == "s"
        assert not hasattr(workers.env, "NAME")


def test_import_from_javascript_gives_cloudflare_workers_and_names_any_other_module():
    module = import_from_javascript("cloudflare:workers")
    assert module.waitUntil is wait_until
    with patch_env(X=1):
        assert module.env.X == 1
    with pytest.raises(ImportError, match=r"Failed to import 'cloudflare:sockets'.*no JavaScript modules"):
        import_from_javascript("cloudflare:sockets")
    with pytest.raises(ImportError, match="'node:crypto'"):
        import_from_javascript("node:crypto")


def test_workflow_entrypoint_and_non_retryable_error_import():
    from workers import WorkflowEntrypoint
    from workers.workflows import NonRetryableError

    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            raise NonRetryableError("stop")

    flow = Flow("ctx", "env")
    assert (flow.ctx, flow.env) == ("ctx", "env")
    assert issubclass(NonRetryableError, Exception)
