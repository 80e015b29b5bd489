"""Test one worker in-process: `WorkerHarness` loads it with real local bindings.

A worker's `tests/conftest.py` typically does::

    import pytest
    from dotdo_dev.testing import WorkerHarness, worker_root

    ROOT = worker_root(__file__)          # the worker folder; puts src/ on sys.path like Cloudflare

    @pytest.fixture
    def worker(tmp_path):
        return WorkerHarness(ROOT, state_dir=tmp_path)

RPC calls made through the harness cross the same serialization boundary as on Cloudflare, so a
method that returns something Cloudflare could not send fails here too. Service bindings to other
workers need the whole platform (`LocalPlatform`); in a unit test pass stand-ins with `bindings=`.
"""

from __future__ import annotations

import json as jsonlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workers import Request
from workers.response import FetchResponse

from dotdo_dev.config import load_worker
from dotdo_dev.runtime import wire
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.state import StateDir
from shared.errors import Unauthorized, from_rpc_exception, rpc_error


def copy_repo(root: Path, target: Path) -> Path:
    """A copy of the repo's files (tracked, or new and not ignored) in `target`, sharing node_modules.

    For tests that generate services or otherwise change the tree.
    """
    import subprocess

    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git from PATH
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in files:
        source = root / name
        if source.is_file():
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(source.read_bytes())
    (target / "node_modules").symlink_to(root / "node_modules")
    return target


def worker_root(test_file: str | Path) -> Path:
    """The worker folder of a test file (`<worker>/tests/...`), with its module root put on `sys.path`."""
    here = Path(test_file).resolve()
    for candidate in here.parents:
        if (candidate / "wrangler.jsonc").is_file():
            config = load_worker(candidate)
            root = str(config.module_root)
            if root not in sys.path:
                sys.path.insert(0, root)
            return candidate
    raise FileNotFoundError(f"no wrangler.jsonc above {here}")


class WorkerHarness:
    """One worker loaded in this process, with D1/KV/Queues on SQLite files under `state_dir`."""

    def __init__(
        self,
        worker_dir: str | Path,
        *,
        state_dir: str | Path,
        bindings: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
        environment: str | None = None,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
    ) -> None:
        self.config = load_worker(worker_dir, environment=environment)
        self.isolate = Isolate(
            self.config,
            state=StateDir(state_dir),
            bindings=bindings,
            environ=environ if environ is not None else {},
            clock=clock,
        )
        self.host = host or f"{self.config.name}.do"

    @property
    def env(self) -> Any:
        return self.isolate.env

    async def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        body: str | bytes | None = None,
        json: Any = None,
    ) -> FetchResponse:
        """Send a request to the worker's `fetch` (path relative to `http://<name>.do`, or a full URL)."""
        url = f"http://{self.host}{path}" if path.startswith("/") else path
        header_list = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if json is not None:
            body = jsonlib.dumps(json)
            if not any(k.lower() == "content-type" for k, _ in header_list):
                header_list.append(("content-type", "application/json"))
        request = Request(url, method=method, headers=header_list, body=body)
        response, ctx = await self.isolate.fetch(request)
        await ctx.drain()
        return response

    async def rpc(self, method: str, *args: Any, entrypoint: str | None = None, **kwargs: Any) -> Any:
        """Call an RPC method as another worker would: arguments and result cross the RPC boundary."""
        call = wire.cross({"args": list(args), "kwargs": kwargs})
        value, ctx = await self.isolate.call(entrypoint, method, call["args"], call["kwargs"])
        await ctx.drain()
        return wire.cross(value)

    async def deliver_queue(self, queue: str | None = None) -> int:
        """Deliver every waiting message of a queue this worker consumes to its `queue` handler.

        Returns how many deliveries were made (retried messages come back until settled or
        dead-lettered). `queue` defaults to the worker's only consumer.
        """
        from dotdo_dev.runtime.bindings.queues import QueueConsumer

        consumers = {c.queue: c for c in self.config.queue_consumers}
        if queue is None and len(consumers) == 1:
            queue = next(iter(consumers))
        if queue not in consumers:
            raise ValueError(f"{self.config.name} consumes {sorted(consumers)}, not {queue!r}")
        consumer = QueueConsumer(self.isolate.queue_store, consumers[queue], self.isolate.queue)
        total = 0
        while delivered := await consumer.deliver_once(force=True):
            total += delivered
        return total

    async def scheduled(self, cron: str, scheduled_time: float | None = None) -> None:
        """Run the `scheduled` handler as the cron `cron` would."""
        ctx = await self.isolate.scheduled(cron, scheduled_time)
        await ctx.drain()


