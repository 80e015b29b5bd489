"""Module-level handlers (`on_fetch`, `on_scheduled`, `on_queue`) run as workerd ran them before 2025-08-14,
and are refused with what to do from that date on (`python_no_global_handlers`)."""

import itertools
import json
import re
import sys

import pytest
from workers import Request

from dotdo_dev.config import load_worker
from dotdo_dev.runtime.errors import WorkerError
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.state import StateDir

_numbers = itertools.count()

LEGACY = """
from workers import Response, handler

CALLS = []


@handler
async def on_fetch(request, env):
    return Response(f"{env.GREETING} {request.url}")


async def on_scheduled(controller, env, ctx):
    CALLS.append(("scheduled", controller.cron, env.GREETING))
"""


@pytest.fixture
def worker(tmp_path):
    """`worker(code, date, flags)`: an isolate of a worker whose main module is `code`."""
    made = []

    def make(code: str, date: str = "2025-03-01", flags: tuple[str, ...] = ()) -> Isolate:
        module = f"legacy_probe_{next(_numbers)}"
        folder = tmp_path / module
        (folder / "src").mkdir(parents=True)
        (folder / "src" / f"{module}.py").write_text(code)
        config = {
            "name": "legacy",
            "main": f"src/{module}.py",
            "compatibility_date": date,
            "compatibility_flags": ["python_workers", *flags],
            "vars": {"GREETING": "hi"},
        }
        (folder / "wrangler.jsonc").write_text(json.dumps(config))
        made.append((module, str(folder / "src")))
        return Isolate(load_worker(folder), state=StateDir(tmp_path / "state"), environ={})

    yield make
    for module, root in made:
        sys.modules.pop(module, None)
        if root in sys.path:
            sys.path.remove(root)


async def test_before_2025_08_14_module_level_handlers_are_the_workers_handlers(worker):
    isolate = worker(LEGACY)
    response, _ = await isolate.fetch(Request("https://legacy.do/x"))
    assert await response.text() == "hi https://legacy.do/x"  # on_fetch(request, env): fetch is relaxed
    await isolate.scheduled("5 * * * *")
    assert isolate.module.CALLS == [("scheduled", "5 * * * *", "hi")]


async def test_a_module_level_handler_is_called_relaxed_as_workerd_calls_it(worker):
    # workerd's makeHandler calls a module-level handler with doRelaxedPyCall: as many arguments as it takes.
    three = (
        'async def on_scheduled(controller, env, ctx):\n    CALLS.append(("scheduled", controller.cron, env.GREETING))'
    )
    one = 'async def on_scheduled(controller):\n    CALLS.append(("scheduled", controller.cron))'
    isolate = worker(LEGACY.replace(three, one))
    await isolate.scheduled("5 * * * *")
    assert isolate.module.CALLS == [("scheduled", "5 * * * *")]


async def test_a_module_level_handler_that_cannot_take_the_call_fails_as_on_cloudflare(worker):
    isolate = worker(
        LEGACY.replace(
            "async def on_scheduled(controller, env, ctx):", "async def on_scheduled(controller, env, ctx, x):"
        )
    )
    with pytest.raises(TypeError, match=re.escape("legacy: scheduled handler must be")):
        await isolate.scheduled("5 * * * *")
    assert isolate.module.CALLS == []


@pytest.mark.parametrize(
    ("date", "flags"), [("2025-08-14", ()), ("2026-11-01", ()), ("2025-03-01", ("python_no_global_handlers",))]
)
def test_from_2025_08_14_they_are_refused_saying_what_to_do(worker, date, flags):
    with pytest.raises(WorkerError) as refused:
        worker(LEGACY, date, flags)
    message = str(refused.value)
    assert "module-level on_fetch, on_scheduled but no `class Default(WorkerEntrypoint)`" in message
    assert "python_no_global_handlers" in message


async def test_the_disable_flag_keeps_them_after_the_date(worker):
    isolate = worker(LEGACY, "2026-11-01", ("disable_python_no_global_handlers",))
    response, _ = await isolate.fetch(Request("https://legacy.do/"))
    assert response.status == 200


def test_a_module_with_neither_is_refused_as_before(worker):
    with pytest.raises(WorkerError, match=r"defines no `class Default\(WorkerEntrypoint\)`"):
        worker("X = 1\n")


async def test_a_default_class_wins_over_module_level_handlers(worker):
    code = LEGACY + (
        "\n\nfrom workers import WorkerEntrypoint\n\n\nclass Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n        return Response('class')\n"
    )
    response, _ = await worker(code).fetch(Request("https://legacy.do/"))
    assert await response.text() == "class"
