"""The long-lived conformance runner (dotdo_dev/conformance/runner.py): what it keeps between jobs is only
compiled code, never a job's state; a job that stalls or takes Node down fails alone."""

import os
import shutil
from pathlib import Path

import pytest

from dotdo_dev.conformance import check
from dotdo_dev.conformance.runner import runner_for

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "tests" / "fixtures" / "workers" / "hello"


@pytest.fixture
def variant(bundles, tmp_path):
    """`variant(code)`: a copy of hello's bundle whose entry.py is `code` (the rest as built)."""

    def make(code: str, name: str = "bundle") -> Path:
        bundle = tmp_path / name
        if not bundle.exists():
            shutil.copytree(bundles(HELLO), bundle)
        (bundle / "entry.py").write_text(code)
        return bundle

    return make


COUNTING = """
from workers import Response, WorkerEntrypoint

SEEN = []


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        SEEN.append(request.url)
        return Response(str(len(SEEN)))
"""


def test_each_job_gets_a_fresh_interpreter_and_fresh_bindings(variant):
    bundle = variant(COUNTING)
    first = check(ROOT, HELLO, bundle=bundle, requests=["/a", "/b"])
    second = check(ROOT, HELLO, bundle=bundle, requests=["/a"], services={"AUTH": {"ping": {"result": 1}}})
    assert first.ok, first.error
    assert second.ok, second.error
    assert [r["body"] for r in first.responses] == ["1", "2"]
    assert second.body == "1"  # the module was imported anew, not reused from the job before
    assert second.raw["calls"] == []  # nothing the job before recorded


def test_a_changed_bundle_never_runs_the_bytecode_of_the_one_before(variant):
    # Same size, same modification time: only the content tells them apart.
    bundle = variant(COUNTING.replace("str(len(SEEN))", '"AAAA"'))
    entry = bundle / "entry.py"
    before = check(ROOT, HELLO, bundle=bundle)
    stat = entry.stat()
    entry.write_text(COUNTING.replace("str(len(SEEN))", '"BBBB"'))
    os.utime(entry, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = check(ROOT, HELLO, bundle=bundle)
    assert (before.body, after.body) == ("AAAA", "BBBB")
    assert not list(bundle.rglob("__pycache__"))  # nothing written into the bundle


def test_a_job_that_stalls_fails_alone_and_the_next_gets_a_new_runner(variant):
    stalls = variant(
        COUNTING.replace(
            "SEEN.append(request.url)", "print('about to wait'); import asyncio; await asyncio.sleep(3600)"
        ),
        "stalls",
    )
    stalled = check(ROOT, HELLO, bundle=stalls, timeout=8)
    assert (stalled.ok, stalled.stage) == (False, "runner")
    assert "timed out" in stalled.error
    assert "about to wait" in stalled.error  # the worker's output reaches the error though the job never ended
    after = check(ROOT, HELLO, bundle=variant(COUNTING))
    assert after.ok, after.error
    assert after.body == "1"


def test_a_job_that_takes_node_down_is_a_runner_failure_with_its_output(variant):
    code = "print('going down'); import js; js.console.log('said the console'); js.process.exit(7)"
    exits = variant(COUNTING.replace("SEEN.append(request.url)", code))
    crashed = check(ROOT, HELLO, bundle=exits)
    assert (crashed.ok, crashed.stage) == (False, "runner")
    assert "exited with status 7" in crashed.error
    assert "going down" in crashed.error  # what the worker printed before, to tell why
    assert "said the console" in crashed.error  # and what it logged to the console
    assert check(ROOT, HELLO, bundle=variant(COUNTING, "fine")).ok


def test_a_runner_killed_between_jobs_is_replaced(variant):
    bundle = variant(COUNTING)
    assert check(ROOT, HELLO, bundle=bundle).ok
    runner = runner_for(ROOT / "node_modules" / "node" / "bin" / "node")
    assert runner.proc is not None
    runner.proc.kill()
    runner.proc.wait()
    again = check(ROOT, HELLO, bundle=bundle)
    assert again.ok, again.error
    assert again.body == "1"
