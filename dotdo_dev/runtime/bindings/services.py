"""Service bindings and dispatch namespaces: how one worker reaches another.

`env.DB_SERVICE.get_thing("x")` calls the method on the other worker's entrypoint (RPC); arguments
and the result cross a serialization boundary exactly as on Cloudflare (see `workers.rpc`).
`env.DB_SERVICE.fetch(request)` sends an HTTP request to its `fetch` handler. A dispatch
namespace (`env.DISPATCHER.get("db")`) hands out such fetchers by script name and fails with
"Worker not found" for a script that is not in the namespace, as workerd does.
"""

from __future__ import annotations

from typing import Any, Unpack

from workers import Request, Response, fetch
from workers.types import FetchKwargs

from dotdo_dev.runtime.peers import Peers, RemoteError, WorkerNotFound


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

    async def _deliver(self, request: Request) -> Response:
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


class DispatchNamespace:
    """A Workers for Platforms dispatch namespace. Locally every worker of the platform is in it."""

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

    async def _deliver(self, request: Request) -> Response:
        try:
            return await self._peers.fetch(self._worker, None, request)
        except WorkerNotFound:
            raise Exception(f"Worker not found: {self._worker!r} in dispatch namespace {self._namespace!r}") from None
        except RemoteError as exc:
            raise Exception(str(exc)) from None
