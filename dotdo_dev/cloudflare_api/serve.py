"""Serve the stand-in on loopback: `dotdo cloudflare-api` alone, or `LocalPlatform` beside its front door.

    dotdo cloudflare-api [--port 8788] [--account-id ID] [--size-limit-mib 64]

    server = CloudflareAPIServer(repo_root, port=0)     # what LocalPlatform starts beside the front door
    await server.start(); server.base_url               # http://127.0.0.1:<port>/client/v4
    await server.stop()

The API token is `$CLOUDFLARE_API_TOKEN` if set, else the one kept in `<state>/cloudflare-api/token`
(0600, made on first start). It is never printed: the deploy worker reads it from that file or the
variable, as it would hold Cloudflare's token as a secret. Only loopback addresses are served.
Served alone, uploaded scripts are stored; under `make dev` the platform also runs them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

from dotdo_dev.cloudflare_api import platform_scripts
from dotdo_dev.cloudflare_api.app import CloudflareAPI, DeleteHook, UploadHook
from dotdo_dev.cloudflare_api.store import FOLDER
from dotdo_dev.cloudflare_api.validation import DEFAULT_SIZE_LIMIT, MIB
from dotdo_dev.preflight import StartError, bind_port, check_state_folder
from dotdo_dev.runtime.state import default_state_dir

TOKEN_ENV = "CLOUDFLARE_API_TOKEN"  # noqa: S105 - the variable's name, not a secret
ACCOUNT_ENV = "CLOUDFLARE_ACCOUNT_ID"
DEFAULT_PORT = 8788


def api_token(state_root: Path, environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(token, where it comes from): the environment's, else the state folder's (made 0600 if missing)."""
    environ = os.environ if environ is None else environ
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV], f"${TOKEN_ENV}"
    folder = state_root / FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "token"
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip(), str(path)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CloudflareAPIServer:
    """The stand-in served by uvicorn on a loopback port."""

    def __init__(
        self,
        root: Path,
        *,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        account_id: str | None = None,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        environ: dict[str, str] | None = None,
        on_upload: UploadHook | None = None,
        on_delete: DeleteHook | None = None,
    ) -> None:
        if not is_loopback(host):
            raise StartError(f"the Cloudflare API stand-in serves loopback only, not {host!r}")
        self.state_root = state_dir or default_state_dir(root)
        check_state_folder(self.state_root)
        self.token, self.token_source = api_token(self.state_root, environ)
        self.app = CloudflareAPI(
            self.state_root,
            tokens=[self.token],
            account_scripts=platform_scripts(root),
            account_id=account_id,
            size_limit=size_limit,
            on_upload=on_upload,
            on_delete=on_delete,
        )
        self.host = host
        self.port = port
        self.bound_port: int | None = None
        self._server: Any = None
        self._serving: asyncio.Task[Any] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.bound_port or self.port}/client/v4"

    async def start(self) -> None:
        import uvicorn

        sock = bind_port(self.host, self.port)
        self.bound_port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                await self._serving
                raise StartError(f"could not serve on {self.host}:{self.bound_port}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._serving is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._serving, 5)
            self._server = None

    async def run(self) -> None:
        """Serve until Ctrl-C or SIGTERM."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        print(
            f"Cloudflare API stand-in on {self.base_url} (token: {self.token_source}; "
            f"account-level scripts: {', '.join(sorted(self.app.store.seeded))})",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
        await self.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--account-id", default=None, help=f"the only account id accepted (default ${ACCOUNT_ENV}, else any)"
    )
    parser.add_argument("--size-limit-mib", type=float, default=DEFAULT_SIZE_LIMIT / MIB)


def run_from_args(root: Path, args: argparse.Namespace) -> int:
    try:
        server = CloudflareAPIServer(
            root,
            host=args.host,
            port=args.port,
            account_id=args.account_id or os.environ.get(ACCOUNT_ENV) or None,
            size_limit=int(args.size_limit_mib * MIB),
        )
        asyncio.run(server.run())
    except StartError as exc:
        print(f"cloudflare-api: {exc}", file=sys.stderr)
        return 1
    return 0
