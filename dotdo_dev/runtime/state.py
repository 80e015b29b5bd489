"""Where the local platform keeps what must survive a restart (git-ignored `.state/`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

STATE_ENV = "DOTDO_STATE_DIR"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def default_state_dir(repo_root: Path) -> Path:
    """`$DOTDO_STATE_DIR`, else `<repo>/.state`."""
    return Path(os.environ.get(STATE_ENV) or repo_root / ".state")


class StateDir:
    """File layout of local state: one SQLite file per D1 database and KV namespace, one for all queues."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def d1(self, database_id: str) -> Path:
        return self._file("d1", database_id)

    def kv(self, namespace_id: str) -> Path:
        return self._file("kv", namespace_id)

    def queues(self) -> Path:
        return self._file("queues", "queues")

    def durable_object(self, worker: str, class_name: str, object_id: str) -> Path:
        """The SQLite file behind one Durable Object's storage."""
        return self._file(f"do/{_SAFE.sub('_', worker)}/{_SAFE.sub('_', class_name)}", object_id)

    def _file(self, kind: str, name: str) -> Path:
        directory = self.root / kind
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{_SAFE.sub('_', name)}.sqlite"
