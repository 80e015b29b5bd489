"""Type names shared by the local `workers` module, as in `workers-runtime-sdk`."""

from collections.abc import Awaitable
from http import HTTPMethod
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypedDict

if TYPE_CHECKING:
    from .blob import Blob
    from .formdata import FormData


class Context(Protocol):
    def waitUntil(self, other: Awaitable[Any]) -> None: ...


# The JS body types of the SDK; locally a JS blob or form is the Python `Blob`/`FormData` itself.
JSBody = "js.Blob | JsBuffer | js.FormData | js.ReadableStream | js.URLSearchParams"
Body: TypeAlias = "str | bytes | FormData | Blob"
Headers: TypeAlias = "dict[str, str] | list[tuple[str, str]]"


class RequestInitCfProperties(TypedDict, total=False):
    apps: bool | None
    cacheEverything: bool | None
    cacheKey: str | None
    cacheTags: list[str] | None
    cacheTtl: int
    cacheTtlByStatus: dict[str, int]
    image: Any | None
    mirage: bool | None
    polish: str | None
    resolveOverride: str | None
    scrapeShield: bool | None
    webp: bool | None


class FetchKwargs(TypedDict, total=False):
    headers: "Headers | None"
    body: "Body | None"
    method: HTTPMethod | None
    redirect: str | None
    cf: RequestInitCfProperties | None
    fetcher: Any
