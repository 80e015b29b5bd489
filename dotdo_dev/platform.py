"""The local platform: every worker in a process of its own, the dispatcher in front.

`make dev` runs `LocalPlatform(repo).run()`: it finds the dispatcher and every worker under
`workers/` (each folder with a `wrangler.jsonc`, `wrangler.json` or `wrangler.toml`), starts one host
process per worker, registers them all in the local dispatch namespace, and serves HTTP on
127.0.0.1:8787. Each request goes to the dispatcher worker, which routes it by `Host` (`<svc>.do`,
`<svc>.localhost`, ...) or by path (`/api/<svc>/...`), as in production.

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
import json
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

from dotdo_dev.compat import python_runtime
from dotdo_dev.config import (
    CONFIG_FILENAME,
    CONFIG_FILENAMES,
    LOCAL_ENVIRONMENT,
    NOT_PROVIDED_LOCALLY,
    ConfigError,
    WorkerConfig,
    find_config,
    load_local,
    secrets_for,
)
from dotdo_dev.deployed import LayoutError, lay_out, python_path
from dotdo_dev.front_door import EnvelopeProtocol, FrontDoor
from dotdo_dev.preflight import StartError, bind_port, check_state_folder
from dotdo_dev.runtime import output
from dotdo_dev.runtime.peers import DOWN_SUFFIX, SOCKETS_ENV, TOKEN_ENV, Peers
from dotdo_dev.runtime.resident import ResidentWorker
from dotdo_dev.runtime.state import StateDir, default_state_dir
from dotdo_dev.runtime.websocket_server import WebSocketProtocol
from dotdo_dev.supervision import RUNNING, RestartPolicy, WorkerHealth
from dotdo_dev.worker_deps import DependencyError, default_cache, python_path_for

log = logging.getLogger("dotdo.platform")

DISPATCHER = "dispatcher"
#: Where `make dev` serves the Cloudflare API stand-in (`dotdo_dev.cloudflare_api`); `LocalPlatform` serves it
#: only when given a port (0: any free one).
CLOUDFLARE_API_PORT = 8788
PUMP_CHUNK = 64 * 1024  # what one read of a worker's output takes at most (LocalPlatform._pump)
TOKEN_NAME = "CLOUDFLARE_API_TOKEN"  # noqa: S105 - a secret's name

# Dev URLs that run a worker's `scheduled` handler: wrangler dev's for Python workers, and `--test-scheduled`'s.


def find_repo_root(start: Path | None = None) -> Path:
    """The folder holding `pyproject.toml` and `workers/`, searching upwards."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "workers").is_dir():
            return candidate
    raise FileNotFoundError("not inside the dotdo workers repository (no pyproject.toml with a workers/ folder)")


def state_dir_for(folder: Path) -> Path:
    """The state folder for a worker in `folder`: the repository's (what `make dev` uses) when it is inside
    this repository, else `<folder>/.state` (`$DOTDO_STATE_DIR` first, in both cases)."""
    try:
        return default_state_dir(find_repo_root(folder))
    except FileNotFoundError:
        return default_state_dir(folder)


