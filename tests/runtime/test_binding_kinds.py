"""Binding kinds: each is one module registered in `BINDING_KINDS`, and a new one needs nothing else.

The `greetings` kind below is defined in this file only: registered in the list, it is parsed from a
worker's `wrangler.jsonc` (errors naming file and key, not inherited into env blocks, its names
checked against the others') and its binding is in the worker's `env`, with a state file of its own.
"""

import contextlib
import json
import sys
import textwrap
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from dotdo_dev.config import ConfigError, WorkerConfig, load_worker
from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings import BINDING_KINDS, BindingContext
from dotdo_dev.runtime.bindings.d1 import D1Kind
from dotdo_dev.runtime.bindings.durable_objects import DurableObjectsKind
from dotdo_dev.runtime.bindings.kind import ListKind
from dotdo_dev.runtime.bindings.kv import KVKind
from dotdo_dev.runtime.bindings.queues import QueuesKind
from dotdo_dev.runtime.state import StateDir
from dotdo_dev.testing import WorkerHarness


@dataclass(frozen=True)
class GreetingConfig:
    binding: str
    text: str


class Greeting:
    """The binding worker code gets: `await env.HELLO.say("Ada")`."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path

    async def say(self, name: str) -> str:
        return f"{self.text}, {name}"


class GreetingsKind(ListKind):
    """`"greetings": [{"binding": "HELLO", "text": "Hello"}]`: `env.HELLO` is a `Greeting`."""

    key = "greetings"
    state_folder = "greetings"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> GreetingConfig:
        binding = reader.string(item, "binding", required=True, prefix=where)
        return GreetingConfig(binding, reader.string(item, "text", required=True, prefix=where))

    def binding(self, entry: GreetingConfig, context: BindingContext) -> Greeting:
        return Greeting(entry.text, self.state_file(context.state, entry.binding))


@pytest.fixture
def greetings():
    """The kind, registered the way every kind is: an entry in `BINDING_KINDS` (removed afterwards)."""
    kind = GreetingsKind()
    BINDING_KINDS.append(kind)
    yield kind
    BINDING_KINDS.remove(kind)


@pytest.fixture
def worker(tmp_path):
    """Write a worker whose `wrangler.jsonc` holds `config` (merged into a minimal one); its folder."""
    main = f"greeter_{tmp_path.name}"  # this test process may hold other workers' main modules

    def make(**config: Any) -> Path:
        folder = tmp_path / "greeter"
        (folder / "src").mkdir(parents=True, exist_ok=True)
        (folder / "src" / f"{main}.py").write_text(
            textwrap.dedent(
                """
                from workers import Response, WorkerEntrypoint


                class Default(WorkerEntrypoint):
                    async def fetch(self, request):
                        return Response(await self.env.HELLO.say("Ada"))
                """
            )
        )
        base = {
            "name": "greeter",
            "main": f"src/{main}.py",
            "compatibility_date": "2026-11-01",
            "compatibility_flags": ["python_workers"],
        }
        (folder / "wrangler.jsonc").write_text(json.dumps(base | config))
        return folder

    yield make
    sys.modules.pop(main, None)
    with contextlib.suppress(ValueError):
        sys.path.remove(str(tmp_path / "greeter" / "src"))


async def test_a_registered_kind_is_parsed_and_bound_into_env(greetings, worker, tmp_path):
    folder = worker(greetings=[{"binding": "HELLO", "text": "Hello"}])
    config = load_worker(folder)
    assert config.greetings == [GreetingConfig("HELLO", "Hello")]
    assert config.bindings["greetings"] == config.greetings

    harness = WorkerHarness(folder, state_dir=tmp_path / "state")
    assert isinstance(harness.env.HELLO, Greeting)
    assert await (await harness.fetch("/")).text() == "Hello, Ada"
    assert harness.env.HELLO.path == tmp_path / "state" / "greetings" / "HELLO.sqlite"
    assert harness.env.HELLO.path.parent.is_dir()


def test_its_errors_name_the_file_and_the_key(greetings, worker):
    folder = worker(greetings=[{"binding": "HELLO"}])
    with pytest.raises(ConfigError, match=r"wrangler\.jsonc: greetings\[0\]\.text: is required"):
        load_worker(folder)


def test_an_env_block_does_not_inherit_it(greetings, worker):
    folder = worker(greetings=[{"binding": "HELLO", "text": "Hello"}], env={"staging": {"vars": {"A": "1"}}})
    assert load_worker(folder, environment="staging").greetings == []


def test_its_names_count_for_the_rate_limit_name_check(greetings, worker):
    limiter = {"name": "HELLO", "namespace_id": "1001", "simple": {"limit": 1, "period": 10}}
    folder = worker(greetings=[{"binding": "HELLO", "text": "Hello"}], ratelimits=[limiter])
    with pytest.raises(ConfigError, match=r"ratelimits\[0\]\.name: HELLO is assigned to more than one binding"):
        load_worker(folder)


def test_unregistered_it_is_an_unknown_key(worker):
    config = load_worker(worker(greetings=[{"binding": "HELLO", "text": "Hello"}]))
    assert "greetings" not in config.bindings
    with pytest.raises(AttributeError, match="greetings"):
        _ = config.greetings


# -- the registry -------------------------------------------------------------------------------------


def empty_sections(tmp_path: Path) -> dict[str, list[str]]:
    """Each kind's section names, from a config that declares no binding."""
    reader = ConfigReader(tmp_path / "wrangler.jsonc")
    return {type(kind).__name__: sorted(kind.parse(reader, {})) for kind in BINDING_KINDS}


