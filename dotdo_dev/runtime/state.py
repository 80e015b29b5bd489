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
    """The state folder. Each binding kind keeps its SQLite files in a folder of its own, named by its
    `state_folder` (`d1/<database id>.sqlite`, `do/<worker>/<class>/<object id>.sqlite`, ...)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def file(self, folder: str, *names: str) -> Path:
        """The SQLite file `<root>/<folder>/<names...>.sqlite`, its folder made if missing.

        Each name becomes one path part, with every character other than letters, digits, `.`, `_`
        and `-` replaced by `_`, so no name can reach outside `folder`."""
        if not names:
            raise ValueError("StateDir.file needs at least one name besides the folder")
        *folders, name = (_SAFE.sub("_", part) for part in names)
        directory = self.root.joinpath(folder, *folders)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / f"{name}.sqlite"

    # Where the built-in kinds keep their data, for callers written before each kind named its own
    # (`<Kind>().state_file(state, ...)`); a new kind needs no method here.
    def d1(self, database_id: str) -> Path:
        """A D1 database's file (`D1Kind`)."""
        return self.file("d1", database_id)

    def kv(self, namespace_id: str) -> Path:
        """A KV namespace's file (`KVKind`)."""
        return self.file("kv", namespace_id)

    def queues(self) -> Path:
        """The file of every local queue (`QueuesKind.store_file`)."""
        return self.file("queues", "queues")

    def durable_object(self, worker: str, class_name: str, object_id: str) -> Path:
        """The SQLite file behind one Durable Object's storage (`DurableObjectsKind`)."""
        return self.file("do", worker, class_name, object_id)
