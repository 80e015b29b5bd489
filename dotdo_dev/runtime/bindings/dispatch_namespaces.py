"""Workers for Platforms dispatch namespaces: `env.DISPATCHER.get("orders")` is a fetcher to that worker.

A namespace hands out fetchers by script name and fails on first use with "Worker not found" for a
script that is not in the namespace, as workerd does. Locally every worker of the platform that is
not account-level is in every namespace: a worker whose manifest says `placement = "account"` (the
dispatcher, gateway, auth, db, deploy) is not found, as on Cloudflare, where those are account-level
Workers reached through service bindings. Workers without a manifest (test fixtures) are found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers import Request, Response

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.registry import ACCOUNT
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind
from dotdo_dev.runtime.bindings.services import Fetcher
from dotdo_dev.runtime.peers import Peers, RemoteError, WorkerNotFound

__all__ = ["DispatchNamespace", "DispatchNamespaceConfig", "DispatchNamespacesKind", "DispatchedWorker"]


class DispatchNamespace:
    """A Workers for Platforms dispatch namespace. Locally every worker of the platform but the
    account-level ones is in it."""

    def __init__(self, peers: Peers, namespace: str) -> None:
        self._peers = peers
        self.namespace = namespace

    def get(self, name: str, args: Any = None, options: Any = None) -> DispatchedWorker:
        """The user worker called `name`. Fails on first use if no such script is in the namespace."""
        return DispatchedWorker(self._peers, self.namespace, name)


class DispatchedWorker(Fetcher):
    """A user worker reached through a dispatch namespace."""

    def __init__(self, peers: Peers, namespace: str, name: str) -> None:
        super().__init__(peers, name)
        self._namespace = namespace

    def _refuse(self) -> None:
        """An account-level worker is no script of the namespace: "Worker not found", as on Cloudflare."""
        if self._peers.placement(self._worker) == ACCOUNT:
            raise Exception(
                f"Worker not found: {self._worker!r} in dispatch namespace {self._namespace!r} "
                f'({self._worker!r} is an account-level Worker, placement = "account": reach it through its '
                "service binding)"
            )

    async def _deliver(self, request: Request) -> Response:
        self._refuse()
        try:
            return await self._peers.fetch(self._worker, None, request)
        except WorkerNotFound:
            raise Exception(f"Worker not found: {self._worker!r} in dispatch namespace {self._namespace!r}") from None
        except RemoteError as exc:
            raise Exception(str(exc)) from None


# -- the binding kind: `dispatch_namespaces` in wrangler.jsonc --------------------------------------


@dataclass(frozen=True)
class DispatchNamespaceConfig:
    """A `dispatch_namespaces` entry: `env.<binding>` is the namespace called `namespace`."""

    binding: str
    namespace: str


class DispatchNamespacesKind(ListKind):
    """`dispatch_namespaces`: `env.<binding>` is a `DispatchNamespace` over the local platform's workers."""

    key = "dispatch_namespaces"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> DispatchNamespaceConfig:
        return DispatchNamespaceConfig(
            binding=reader.string(item, "binding", required=True, prefix=where),
            namespace=reader.string(item, "namespace", required=True, prefix=where),
        )

    def binding(self, entry: DispatchNamespaceConfig, context: BindingContext) -> DispatchNamespace:
        return DispatchNamespace(context.peers_for(entry.binding), entry.namespace)
