"""What must hold before the local platform starts anything: a writable state folder and a free port.

Both are checked before the first worker process is spawned, so that a second `make dev` on the
same port (or a state folder that cannot be written) is one line and exit status 1, with nothing
started on the way and nothing left behind.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path


class StartError(RuntimeError):
    """The platform cannot start; the message is one line for the developer (no traceback)."""


def check_state_folder(folder: Path) -> None:
    """Create `folder` if needed and prove it can be written; else `StartError` naming it and the problem.

    The folder holds every worker's data (db's things, auth's key hashes and sessions): it is made
    private to this account (0700), and an existing one of ours with wider modes is narrowed, so that
    no other local account can read the SQLite files inside, whatever their own modes.
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise StartError(f"state folder {folder} cannot be created: a file is in its place") from None
    except OSError as exc:
        raise StartError(f"state folder {folder} cannot be created: {_reason(exc)}") from None
    if not folder.is_dir():
        raise StartError(f"state folder {folder} cannot be created: a file is in its place")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise StartError(f"state folder {folder} is not writable: {_reason(exc)}") from None
    info = folder.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        try:
            folder.chmod(0o700)
        except OSError as exc:
            raise StartError(f"state folder {folder} cannot be made private: {_reason(exc)}") from None


def bind_port(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0: any free one); `StartError` if it cannot be had.

    It listens at once: on Linux two sockets with SO_REUSEADDR may both bind a port until one listens.
    IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say so, and with
    Nagle on every response waited ~40 ms for the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        hint = " (is the port in use? another `make dev`? set PORT)" if exc.errno == errno.EADDRINUSE else ""
        raise StartError(f"could not serve on {host}:{port}: {_reason(exc)}{hint}") from None
    sock.setblocking(False)
    return sock


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
