"""The order in which `dotdo deploy-all` deploys the workers: from their service-binding graph.

    order = deploy_order(discover_workers(root), environment="staging")   # ["auth", "db", "gateway", "dispatcher"]

A worker is deployed after every worker its `services` bindings name (Cloudflare resolves a service
binding at upload: its target must exist first). The dispatcher (a worker named in `LAST`) routes to
everything, so it goes after all the others. Among workers free to go at the same point the order is
alphabetical, so the same configs always give the same order. With `environment`, each worker's
`env.<environment>` block is read as wrangler reads it (its bindings, not the top level's).

A cycle raises `DeployOrderError` naming it (`dependency cycle: auth -> db -> auth`); so does a
binding to a service no worker's `wrangler.jsonc` names.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dotdo_dev.config import ConfigError, WorkerConfig, load_worker

#: Workers that route to every other one (the dispatcher): deployed after all the rest.
LAST = frozenset({"dispatcher"})


class DeployOrderError(RuntimeError):
    """The service-binding graph has no deployment order (a cycle, a missing target, a bad config)."""


@dataclass(frozen=True)
class Worker:
    """A worker as the deploy order sees it: its name, folder and the workers it binds."""

    name: str
    folder: Path
    binds: tuple[str, ...]


def load_graph(configs: Iterable[Path], *, environment: str | None = None) -> dict[str, Worker]:
    """Every worker by its name (the top-level `name`), with the names of the workers it binds."""
    loaded: list[tuple[str, WorkerConfig]] = []
    for path in configs:
        try:
            top = load_worker(path)
            config = load_worker(path, environment=environment) if environment else top
        except ConfigError as exc:
            raise DeployOrderError(str(exc)) from None
        loaded.append((top.name, config))
    # A binding may name a worker by its own name or by the name wrangler gives it in the environment
    # (`auth-staging` for `auth` in an env block without a `name`).
    aliases: dict[str, str] = {}
    for name, config in loaded:
        aliases[name] = name
        aliases.setdefault(config.name, name)
    graph: dict[str, Worker] = {}
    for name, config in loaded:
        if name in graph:
            raise DeployOrderError(f"two workers are named {name!r}: {graph[name].folder} and {config.directory}")
        binds = []
        for service in config.services:
            target = aliases.get(service.service)
            if target is None:
                where = f" in env {environment}" if environment else ""
                raise DeployOrderError(
                    f"{name} binds {service.binding} to {service.service!r}{where}, "
                    "which no worker's wrangler.jsonc names"
                )
            if target not in binds:
                binds.append(target)
        graph[name] = Worker(name, config.directory, tuple(binds))
    return graph


def order(graph: dict[str, Worker], *, last: frozenset[str] = LAST) -> list[str]:
    """The names in deployment order: each after the workers it binds, those in `last` after everyone."""
    needs = {name: set(worker.binds) for name, worker in graph.items()}
    for name in last & graph.keys():
        needs[name] |= {other for other in graph if other not in last}  # routes to everything
    _check_acyclic(needs)
    waiting = {name: len(deps) for name, deps in needs.items()}
    needed_by: dict[str, list[str]] = {name: [] for name in needs}
    for name, deps in needs.items():
        for dep in deps:
            needed_by[dep].append(name)
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    result: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        result.append(name)
        for dependant in needed_by[name]:
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                heapq.heappush(ready, dependant)
    return result


def _check_acyclic(needs: dict[str, set[str]]) -> None:
    """Raise DeployOrderError naming the first cycle found (`a -> b -> a`: a binds b, b binds a)."""
    done: set[str] = set()
    for start in sorted(needs):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(needs[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = pending.pop(0)
            if nxt in on_path:
                cycle = [*path[path.index(nxt) :], nxt]
                raise DeployOrderError(f"dependency cycle: {' -> '.join(cycle)}")
            if nxt in done:
                continue
            stack.append((nxt, sorted(needs[nxt])))
            path.append(nxt)
            on_path.add(nxt)


def deploy_order(configs: Iterable[Path], *, environment: str | None = None) -> list[Worker]:
    """The workers of these `wrangler.jsonc` files in deployment order. Raises DeployOrderError."""
    graph = load_graph(configs, environment=environment)
    return [graph[name] for name in order(graph)]
