"""Type names shared by the local `workers` module, as in `workers-runtime-sdk`."""

from collections.abc import Awaitable
from http import HTTPMethod
from typing import Any, Protocol, TypeAlias, TypedDict


class Context(Protocol):
    def waitUntil(self, other: Awaitable[Any]) -> None: ...


Body: TypeAlias = "str | bytes"
Headers: TypeAlias = "dict[str, str] | list[tuple[str, str]]"


class RequestInitCfProperties(TypedDict, total=False):
    cacheEverything: bool | None
    cacheKey: str | None
    cacheTags: list[str] | None
    cacheTtl: int
    cacheTtlByStatus: dict[str, int]
    resolveOverride: str | None


class FetchKwargs(TypedDict, total=False):
    headers: "Headers | None"
    body: "Body | None"
    method: HTTPMethod | None
    redirect: str | None
    cf: RequestInitCfProperties | None
    fetcher: Any
