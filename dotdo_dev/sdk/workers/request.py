"""`Request`: the same public API as `workers.Request` in Cloudflare's SDK, backed by plain Python data."""

from __future__ import annotations

import json
from http import HTTPMethod
from typing import Any, Unpack
from urllib.parse import urlsplit

from . import _multipart
from ._body import BodyMixin
from ._headers import HeaderList, header_value, to_header_list, to_http_message
from .blob import Blob
from .formdata import FormData
from .types import FetchKwargs

_NO_BODY_METHODS = {"GET", "HEAD"}


class Request(BodyMixin):
    """An HTTP request as a Python Worker sees it (see the Fetch API's `Request`)."""

    def __init__(self, input: Request | str, **other_options: Unpack[FetchKwargs]):
        if isinstance(input, Request):
            base = input
            url = base.url
            method = base._method
            headers = list(base._headers)
            body = base._body
            cf = base._cf
        elif isinstance(input, str):
            url, method, headers, body, cf = input, "GET", [], None, None
        else:
            raise TypeError(f"Request input must be a URL string or a Request, not {type(input).__name__}")
        if not urlsplit(url).scheme:
            raise TypeError(f"Invalid URL: {url!r}")
        if "method" in other_options and other_options["method"] is not None:
            m = other_options["method"]
            method = (m.value if isinstance(m, HTTPMethod) else str(m)).upper()
            if method not in HTTPMethod.__members__:
                raise TypeError(f"Invalid HTTP method: {m!r}")
        if "headers" in other_options:
            headers = to_header_list(other_options["headers"])
        if "body" in other_options:
            body, body_type = _encode_body(other_options["body"])
            if body_type and header_value(headers, "content-type") is None:
                headers = [*headers, ("content-type", body_type)]
        if body is not None and method in _NO_BODY_METHODS:
            raise TypeError("Request with a GET or HEAD method cannot have a body.")
        if "cf" in other_options:
            cf = other_options["cf"]
        self._url = url
        self._method = method
        self._headers: HeaderList = headers
        self._body: bytes | None = body
        self._cf = cf
        self._body_used = False
        self._redirect = other_options.get("redirect") or "follow"

    def __repr__(self) -> str:
        return f"Request(method={self._method!r}, url={self._url!r})"

    @property
    def js_object(self) -> Request:
        """The underlying request object. Locally this is the request itself."""
        return self

    @property
    def body(self) -> bytes | None:
        return self._body

    @property
    def cf(self) -> Any:
        return self._cf

    # The Fetch API's request attributes that workerd does not implement read as `undefined` there,
    # which is None in Python; `integrity` and `keepalive` have workerd's fixed values.
    @property
    def cache(self) -> str:
        return None  # type: ignore[return-value]

    @property
    def credentials(self) -> str:
        return None  # type: ignore[return-value]

    @property
    def destination(self) -> str:
        return None  # type: ignore[return-value]

    @property
    def integrity(self) -> str:
        return ""

    @property
    def is_history_navigation(self) -> bool:
        return None  # type: ignore[return-value]

    @property
    def keepalive(self) -> bool:
        return False

    @property
    def mode(self) -> str:
        return None  # type: ignore[return-value]

    @property
    def referrer(self) -> str:
        return None  # type: ignore[return-value]

    @property
    def referrer_policy(self) -> str:
        return None  # type: ignore[return-value]

    @property
    def headers(self):
        return to_http_message(self._headers)

    @property
    def method(self) -> HTTPMethod:
        return HTTPMethod[self._method]

    @property
    def redirect(self) -> str:
        return self._redirect

    @property
    def url(self) -> str:
        return self._url

    async def form_data(self) -> FormData:
        """The body parsed as a form (multipart/form-data or urlencoded); TypeError for any other body."""
        return _multipart.decode(self._consume(), header_value(self._headers, "content-type"))

    async def blob(self) -> Blob:
        """The body as a `Blob` typed by the request's content-type."""
        return Blob(self._consume(), header_value(self._headers, "content-type"))

    def clone(self) -> Request:
        self._raise_if_failed()
        return Request(self)

    async def json(self, **kwargs: Any) -> Any:
        return json.loads(await self.text(), **kwargs)


def _encode_body(body: Any) -> tuple[bytes | None, str | None]:
    """The body's bytes and the content-type it implies (a form's, a blob's, text's), if any."""
    if body is None:
        return None, None
    if isinstance(body, str):
        return body.encode("utf-8"), None
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body), None
    if isinstance(body, FormData):
        return _multipart.encode(body)
    if isinstance(body, Blob):
        return body._data, body.content_type or None
    raise TypeError(f"Unsupported type in Request body: {type(body).__name__}")
