"""A worker run inside the platform's own process: the dispatcher, which every request reaches first.

    resident = ResidentWorker(config, state=state, peers=peers, environ=env)
    resident.load()                              # False, and `resident.error` says why, if it cannot start
    response = await resident.fetch(request)     # RemoteError for an exception in the worker

Every other worker runs in a process of its own (`host.py`). The dispatcher is the exception: it is the
platform's own front worker, it binds nothing that needs a process (no queue consumers, crons or
Durable Objects), and a hop to a process of its own cost every request a socket write, a wake-up of that
process and an HTTP parse each way: `db.do/health` took 0.97-1.02 ms with it and 0.70 ms without, and
the platform served 3,000-3,200 such requests a second instead of 4,600-4,700 (benchmarks/http_paths.py's
client, same session). workerd runs every worker of a `wrangler dev` session in one process as well.

What a process gave the dispatcher, kept here:
- its modules are its own: imported with its folder first on `sys.path`, then held by its isolate and
  taken out of `sys.modules` and the path (no other code in the process sees a module `entry` that is the
  dispatcher's: its code imports its own modules at the top, not in functions); reloading (a saved file
  in its folder or in `shared/`) imports them again, and `shared/`'s too, as a new process would;
- an exception in its `fetch` is a `RemoteError` carrying only the message (the traceback is logged),
  as a call to a worker process is; a dispatcher that cannot load keeps `error` and answers nothing;
- what it prints is tagged `[dispatcher]` on the platform's stderr as a worker process's output is, and
  the last 200 lines are kept for `/__platform` (`output`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from workers import Request, Response

from dotdo_dev.config import WorkerConfig
from dotdo_dev.runtime import output
from dotdo_dev.runtime.bindings.assets import ASSETS_RESOURCE
from dotdo_dev.runtime.errors import describe
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.peers import Peers, RemoteError
from dotdo_dev.runtime.state import StateDir

__all__ = ["ResidentWorker"]

log = logging.getLogger("dotdo.platform")

#: The resident worker whose code is running in this task (what it prints is its output), or None.
_running: contextvars.ContextVar[ResidentWorker | None] = contextvars.ContextVar("dotdo_resident", default=None)


class ResidentWorker:
    """One worker loaded into this process: `load`, `fetch`, `close`."""

    def __init__(
        self,
        config: WorkerConfig,
        *,
        state: StateDir,
        peers: Peers,
        shared: Path,
        environ: dict[str, str] | None = None,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.peers = peers
        self.environ = environ
        self.overrides = overrides
        #: Folders whose modules are the worker's own: dropped from `sys.modules` when it is loaded again.
        self.folders = [config.directory.resolve(), shared.resolve()]
        self.isolate: Isolate | None = None
        self.error: str | None = None
        self.output: list[str] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._partial = ""

    @property
    def name(self) -> str:
        return self.config.name

    def load(self, config: WorkerConfig | None = None, *, reload: bool = False) -> bool:
        """Load the worker (from `config` if given), its own modules imported afresh, and `shared/`'s too when
        `reload`ing (a saved file). False, and `error` set, if it cannot start."""
        self.close()
        self.config = config or self.config
        self._forget_modules(with_shared=reload)
        root = str(self.config.module_root)
        sys.path.insert(0, root)  # first: no folder of another worker with modules of the same names shadows it
        token = _running.set(self)  # what its module prints at import is its output too
        try:
            self.isolate = Isolate(
                self.config, state=self.state, peers=self.peers, environ=self.environ, overrides=self.overrides
            )
            self.isolate.start_alarms()
        except Exception as exc:
            self.isolate = None
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("worker %r failed to start: %s", self.name, self.error)
            return False
        finally:
            _running.reset(token)
            # Its modules stay alive through the isolate, not under their names in this process: nothing else
            # here (another worker loaded in-process by a test harness) finds an `entry` that is not its own.
            sys.path.remove(root)
            self._forget_modules(with_shared=False)
        self.error = None
        _install_tagged_stdout()
        return True

    async def fetch(self, request: Request) -> Response:
        """Run the worker's `fetch` (its static assets first, if it has any); an exception raises `RemoteError`."""
        isolate = self.isolate
        if isolate is None:
            raise RemoteError(f"worker {self.name!r} failed to start: {self.error}")
        token = _running.set(self)
        try:
            assets = isolate.resources.get(ASSETS_RESOURCE)
            served = await assets.route(request) if assets is not None else None
            if served is not None:
                return served
            response, ctx = await isolate.fetch(request)
        except Exception as exc:
            log.exception("%s: uncaught exception in fetch", self.name)
            raise RemoteError(describe(exc)) from None
        finally:
            _running.reset(token)
        ctx.drain_later(self._background)  # its waitUntil work runs on after the answer, as in a worker process
        return response

    def close(self) -> None:
        """Stop its alarms; the next `load` starts it afresh."""
        if self.isolate is not None:
            self.isolate.stop_alarms()
            self.isolate = None

    def _forget_modules(self, *, with_shared: bool) -> None:
        """Drop what an import of the worker must read again: the modules loaded from its folder, any module of
        the same name as one of its own (another worker's `entry`), and those of `shared/` if `with_shared`.
        Code of the platform that imported a dropped module keeps the objects it holds."""
        root = self.config.module_root
        own = {path.stem for path in root.glob("*.py")} | {path.name for path in root.iterdir() if path.is_dir()}
        folders = self.folders if with_shared else self.folders[:1]
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if name.split(".", 1)[0] in own or (file and any(_inside(file, folder) for folder in folders)):
                del sys.modules[name]

    def _print(self, text: str) -> None:
        """Text it printed: whole lines kept and shown on stderr, tagged (`output`)."""
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        output.keep(self.output, lines)
        output.show(self.name, lines)


def _inside(file: str, folder: Path) -> bool:
    try:
        return Path(os.path.realpath(file)).is_relative_to(folder)
    except (OSError, ValueError):
        return False


class _TaggedStdout:
    """`sys.stdout` while a resident worker is loaded: text printed by a resident worker's code goes to it
    (`ResidentWorker._print`), anything else to the real stdout."""

    def __init__(self, real: TextIO) -> None:
        self.real = real

    def write(self, text: str) -> int:
        worker = _running.get()
        if worker is None:
            return self.real.write(text)
        worker._print(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _install_tagged_stdout() -> None:
    if not isinstance(sys.stdout, _TaggedStdout):
        sys.stdout = _TaggedStdout(sys.stdout)