# -- helpers every service's tests use (also offered as fixtures by dotdo_dev.pytest_plugin) ---------------


class StandInAuth:
    """Answers like the auth service's `validate_token` RPC method, for a fixed set of tokens.

    `principals` maps each token to the principal auth would answer; any other token is refused as
    auth refuses it (an RPC error carrying 401 INVALID_TOKEN). `calls` lists the tokens asked about.
    """

    def __init__(self, principals: dict[str, dict[str, Any]]) -> None:
        self.principals = principals
        self.calls: list[str] = []

    async def validate_token(self, token: str, request_id: str | None = None) -> dict[str, Any]:
        self.calls.append(token)
        if token not in self.principals:
            raise rpc_error(Unauthorized("Invalid API key or token", code="INVALID_TOKEN"))
        return dict(self.principals[token])


def multipart_body(parts: list[tuple[str, str | None, bytes]], boundary: str = "XboundaryX") -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data upload from (name, content type or None, bytes) parts,
    each part carrying its name as its file name, as wrangler sends a Worker's modules."""
    out = b""
    for name, content_type, data in parts:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'.encode()
        if content_type:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def bearer(token: str) -> dict[str, str]:
    """`{"authorization": "Bearer <token>"}`."""
    return {"authorization": f"Bearer {token}"}


async def rpc_outcome(worker: Any, method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Call an RPC method: `(value, None)` if it answered, `(None, AppError)` if it raised (rebuilt, with
    `.code`/`.status`; anything that is not an AppError comes back as UPSTREAM_ERROR 502)."""
    try:
        return await worker.rpc(method, *args, **kwargs), None
    except Exception as exc:  # the RPC boundary raises plain exceptions
        return None, from_rpc_exception(exc, service=worker.config.name)


async def rpc_fails(worker: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call an RPC method that must fail with an AppError; the rebuilt error (`.code`, `.status`, ...)."""
    value, err = await rpc_outcome(worker, method, *args, **kwargs)
    assert err is not None, f"{method} succeeded with {value!r}"
    assert err.code != "UPSTREAM_ERROR", f"{method} raised something that is not an AppError"
    return err


async def envelope(response: Any) -> dict[str, Any]:
    """A response's JSON body, checked to have the envelope's shape (`success`, `data` or `error`, `meta`)."""
    data = await response.json()
    assert set(data) >= {"success", "meta"}, data
    assert ("data" in data) if data["success"] else ("error" in data), data
    return data


async def mcp_call(
    worker: Any,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    headers: dict[str, str],
    id: int = 1,
    version: str | None = "2025-11-25",
) -> tuple[int, dict[str, Any]]:
    """One MCP JSON-RPC request to the worker's `/mcp`: the HTTP status and the JSON-RPC reply.

    Spoken in the handshake revision `version` (its `MCP-Protocol-Version` header, as a client sends it
    after `initialize`; None: no header, which a server reads as 2025-03-26)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        message["params"] = params
    if version and method != "initialize":
        headers = headers | {"mcp-protocol-version": version}
    reply = await worker.fetch("/mcp", method="POST", json=message, headers=headers)
    return reply.status, await reply.json()


def start_dev(folder: Path, env: dict[str, str], *, timeout: float = 90) -> tuple[Any, str]:
    """`dotdo dev --port 0 --no-reload` in `folder` (one worker alone): (the process, its URL) once it prints
    `Ready on <url>`; AssertionError with the end of its output if it does not within `timeout` seconds."""
    import re
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "dotdo_dev", "dev", "--port", "0", "--no-reload"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        ready = re.search(r"Ready on (http://127\.0\.0\.1:\d+)", line)
        if ready:
            return proc, ready.group(1)
    proc.kill()
    raise AssertionError("no 'Ready on' line:\n" + "".join(seen[-40:]))


def stop_dev(proc: Any) -> str:
    """Stop a `start_dev` process as Ctrl-C does (killed if it does not end within 20 s); what it printed."""
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""
