"""The local platform: every worker in a process of its own, the dispatcher in front.

`make dev` runs `LocalPlatform(repo).run()`: it finds the dispatcher and every worker under
`workers/` (each folder with a `wrangler.jsonc`), starts one host process per worker, registers
them all in the local dispatch namespace, and serves HTTP on 127.0.0.1:8787. Each request goes
to the dispatcher worker, which routes it by `Host` (`<svc>.do`, `<svc>.localhost`, ...) or by
path (`/api/<svc>/...`), as in production.

Development URLs served by the front itself (never reach a worker's `fetch`):
- `GET /cdn-cgi/handler/scheduled?cron=<expr>` (optionally `&time=<ms since the epoch>`, which becomes
  `controller.scheduledTime`) with `Host: <svc>.do` (or `?worker=<svc>`): run that worker's
  `scheduled` handler now, as `wrangler dev` does for Python workers. `GET /__scheduled?...` (the
  `wrangler dev --test-scheduled` URL) does the same.
- `GET /__platform`: each worker's state (`describe()`), as JSON.
Both answer any local caller: they are for development only.

A worker process that dies unasked is restarted with backoff and reported while it is down
(`dotdo_dev.supervision`); the state folder and the port are checked before any worker starts
(`dotdo_dev.preflight`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotdo_dev.config import CONFIG_FILENAME, ConfigError, WorkerConfig, load_local
from dotdo_dev.front_door import EnvelopeH11Protocol, FrontDoor
from dotdo_dev.preflight import StartError, bind_port, check_state_folder
from dotdo_dev.runtime.peers import DOWN_SUFFIX, SOCKETS_ENV, TOKEN_ENV, Peers
from dotdo_dev.runtime.state import StateDir, default_state_dir
from dotdo_dev.supervision import RUNNING, RestartPolicy, WorkerHealth

log = logging.getLogger("dotdo.platform")

DISPATCHER = "dispatcher"

# Dev URLs that run a worker's `scheduled` handler: wrangler dev's for Python workers, and `--test-scheduled`'s.


def find_repo_root(start: Path | None = None) -> Path:
    """The folder holding `pyproject.toml` and `workers/`, searching upwards."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "workers").is_dir():
            return candidate
    raise FileNotFoundError("not inside the dotdo workers repository (no pyproject.toml with a workers/ folder)")


def discover_workers(root: Path) -> list[Path]:
    """`wrangler.jsonc` of the dispatcher and of every worker under `workers/`."""
    found = [root / "dispatcher" / CONFIG_FILENAME]
    found += sorted((root / "workers").glob(f"*/{CONFIG_FILENAME}"))
    return [p for p in found if p.is_file()]


@dataclass
class WorkerProcess:
    """One process of a worker: its output (last 200 lines), whether it answers, whether we stop it."""

    config: WorkerConfig
    process: asyncio.subprocess.Process
    output: list[str]
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False  # the platform ends it (reload, removal, shutdown): not a crash
    pump: asyncio.Task[None] | None = None
    monitor: asyncio.Task[None] | None = None