def discover_workers(root: Path) -> list[Path]:
    """The config of the dispatcher and of every worker under `workers/`: in each folder the file wrangler
    would read (`wrangler.json`, `wrangler.jsonc` or `wrangler.toml`, `config.find_config`); a folder with
    more than one is logged, naming the one used."""
    folders = [root / "dispatcher", *sorted(p for p in (root / "workers").glob("*") if p.is_dir())]
    found = []
    for folder in folders:
        config = find_config(folder)
        if config is None:
            continue
        others = [name for name in CONFIG_FILENAMES if name != config.name and (folder / name).is_file()]
        if others:
            log.warning(
                "%s: using %s (wrangler's order); %s beside it is not read", folder.name, config.name, ", ".join(others)
            )
        found.append(config)
    return found


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
        cloudflare_api_port: int | None = None,
        front_worker: str | None = None,
        dependency_cache: Path | None = None,
    ) -> None:
        self.root = root
        #: The worker the front door sends every request to: the dispatcher, or (`dotdo dev` in a worker's
        #: folder) that worker alone, as `wrangler dev` serves one worker.
        self.front_worker = front_worker or DISPATCHER
        self.dependency_cache = dependency_cache or default_cache()
        #: Per worker: what goes first on its PYTHONPATH (its own dependencies, `worker_deps`).
        self.python_paths: dict[str, str] = {}
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
        #: The dispatcher, run in this process (`runtime/resident.py`) when it is the front worker: None until
        #: started, or when the front worker is another (`dotdo dev` in a worker's folder) and has a process.
        self.resident: ResidentWorker | None = None
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
        #: Workers left out at start, and why (an unreadable config, a binding the local runtime lacks).
        self.not_started: dict[str, str] = {}
        self._stopping = False
        #: The Cloudflare API stand-in (None: not served); the deploy worker uploads through it.
        self.cloudflare_api_port = cloudflare_api_port
        self.cloudflare_api: Any = None
        #: The dispatch namespace this platform serves (its dispatcher's DISPATCHER), and what runs in it
        #: from uploads: {script name: its run folder}.
        self.namespace = f"dotdo-{LOCAL_ENVIRONMENT}"
        self.deployed: dict[str, Path] = {}
        self._overrides: dict[str, dict[str, str]] = {}  # per worker: values set over its vars (--vars-file)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, *, wait_seconds: float = 60.0) -> None:
        """Start every worker process and the front server; return when all answer."""
        configs = self._without_duplicate_names(self._runnable([*self.config_paths]))
        check_state_folder(self.state.root)  # before anything starts: one clear error, nothing to clean up
        front = bind_port(self.host, self.port)  # a second `make dev` stops here, before spawning a worker
        try:
            self.namespace = _served_namespace(configs, self.namespace)
            await self._start_cloudflare_api(configs)
            configs += self._deployed_configs({c.name for c in configs})
            self._supervising = True  # a worker failing its first start is retried like one that crashed later
            await self._start_workers(configs, wait_seconds)
        except BaseException:
            front.close()
            if self.cloudflare_api is not None:
                await self.cloudflare_api.stop()
            raise
        await self._serve_front(front)
        if self.watch:
            self._watcher = asyncio.create_task(self._watch())

    def _runnable(self, paths: list[Path]) -> list[WorkerConfig]:
        """The configs of `paths` the local runtime can run. One it cannot read, or that declares a binding
        the local runtime does not provide (`config.NOT_PROVIDED_LOCALLY`), is left out and said so (in the
        log and `/__platform`), and the others run; the dispatcher's is needed, so its failure is raised."""
        configs = []
        for path in paths:
            try:
                config = load_local(path)
            except ConfigError as exc:
                if path.parent.name == self.front_worker or len(paths) == 1:
                    raise
                self.not_started[path.parent.name] = str(exc)
                log.error("not starting the worker in %s: %s", path.parent.name, exc)
                continue
            try:
                extra = None
                if config.main:  # an assets-only Worker runs no Python of its own
                    python = python_runtime(config.compatibility_date, config.compatibility_flags).python
                    extra = python_path_for(config.path.parent, python, self.dependency_cache)
            except DependencyError as exc:
                if config.name == self.front_worker:
                    raise ConfigError(config.path, str(exc)) from None
                self.not_started[config.name] = str(exc)
                log.error("not starting worker %r: %s", config.name, exc)
                continue
            if extra:
                self.python_paths[config.name] = extra
                log.info("%s: its own dependencies from %s", config.name, extra)
            if config.not_provided:
                kinds = ", ".join(
                    f"{', '.join(names) or key} ({NOT_PROVIDED_LOCALLY[key]})"
                    for key, names in config.not_provided.items()
                )
                log.warning(
                    "%s: the local runtime does not provide %s; using it raises a clear error", config.name, kinds
                )
            configs.append(config)
        return configs

    def _without_duplicate_names(self, configs: list[WorkerConfig]) -> list[WorkerConfig]:
        """The first worker of each name (the dispatcher first, then the folders in order); a later one with a
        name already taken is left out and said so, as Cloudflare keeps one Worker per name (two of
        Cloudflare's examples are both named `python-cron`)."""
        kept: dict[str, WorkerConfig] = {}
        for config in configs:
            first = kept.setdefault(config.name, config)
            if first is not config:
                where = os.path.relpath(config.directory, self.root)
                reason = (
                    f"a worker named {config.name!r} already runs from {os.path.relpath(first.directory, self.root)}"
                )
                self.not_started[where] = reason
                log.error("not starting the worker in %s: %s; give it another name in its config", where, reason)
        return list(kept.values())

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
            if self._is_resident(config):
                if not self._load_resident(config):
                    await self.stop()
                    output = "\n".join(self.health[config.name].output)
                    raise StartError(f"worker {config.name!r} failed to start:\n{output}")
            else:
                await self._spawn(config, env)
        await self._wait_ready(wait_seconds)
        log.info("%d workers ready in %.2f s", len(configs), time.monotonic() - started)

    def _is_resident(self, config: WorkerConfig) -> bool:
        """Whether `config` runs in this process: the repository's dispatcher in front of the platform (with no
        dependencies of its own to put on a path, not an upload)."""
        name = config.name
        return name == DISPATCHER == self.front_worker and name not in self.python_paths and name not in self.deployed

    def _load_resident(self, config: WorkerConfig, *, reload: bool = False) -> bool:
        """(Re)load the dispatcher in this process; False (and its state `crashed-on-start`) if it cannot load."""
        if self.resident is None:
            self.resident = ResidentWorker(
                config,
                state=self.state,
                peers=self.peers,
                shared=self.root / "shared",
                environ=self._env,
                overrides=self._overrides.get(config.name),
            )
        health = self.health.setdefault(config.name, WorkerHealth(self.restart_policy))
        health.spawned(time.monotonic())
        if self.resident.load(config, reload=reload):
            health.ready()
            return True
        health.failed_to_load([self._without_paths(line, config) for line in self.resident.error.splitlines()])
        return False

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
        entry = await self._launch(config, env)
        self._track(entry)

    async def _launch(self, config: WorkerConfig, env: dict[str, str]) -> WorkerProcess:
        """Start a host process for `config` (an uploaded script: its packages first on PYTHONPATH)."""
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
        overrides = self._overrides.get(config.name)
        if overrides:
            vars_file = self.sockets / f"{config.name}.vars.json"  # the folder is 0700; the file 0600
            fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(overrides, fh)
            args += ["--vars-file", str(vars_file)]
        folder = self.deployed.get(config.name)
        if folder is not None and config.path.parent == folder:
            env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [python_path(folder), env.get("PYTHONPATH")]))}
        own = self.python_paths.get(config.name)
        if own:
            env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [own, env.get("PYTHONPATH")]))}
        process = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        entry = WorkerProcess(config, process, [])
        entry.pump = asyncio.create_task(self._pump(entry))
        self._pumps.add(entry.pump)
        entry.pump.add_done_callback(self._pumps.discard)
        return entry

    def _track(self, entry: WorkerProcess) -> None:
        """Make `entry` the process of its worker, supervised."""
        config = entry.config
        self.processes[config.name] = entry
        self.health.setdefault(config.name, WorkerHealth(self.restart_policy)).spawned(time.monotonic())
        entry.monitor = asyncio.create_task(self._monitor(entry))
        self._pumps.add(entry.monitor)
        entry.monitor.add_done_callback(self._pumps.discard)

    async def _pump(self, entry: WorkerProcess) -> None:
        """Copy a worker's output to ours, each line tagged with the worker's name.

        It reads what the pipe holds (up to `PUMP_CHUNK` bytes) and writes the lines it completes in one go: a
        busy worker's access lines (one per request) cost one write here per read, not one per line. A line
        longer than `PUMP_CHUNK` is passed on in pieces (`readline` would have raised, the pump stopped, and
        the worker blocked once the pipe filled)."""
        assert entry.process.stdout is not None
        pending = b""
        while True:
            chunk = await entry.process.stdout.read(PUMP_CHUNK)
            if not chunk:
                if pending:
                    self._relay(entry, [pending])
                return
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            while len(pending) >= PUMP_CHUNK:
                lines.append(pending[:PUMP_CHUNK])
                pending = pending[PUMP_CHUNK:]
            if lines:
                self._relay(entry, lines)

    def _relay(self, entry: WorkerProcess, lines: list[bytes]) -> None:
        """Keep `lines` of a worker's output, note its ready line, show the others tagged (`runtime/output.py`)."""
        texts = [line.decode("utf-8", errors="replace").rstrip() for line in lines]
        output.keep(entry.output, texts)
        shown = [text for text in texts if '"event": "ready"' not in text]
        if len(shown) < len(texts):
            entry.ready.set()
        output.show(entry.config.name, shown)

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
            elif self.resident is not None and name == self.resident.name:
                info["process"] = "platform"  # runs in the platform's own process (runtime/resident.py)
                if self.resident.isolate is not None:
                    info["pid"] = os.getpid()
            if name in self.deployed:  # an upload through the Cloudflare API, not the repository's source
                info["deployed"] = {"namespace": self.namespace, "bundle": self.deployed[name].name}
            workers[name] = info
        for name, reason in self.not_started.items():
            workers.setdefault(name, {"status": "not-started", "reason": reason})
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
                    if name == DISPATCHER and self.front_worker == DISPATCHER:  # the front door needs it
                        await self.stop()
                        raise StartError(f"worker {name!r} failed to start (exit {entry.process.returncode}):\n{tail}")
                    # the others run; it is retried with backoff, and at once when a file is saved
                    log.error("worker %r failed to start (exit %s):\n%s", name, entry.process.returncode, tail)
                    waiting.discard(name)
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
            http=EnvelopeProtocol,  # httptools; malformed HTTP gets a 400 envelope, not uvicorn's plain text
            ws=WebSocketProtocol,  # WebSocket upgrades, carried to the front worker (runtime/websocket_server.py)
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
        if self.resident is not None:
            self.resident.close()
        if self.cloudflare_api is not None:
            await self.cloudflare_api.stop()
            self.cloudflare_api = None
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
        if self.front_worker != DISPATCHER:  # one worker, as `wrangler dev` serves it (and says so)
            print(f"Ready on {self.url}  (worker {self.front_worker})", flush=True)
        else:
            resident = [self.resident.name] if self.resident is not None else []
            names = ", ".join(sorted([*self.processes, *resident]))
            print(f"dotdo local platform on {self.url}  (workers: {names})", file=sys.stderr, flush=True)
            print(f"  try: curl -s -H 'Host: <service>.do' {self.url}/health", file=sys.stderr, flush=True)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, self._serving}, return_when=asyncio.FIRST_COMPLETED)  # type: ignore[arg-type]
        await self.stop()

    # -- scripts deployed through the Cloudflare API stand-in ---------------------------------------
    async def _start_cloudflare_api(self, configs: list[WorkerConfig]) -> None:
        """Serve the stand-in (unless its port is None) and point the deploy worker at it.

        A worker that uploads with Cloudflare's API (it has a `CLOUDFLARE_API_URL` var and needs
        `CLOUDFLARE_API_TOKEN`) is given the stand-in's URL, account id and token, unless its `.dev.vars`
        holds a token of its own: then it deploys to that Cloudflare account, as it would in production.
        """
        if self.cloudflare_api_port is None:
            return
        from dotdo_dev.cloudflare_api.serve import CloudflareAPIServer

        digest = hashlib.sha256(str(self.state.root.resolve()).encode()).hexdigest()
        account_id = digest[:32]  # the shape of a Cloudflare account id, the same for a state folder
        self.cloudflare_api = CloudflareAPIServer(
            self.root,
            state_dir=self.state.root,
            port=self.cloudflare_api_port,
            account_id=account_id,
            environ={},  # its own token from the state folder: never a real one from the environment
            on_upload=self._run_upload,
            on_delete=self._remove_upload,
        )
        await self.cloudflare_api.start()
        for config in configs:
            if "CLOUDFLARE_API_URL" not in config.vars or TOKEN_NAME not in config.secrets_required:
                continue
            if secrets_for(config, {}).get(TOKEN_NAME):
                log.info("%s deploys to the Cloudflare account its .dev.vars names", config.name)
                continue
            self._overrides[config.name] = {
                "CLOUDFLARE_API_URL": self.cloudflare_api.base_url,
                "CLOUDFLARE_ACCOUNT_ID": account_id,
                TOKEN_NAME: self.cloudflare_api.token,
            }
            log.info("%s deploys to the local Cloudflare API at %s", config.name, self.cloudflare_api.base_url)

    def _deployed_configs(self, source: set[str]) -> list[WorkerConfig]:
        """Configs of the scripts uploaded earlier into the served namespace, laid out to run.

        A worker of the repository with the same name runs from source instead (a fresh `make dev` is
        for editing code); deploying it again runs the upload.
        """
        if self.cloudflare_api is None:
            return []
        store = self.cloudflare_api.app.store
        env = LOCAL_ENVIRONMENT  # the dispatcher's env.development serves this namespace
        configs = []
        for name, record in sorted(store.namespace_scripts(self.namespace).items()):
            if name in source or store.account_script_exists(name):
                continue
            try:
                folder = lay_out(store.bundle_dir(record["etag"]), name=name, into=store.root / "run", environment=env)
                configs.append(load_local(folder / CONFIG_FILENAME))
            except (LayoutError, ConfigError, OSError) as exc:
                log.error("not running %s, deployed to %s: %s", name, self.namespace, exc)
                continue
            self.deployed[name] = folder
        return configs

    async def _run_upload(self, namespace: str | None, name: str, bundle: Path) -> None:
        """Run a script uploaded into the served namespace in place of the one running under its name.

        Answered once it runs. One that cannot start is refused as Cloudflare refuses a script whose
        top level throws at upload (code 10021), and whatever ran before goes on running.
        """
        from dotdo_dev.cloudflare_api.errors import SCRIPT_INVALID, CloudflareError

        if namespace != self.namespace:
            where = f"dispatch namespace {namespace}" if namespace else "the account"
            log.info("stored %s in %s; the local platform runs the scripts of %s", name, where, self.namespace)
            return
        if self.cloudflare_api.app.store.account_script_exists(name):
            log.warning("stored %s in %s; not run: an account-level worker has its name", name, namespace)
            return
        try:
            run = self.cloudflare_api.app.store.root / "run"
            folder = lay_out(bundle, name=name, into=run, environment=LOCAL_ENVIRONMENT)
            config = load_local(folder / CONFIG_FILENAME)
        except (LayoutError, ConfigError) as exc:
            raise CloudflareError(400, SCRIPT_INVALID, f"The local platform cannot run this script: {exc}") from None
        failure = await self._replace(config, folder)
        if failure is not None:
            raise CloudflareError(400, SCRIPT_INVALID, f"Uncaught error at script startup: {failure}")
        log.info("%s: running the upload %s from %s", name, bundle.name[:12], namespace)

    async def _remove_upload(self, namespace: str | None, name: str) -> None:
        """A script deleted from the served namespace stops (the repository's worker of its name runs again)."""
        if namespace != self.namespace or self.deployed.pop(name, None) is None:
            return
        source = next((p for p in discover_workers(self.root) if _name_of(p) == name), None)
        if source is not None and self.discovering:
            await self.restart(source)
            return
        await self._stop_worker(name)
        (self.sockets / f"{name}.registered").unlink(missing_ok=True)
        self.health.pop(name, None)
        log.info("%s: deleted from %s, stopped", name, namespace)

    async def _replace(self, config: WorkerConfig, folder: Path, *, wait_seconds: float = 30.0) -> str | None:
        """Start `config` (from the run folder `folder`) beside the process running its name, and switch
        to it once it answers; None, or the end of its output if it does not start."""
        name = config.name
        old = self.processes.get(name)
        previous_folder = self.deployed.get(name)
        self.deployed[name] = folder
        registered = self.sockets / f"{name}.registered"
        previous = registered.read_text() if registered.exists() else None
        registered.write_text(str(config.path))
        entry = await self._launch(config, self._env)
        exited = asyncio.ensure_future(entry.process.wait())
        ready = asyncio.ensure_future(entry.ready.wait())
        try:
            await asyncio.wait({exited, ready}, timeout=wait_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            exited.cancel()
        if not entry.ready.is_set():
            await _terminate(entry.process)
            if entry.pump is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(entry.pump), 1.0)
            if previous_folder is None:
                self.deployed.pop(name, None)
            else:
                self.deployed[name] = previous_folder
            if previous is None:
                registered.unlink(missing_ok=True)
            else:
                registered.write_text(previous)
            lines = [self._without_paths(line, config) for line in entry.output if line.strip()]
            return " | ".join(lines[-5:])[-1500:] or f"exit {entry.process.returncode}"
        if old is not None:
            old.stopping = True
            if old.monitor is not None:
                old.monitor.cancel()
        self.health.pop(name, None)  # a new script: its restarts are its own
        self._track(entry)
        self._mark_down(name, None)
        if old is not None:
            await _terminate(old.process)
        return None

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
        if self.resident is not None and config.name == self.resident.name:
            self.health[config.name].edited()
            if not self._load_resident(config, reload=True):
                log.error("worker %r failed to start; it is tried again when a file is saved", config.name)
                return False
            log.info("worker %r reloaded", config.name)
            return True
        await self._stop_worker(config.name)
        if self.deployed.get(config.name) not in (None, config.path.parent):
            self.deployed.pop(config.name)  # the repository's worker runs again in place of the upload
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


def _served_namespace(configs: list[WorkerConfig], default: str) -> str:
    """The dispatch namespace the dispatcher's `DISPATCHER` binding names (its local environment's)."""
    for config in configs:
        if config.name == DISPATCHER:
            for entry in config.dispatch_namespaces:
                if entry.binding == "DISPATCHER":
                    return entry.namespace
    return default


def _name_of(path: Path) -> str | None:
    try:
        return load_local(path).name
    except ConfigError:
        return None


_IGNORED = {"python_modules", "__pycache__", "node_modules", "tests"}


def _tree_stamp(folder: Path) -> tuple[int, int]:
    """(newest mtime in ns, file count) of the files under `folder` that a worker runs."""
    newest, count = 0, 0
    stack = [folder]
    while stack:
        with contextlib.suppress(FileNotFoundError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    # Hidden folders are never a worker's code: `.state` (a worker outside this repository keeps
                    # its local state there, written on every request), `.wrangler`, `.venv`, `.git`, caches.
                    if entry.name not in _IGNORED and not entry.name.startswith("."):
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    count += 1
                    newest = max(newest, entry.stat().st_mtime_ns)
    return newest, count