def test_every_kind_gives_every_section_even_when_nothing_is_declared(tmp_path):
    reader = ConfigReader(tmp_path / "wrangler.jsonc")
    for kind in BINDING_KINDS:
        sections = kind.parse(reader, {})
        assert sections, type(kind).__name__
        assert all(value == [] for value in sections.values()), type(kind).__name__
        assert kind.names(sections) == []


def test_kinds_share_no_section_key_or_state_folder_and_shadow_no_config_field(tmp_path):
    sections = [name for names in empty_sections(tmp_path).values() for name in names]
    assert len(sections) == len(set(sections))
    assert not set(sections) & {f.name for f in fields(WorkerConfig)}
    keys = [key for kind in BINDING_KINDS for key in kind.keys]
    assert len(keys) == len(set(keys))
    folders = [kind.state_folder for kind in BINDING_KINDS if kind.state_folder is not None]
    assert len(folders) == len(set(folders))


def test_the_registered_kinds(tmp_path):
    assert empty_sections(tmp_path) == {
        "D1Kind": ["d1_databases"],
        "KVKind": ["kv_namespaces"],
        "QueuesKind": ["queue_consumers", "queue_producers"],
        "ServicesKind": ["services"],
        "DurableObjectsKind": ["durable_object_classes", "durable_objects"],
        "DispatchNamespacesKind": ["dispatch_namespaces"],
        "RateLimitsKind": ["ratelimits"],
        "WorkflowsKind": ["workflows"],
        "AssetsKind": ["assets"],
        "R2Kind": ["r2_buckets"],
        "AIKind": ["ai"],
    }


def test_a_kind_without_state_has_no_state_file(tmp_path):
    (services,) = [kind for kind in BINDING_KINDS if "services" in kind.keys]
    with pytest.raises(TypeError, match="keeps no state"):
        services.state_file(StateDir(tmp_path), "x")


def test_the_state_folder_keeps_its_named_places_where_the_kinds_keep_their_data(tmp_path):
    state = StateDir(tmp_path)
    assert state.d1("db-1") == D1Kind().state_file(state, "db-1") == tmp_path / "d1" / "db-1.sqlite"
    assert state.kv("k/1") == KVKind().state_file(state, "k/1") == tmp_path / "kv" / "k_1.sqlite"
    assert state.queues() == QueuesKind().store_file(state) == tmp_path / "queues" / "queues.sqlite"
    assert (
        state.durable_object("gate way", "Limiter", "ab")
        == DurableObjectsKind().state_file(state, "gate way", "Limiter", "ab")
        == tmp_path / "do" / "gate_way" / "Limiter" / "ab.sqlite"
    )