class LocalPlatform:
    """Start, serve and stop the local platform."""

    def __init__(
        self,
        root: Path,
        *,
        configs: list[Path] | None = None,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 8787,
        environ: dict[str, str] | None = None,
        watch: bool = False,
        watch_interval: float = 1.0,
    ) -> None:
        self.root = root
        self.discovering = configs is None
        self.config_paths = configs if configs is not None else discover_workers(root)
        self.watch = watch
        self.watch_interval = watch_interval
        self.state = StateDir(state_dir or default_state_dir(root))
        self.host = host
        self.port = port
        self.environ = environ
        self.token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(str(self.state.root.resolve()).encode()).hexdigest()[:10]
        self.sockets = Path(tempfile.gettempdir()) / f"dotdo-{os.getuid()}-{digest}-{os.getpid()}"
        self.peers = Peers(self.sockets, self.token)
        self.processes: dict[str, WorkerProcess] = {}
        self._server: Any = None
        self._serving: asyncio.Task[Any] | None = None
        self.bound_port: int | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._env: dict[str, str] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._front_door = FrontDoor(self)
        self.restart_policy = RestartPolicy()
        self.health: dict[str, WorkerHealth] = {}  # per worker name, across its processes
        self._supervising = False  # after start(): a worker that dies is restarted
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, *, wait_seconds: float = 60.0) -> None:
        """Start every worker process and the front server; return when all answer."""
        configs = [load_local(p) for p in self.config_paths]
        names = [c.name for c in configs]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ConfigError(self.root, f"two workers are named {sorted(duplicates)}")
        check_state_folder(self.state.root)  # before anything starts: one clear error, nothing to clean up
        front = bind_port(self.host, self.port)  # a second `make dev` stops here, before spawning a worker
        try:
            await self._start_workers(configs, wait_seconds)
        except BaseException:
            front.close()
            raise
        await self._serve_front(front)
        self._supervising = True
        if self.watch:
            self._watcher = asyncio.create_task(self._watch())

    async def _start_workers(self, configs: list[WorkerConfig], wait_seconds: float) -> None:
        self._make_private_sockets_folder()
        for config in configs:
            (self.sockets / f"{config.name}.registered").write_text(str(config.path))
        env = dict(os.environ if self.environ is None else self.environ)
        env[SOCKETS_ENV] = str(self.sockets)
        env[TOKEN_ENV] = self.token
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._env = env
        started = time.monotonic()
        for config in configs:
            await self._spawn(config, env)
        await self._wait_ready(wait_seconds)
        log.info("%d workers ready in %.2f s", len(configs), time.monotonic() - started)

    def _make_private_sockets_folder(self) -> None:
        """The folder of the workers' sockets, created 0700 with a name no one else can have taken first.

        Only the account running the platform may enter it, so no other local account can reach a worker's
        socket (each is 0600 too; see `host.private_socket`).
        """
        digest = hashlib.sha256(str(self.state.root.resolve()).encode()).hexdigest()[:10]
        prefix = f"dotdo-{os.getuid()}-{digest}-{os.getpid()}-"
        self.sockets = Path(tempfile.mkdtemp(prefix=prefix, dir=tempfile.gettempdir()))  # mode 0700, a fresh name
        self.peers.sockets_dir = self.sockets

    async def _spawn(self, config: WorkerConfig, env: dict[str, str]) -> None:
        args = [
            sys.executable,
            "-m",
            "dotdo_dev.runtime.host",
            "--config",
            str(config.path),
            "--state",
            str(self.state.root),
            "--sockets",
            str(self.sockets),
        ]
        process = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        entry = WorkerProcess(config, process, [])
        self.processes[config.name] = entry
        self.health.setdefault(config.name, WorkerHealth(self.restart_policy)).spawned(time.monotonic())
        entry.pump = asyncio.create_task(self._pump(entry))
        entry.monitor = asyncio.create_task(self._monitor(entry))
        for task in (entry.pump, entry.monitor):
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, entry: WorkerProcess) -> None:
        """Copy a worker's output to ours, each line tagged with the worker's name."""
        assert entry.process.stdout is not None
        while True:
            line = await entry.process.stdout.readline()
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip()
            entry.output.append(text)
            del entry.output[:-200]
            if '"event": "ready"' in text:
                entry.ready.set()
            else:
                print(f"[{entry.config.name}] {text}", file=sys.stderr, flush=True)

    # -- supervision ---------------------------------------------------------------------------------
    async def _monitor(self, entry: WorkerProcess) -> None:
        """Watch one worker process: note when it answers, and start it again (with backoff) if it dies unasked."""
        name = entry.config.name
        health = self.health[name]
        exited = asyncio.ensure_future(entry.process.wait())
        ready = asyncio.ensure_future(entry.ready.wait())
        try:
            await asyncio.wait({exited, ready}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        was_ready = entry.ready.is_set()
        if was_ready:
            if health.status != RUNNING and health.restarts:
                log.info("worker %r is running again (restart %d)", name, health.restarts)
            health.ready()
            self._mark_down(name, None)
            await exited
        if entry.stopping or self._stopping or (not was_ready and not self._supervising):
            return  # asked to stop; or the first start failed, which start() reports
        if entry.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(entry.pump), 1.0)  # the last lines it wrote
        output = [self._without_paths(line, entry.config) for line in entry.output]
        delay = health.exited(entry.process.returncode, was_ready=was_ready, now=time.monotonic(), output=output)
        self._mark_down(name, health.status)
        self.peers.socket_path(name).unlink(missing_ok=True)  # the dead process's socket
        if was_ready:
            log.error("worker %r exited unexpectedly (%s); restarting in %.1f s", name, health.last_exit, delay)
        elif health.crash_looping:
            log.error(
                "worker %r crashed on start (%s) %d times within %.0f s; retrying every %.0f s or when a file is saved",
                name,
                health.last_exit,
                self.restart_policy.crash_limit,
                self.restart_policy.crash_window,
                delay,
            )
        else:
            log.error("worker %r crashed on start (%s); retrying in %.1f s", name, health.last_exit, delay)
        await asyncio.sleep(delay)
        if self._stopping or self.processes.get(name) is not entry:
            return
        await self._spawn(entry.config, self._env)

    def _mark_down(self, name: str, status: str | None) -> None:
        """Tell every process that `name` is down (`restarting`, `crashed-on-start`), or up again (None)."""
        marker = self.sockets / f"{name}{DOWN_SUFFIX}"
        if status is None:
            marker.unlink(missing_ok=True)
        else:
            marker.write_text(status)

    def _without_paths(self, line: str, config: WorkerConfig) -> str:
        """An output line with absolute paths made relative: to the repository, else to the worker's parent folder."""
        for folder, shown in ((self.root, ""), (config.path.parent.parent, ""), (Path(sys.base_prefix), "<python>/")):
            for form in {str(folder), str(folder.resolve())}:
                line = line.replace(f"{form}{os.sep}", shown)
        return line

    def describe(self) -> dict[str, Any]:
        """What `/__platform` shows: each worker's state, and the state folder relative to the repository."""
        now = time.monotonic()
        workers = {}
        for name in sorted(set(self.processes) | set(self.health)):  # health outlives a process being reloaded
            entry = self.processes.get(name)
            info = self.health[name].describe(now) if name in self.health else {"status": "starting"}
            if entry is not None and entry.process.returncode is None:
                info["pid"] = entry.process.pid
            workers[name] = info
        return {"workers": workers, "state": os.path.relpath(self.state.root.resolve(), self.root.resolve())}

    async def _wait_ready(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        waiting = set(self.processes)
        while waiting:
            for name in list(waiting):
                entry = self.processes[name]
                if self.peers.socket_path(name).exists():
                    waiting.discard(name)
                elif entry.process.returncode is not None:
                    await asyncio.sleep(0.1)
                    tail = "\n".join(entry.output[-30:])
                    await self.stop()
                    raise StartError(f"worker {name!r} failed to start (exit {entry.process.returncode}):\n{tail}")
            if waiting and time.monotonic() > deadline:
                await self.stop()
                raise StartError(f"workers did not start within {wait_seconds:.0f} s: {sorted(waiting)}")
            if waiting:
                await asyncio.sleep(0.02)

    async def _serve_front(self, sock: socket.socket) -> None:
        """Serve the front door on `sock` (bound by `preflight.bind_port`, before any worker started)."""
        import uvicorn

        self.bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.front,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            http=EnvelopeH11Protocol,  # malformed HTTP gets a 400 envelope, not uvicorn's plain text
            # The client address is the TCP peer's: uvicorn would otherwise believe a local client's
            # X-Forwarded-For, and the front door's CF-Connecting-IP (the rate-limit key) with it.
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # the platform owns signals
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                await self._serving
                raise RuntimeError(f"could not serve on {self.host}:{self.port}")
            await asyncio.sleep(0.01)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.bound_port or self.port}"

    async def stop(self) -> None:
        """Stop the front server and every worker process."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self._stopping = True
        self._supervising = False
        for entry in self.processes.values():
            entry.stopping = True
            if entry.monitor is not None:
                entry.monitor.cancel()
        if self._server is not None:
            self._server.should_exit = True
            if self._serving is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._serving, 5)
            self._server = None
        await asyncio.gather(*(_terminate(entry.process) for entry in self.processes.values()))
        self.processes.clear()
        await self.peers.aclose()
        if self.sockets.exists():
            for leftover in self.sockets.iterdir():
                leftover.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.sockets.rmdir()

    async def __aenter__(self) -> LocalPlatform:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    async def run(self) -> None:
        """Serve until interrupted (Ctrl-C or SIGTERM)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        names = ", ".join(sorted(self.processes))
        print(f"dotdo local platform on {self.url}  (workers: {names})", file=sys.stderr, flush=True)
        print(f"  try: curl -s -H 'Host: <service>.do' {self.url}/health", file=sys.stderr, flush=True)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, self._serving}, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[arg-type]
        await self.stop()

    # -- reloading on change (make dev) -----------------------------------------------------------
    async def _stop_worker(self, name: str) -> None:
        entry = self.processes.pop(name, None)
        if entry is not None:
            entry.stopping = True
            if entry.monitor is not None and entry.monitor is not asyncio.current_task():
                entry.monitor.cancel()  # also a pending retry: this stop is followed by a fresh start
            await _terminate(entry.process)
        self.peers.socket_path(name).unlink(missing_ok=True)
        await self.peers.forget(name)

    async def restart(self, path: Path, *, wait_seconds: float = 30.0) -> bool:
        """(Re)start the worker configured at `path`. False, and the error logged, if it cannot start."""
        try:
            config = load_local(path)
        except ConfigError as exc:
            log.error("not restarting: %s", exc)
            return False
        await self._stop_worker(config.name)
        if config.name in self.health:
            self.health[config.name].edited()  # a saved file: a fresh try, however often it crashed before
        (self.sockets / f"{config.name}.registered").write_text(str(config.path))
        await self._spawn(config, self._env)
        entry = self.processes[config.name]
        deadline = time.monotonic() + wait_seconds
        while not self.peers.socket_path(config.name).exists():
            if entry.process.returncode is not None or time.monotonic() > deadline:
                await asyncio.sleep(0.1)
                log.error("worker %r failed to start; it is retried, and again when a file is saved", config.name)
                return False
            await asyncio.sleep(0.02)
        log.info("worker %r reloaded", config.name)
        return True

    def _stamps(self) -> dict[Path, tuple[int, int]]:
        """Per worker config: (newest modification time, number of files) of its folder and of shared/."""
        paths = discover_workers(self.root) if self.discovering else self.config_paths
        shared_newest, shared_count = _tree_stamp(self.root / "shared")
        stamps = {}
        for path in paths:
            newest, count = _tree_stamp(path.parent)
            stamps[path] = (max(newest, shared_newest), count + shared_count)
        return stamps

    async def _watch(self) -> None:
        """Restart a worker when its files (or shared/) change; start workers that appear; stop removed ones."""
        known = self._stamps()
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                current = self._stamps()
                for path in sorted(set(known) - set(current)):
                    name = next((n for n, e in self.processes.items() if e.config.path == path.resolve()), None)
                    if name:
                        await self._stop_worker(name)
                        (self.sockets / f"{name}.registered").unlink(missing_ok=True)
                        self._mark_down(name, None)
                        self.health.pop(name, None)
                        log.info("worker %r removed", name)
                for path, stamp in sorted(current.items()):
                    if known.get(path) != stamp:
                        await self.restart(path)
                known = current
            except Exception:
                log.exception("watching for changes failed; will retry")

    # -- the front door ----------------------------------------------------------------------------
    async def front(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI app on the public port (`dotdo_dev.front_door`): checks, dev URLs, then the dispatcher."""
        await self._front_door(scope, receive, send)


async def _terminate(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited after `grace` seconds."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


_IGNORED = {"python_modules", "__pycache__", ".pytest_cache", "node_modules", "tests"}


def _tree_stamp(folder: Path) -> tuple[int, int]:
    """(newest mtime in ns, file count) of the files under `folder` that a worker runs."""
    newest, count = 0, 0
    stack = [folder]
    while stack:
        with contextlib.suppress(FileNotFoundError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _IGNORED:
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    count += 1
                    newest = max(newest, entry.stat().st_mtime_ns)
    return newest, count
