"""The Node process that runs conformance jobs: `runner.mjs --serve`, kept for many jobs.

Starting Node, compiling Pyodide's WebAssembly (and each extension module a bundle loads) and
compiling a bundle's Python modules to bytecode are most of what a job costs; a long-lived runner
pays each once per distinct module (the bytecode in a temporary folder it is given, removed with
it). Each job still gets a Pyodide of its own, restored from the snapshot, so no job sees what
another did.

One runner per Python process and repo (`runner_for`), started on first use. A job that outlives its
timeout kills the runner, and one that takes the runner down (a crash in Node) is answered as a
`runner` failure with the end of what it printed; either way the next job starts a new runner. A
runner is also replaced after `MAX_JOBS`, which bounds the memory Node keeps between jobs.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: What starts a result line on the runner's stdout (runner.mjs `RESULT_MARK`).
RESULT_MARK = "@@result "
#: Jobs a runner takes before it is replaced by a fresh one.
MAX_JOBS = 40


class RunnerFailed(RuntimeError):
    """The runner ended or stalled before answering a job: the message says how, with its last output."""


class Runner:
    """A `node runner.mjs --serve` process: `run(job_file, timeout)` answers the job's result dict."""

    def __init__(self, node: Path) -> None:
        self.node = node
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: Any = None  # the runner's stderr: what the workers printed
        self.jobs = 0
        self.buffer = b""
        self.bytecode: str | None = None  # the folder where the runner keeps compiled bundle modules

    def _start(self) -> subprocess.Popen[bytes]:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.bytecode = tempfile.mkdtemp(prefix="dotdo-conformance-bytecode-")
        self.proc = subprocess.Popen(  # noqa: S603 - the repo's node running our runner
            [str(self.node), "--no-warnings", str(HERE / "runner.mjs"), "--serve", self.bytecode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        self.jobs = 0
        self.buffer = b""
        return self.proc

    def close(self) -> None:
        """End the process (it finishes when its stdin closes; killed if it does not within 5 s)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()
            if self.log:
                self.log.close()
                self.log = None
            if self.bytecode:
                shutil.rmtree(self.bytecode, ignore_errors=True)
                self.bytecode = None

    def run(self, job_file: Path, timeout: float) -> dict[str, Any]:
        """Send the job and wait for its result line; `RunnerFailed` when the runner dies or stalls."""
        if self.proc is None or self.proc.poll() is not None or self.jobs >= MAX_JOBS:
            self.close()
            self._start()
        proc = self.proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        log_start = self.log.seek(0, os.SEEK_END)
        self.jobs += 1
        try:
            proc.stdin.write(f"{job_file}\n".encode())
            proc.stdin.flush()
            line = self._read_result(proc, time.monotonic() + timeout)
        except (OSError, RunnerFailed) as error:
            printed = self._printed_since(log_start)
            self.close()
            raise RunnerFailed(f"{error}\n{printed}".strip()) from None
        return json.loads(line)

    def _read_result(self, proc: subprocess.Popen[bytes], deadline: float) -> str:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                while b"\n" in self.buffer:
                    line, _, self.buffer = self.buffer.partition(b"\n")
                    text = line.decode("utf-8", "replace")
                    if text.startswith(RESULT_MARK):
                        return text[len(RESULT_MARK) :]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RunnerFailed("the job timed out")
                if not selector.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise RunnerFailed(f"the runner exited with status {proc.wait()}")
                self.buffer += chunk

    def _printed_since(self, offset: int) -> str:
        if self.log is None:
            return ""
        self.log.seek(offset)
        return self.log.read().decode("utf-8", "replace").strip()[-2000:]


_runners: dict[Path, Runner] = {}


def runner_for(node: Path) -> Runner:
    """This process's runner for the Node at `node` (one per repo), made on first use."""
    if node not in _runners:
        _runners[node] = Runner(node)
    return _runners[node]


@atexit.register
def _close_all() -> None:
    for runner in _runners.values():
        runner.close()
