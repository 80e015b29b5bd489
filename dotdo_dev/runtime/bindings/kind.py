"""What a binding kind provides: its `wrangler.jsonc` parser, its `env` factory, its state location.

Each kind (D1, KV, Queues, ...) is a `BindingKind` in a module of its own and is registered once, in
`dotdo_dev.runtime.bindings.BINDING_KINDS`. `dotdo_dev.config` parses every worker config with each
registered kind, and `Isolate` builds `env` with each, so a new kind (R2, Workflows, AI) is one
module plus its entry in that list. Most kinds are a list of objects under one key (`ListKind`)::

    class R2Kind(ListKind):
        key = "r2_buckets"                      # "r2_buckets": [{"binding": "FILES", "bucket_name": "f"}]
        state_folder = "r2"

        def entry(self, reader, item, where):   # -> config.r2_buckets
            return R2BucketConfig(reader.string(item, "binding", required=True, prefix=where), ...)

        def binding(self, entry, context):      # -> env.FILES
            return R2Bucket(self.state_file(context.state, entry.bucket_name))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.peers import Peers
from dotdo_dev.runtime.state import StateDir

__all__ = ["BindingContext", "BindingKind", "ListKind", "Sections"]

#: Every kind's parsed sections by name (`WorkerConfig.bindings`): `{"d1_databases": [...], ...}`.
Sections = Mapping[str, Any]


@dataclass(frozen=True)
class BindingContext:
    """What an isolate hands each binding kind to build that kind's part of the worker's `env`."""

    #: The worker's name.
    worker: str
    #: Its `wrangler.jsonc` and its main module as that names it (`src/entry.py`), for error messages.
    config_path: Path
    main: str
    state: StateDir
    #: Unix seconds; tests pass a settable clock.
    clock: Callable[[], float]
    #: The worker's main module, already imported (Durable Object classes are found in it).
    module: ModuleType
    #: The worker's `env`, which the bindings are about to join (a Durable Object gets it).
    env: Any
    #: The channel to the other workers of the local platform; None when the worker runs alone.
    peers: Peers | None = None
    #: Objects a kind keeps per isolate beside `env`: the queue store (the host's consumers read it),
    #: the rate limit counters its bindings share.
    resources: dict[str, Any] = field(default_factory=dict)

    def peers_for(self, binding: str) -> Peers:
        """The channel to other workers; for a worker running alone, a stand-in that fails on use,
        saying that `binding` needs the local platform."""
        if self.peers is None:
            return _NoPeers(self.worker, binding)  # type: ignore[return-value]
        return self.peers


class BindingKind(ABC):
    """One kind of binding: how `wrangler.jsonc` declares it, how `env` gets it, where its data lives.

    `parse` turns a worker's config into *sections*: values kept in `WorkerConfig.bindings` under their
    names and readable as attributes (`config.d1_databases`). `names`, `validate` and `bind` receive
    every kind's sections and read their own.
    """

    #: The `wrangler.jsonc` keys that declare this kind's bindings. Like every binding and `vars`, an
    #: `env.<name>` block does not inherit them from the top level.
    keys: ClassVar[tuple[str, ...]] = ()
    #: The folder of the state folder that holds this kind's data (`StateDir.file(state_folder, ...)`),
    #: or None for a kind that keeps nothing across restarts.
    state_folder: ClassVar[str | None] = None

    @abstractmethod
    def parse(self, reader: ConfigReader, config: Mapping[str, Any]) -> dict[str, Any]:
        """This kind's sections from a worker's config (the top level merged with its env block).

        Every section is present even when the config declares nothing (an empty list); a value of the
        wrong shape raises `reader.fail(...)`, naming the file and the key."""

    @abstractmethod
    def names(self, sections: Sections) -> list[str]:
        """The `env` names this kind's bindings take."""

    def validate(  # noqa: B027 - an optional hook: most kinds check nothing beyond their own keys
        self, reader: ConfigReader, sections: Sections, others: Collection[str]
    ) -> None:
        """Refuse what depends on the rest of the config, after every kind has parsed; `others` are the
        `env` names of vars, required secrets and every other kind's bindings. Nothing by default."""

    @abstractmethod
    def bind(self, sections: Sections, context: BindingContext) -> dict[str, Any]:
        """The `env` attributes this kind gives one isolate, by name."""

    def state_file(self, state: StateDir, *names: str) -> Path:
        """A SQLite file of this kind's data: `<state>/<state_folder>/<names...>.sqlite`."""
        if self.state_folder is None:
            raise TypeError(f"{type(self).__name__} keeps no state (its state_folder is None)")
        return state.file(self.state_folder, *names)


class ListKind(BindingKind):
    """A kind declared as one top-level list of objects (`"d1_databases": [{...}, ...]`): one section,
    named `key`, holding an entry per object; each entry names its `env` attribute in `name_field`."""

    #: The `wrangler.jsonc` key, and the name of the kind's one section.
    key: ClassVar[str]
    #: The field of an entry that holds its `env` name.
    name_field: ClassVar[str] = "binding"

    @property
    def keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.key,)

    def parse(self, reader: ConfigReader, config: Mapping[str, Any]) -> dict[str, Any]:
        items = reader.objs(config, self.key)
        return {self.key: [self.entry(reader, item, f"{self.key}[{i}]") for i, item in enumerate(items)]}

    @abstractmethod
    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> Any:
        """One entry from its object; `where` names the object in errors (`d1_databases[0]`)."""

    def names(self, sections: Sections) -> list[str]:
        return [getattr(entry, self.name_field) for entry in sections[self.key]]

    def bind(self, sections: Sections, context: BindingContext) -> dict[str, Any]:
        return {getattr(entry, self.name_field): self.binding(entry, context) for entry in sections[self.key]}

    @abstractmethod
    def binding(self, entry: Any, context: BindingContext) -> Any:
        """The `env` value of one entry."""


class _NoPeers:
    """Stand-in when a worker runs alone (unit tests): using a service binding says why it fails."""

    def __init__(self, worker: str, binding: str) -> None:
        self.worker = worker
        self.binding = binding

    def __getattr__(self, name: str):
        raise RuntimeError(
            f"{self.worker}: binding {self.binding} needs the local platform (make dev), "
            "or pass a stand-in with bindings={...}"
        )
