"""Service bindings: how one worker reaches another.

`env.DB_SERVICE.get_thing("x")` calls the method on the other worker's entrypoint (RPC); arguments
and the result cross a serialization boundary exactly as on Cloudflare (see `workers.rpc`).
`env.DB_SERVICE.fetch(request)` sends an HTTP request to its `fetch` handler. Dispatch namespaces
hand out such fetchers by script name (`dispatch_namespaces.py`).

As on Cloudflare, a service binding reaches account-level Workers only: a call through one to a
worker whose manifest says `placement = "namespace"` (a script of the dispatch namespace, which
Cloudflare would have refused at upload with code 10143) fails, naming the way that works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Unpack

from workers import Request, Response, fetch
from workers.types import FetchKwargs

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.registry import NAMESPACE
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind
from dotdo_dev.runtime.peers import Peers, RemoteError, WorkerNotFound

__all__ = ["Fetcher", "ServiceBindingConfig", "ServicesKind"]


class Fetcher:
    """A binding to another worker: `fetch()` plus RPC to its entrypoint's methods."""

    def __init__(self, peers: Peers, worker: str, entrypoint: str | None = None) -> None:
        self._peers = peers
        self._worker = worker
        self._entrypoint = entrypoint

    def __repr__(self) -> str:
        target = self._worker + (f"#{self._entrypoint}" if self._entrypoint else "")
        return f"<Fetcher {target}>"

    async def fetch(self, resource: str | Request, **other_options: Unpack[FetchKwargs]) -> Response:
        """Send a request to the bound worker's `fetch` handler."""
        return await fetch(resource, fetcher=self._deliver, **other_options)

    def _refuse(self) -> None:
        """Raise if this binding could not reach its worker on Cloudflare: a service binding names an
        account-level Worker, never a script of the dispatch namespace."""
        if self._peers.placement(self._worker) == NAMESPACE:
            raise RuntimeError(
                f"Service binding to {self._worker!r}: {self._worker!r} is a service of the dispatch namespace "
                '(placement = "namespace" in its service.toml), and on Cloudflare a service binding can only name '
                "an account-level Worker (the upload fails with code 10143); reach it through a dispatch_namespaces "
                f"binding instead: env.NAMESPACE.get({self._worker!r})"
            )

    async def _deliver(self, request: Request) -> Response:
        self._refuse()
        try:
            return await self._peers.fetch(self._worker, self._entrypoint, request)
        except WorkerNotFound:
            raise RuntimeError(
                f"Service binding to {self._worker!r}: that worker is not running on the local platform"
            ) from None

    def __getattr__(self, method: str):
        if method.startswith("__") or method in ("_peers", "_worker", "_entrypoint", "_namespace"):
            raise AttributeError(method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self._refuse()
            try:
                return await self._peers.rpc(self._worker, self._entrypoint, method, args, kwargs)
            except WorkerNotFound:
                raise RuntimeError(
                    f"Service binding to {self._worker!r}: that worker is not running on the local platform"
                ) from None
            except RemoteError as exc:
                raise Exception(str(exc)) from None  # only the message crosses, as on Cloudflare

        call.__name__ = method
        return call


# -- the binding kind: `services` in wrangler.jsonc -------------------------------------------------


@dataclass(frozen=True)
class ServiceBindingConfig:
    """A `services` entry: `env.<binding>` reaches the worker `service` (its `entrypoint` class, if named)."""

    binding: str
    service: str
    entrypoint: str | None = None


class ServicesKind(ListKind):
    """`services`: `env.<binding>` is a `Fetcher` to another worker of the local platform."""

    key = "services"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> ServiceBindingConfig:
        return ServiceBindingConfig(
            binding=reader.string(item, "binding", required=True, prefix=where),
            service=reader.string(item, "service", required=True, prefix=where),
            entrypoint=reader.string(item, "entrypoint", prefix=where),
        )

    def binding(self, entry: ServiceBindingConfig, context: BindingContext) -> Fetcher:
        return Fetcher(context.peers_for(entry.binding), entry.service, entry.entrypoint)
