"""`Request`: the same public API as `workers.Request` in Cloudflare's SDK, backed by plain Python data."""

from __future__ import annotations

import json
from http import HTTPMethod
from typing import Any, Unpack
from urllib.parse import urlsplit

from ._body import BodyMixin
from ._headers import HeaderList, to_header_list, to_http_message
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
            body = _encode_body(other_options["body"])
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

    def clone(self) -> Request:
        self._raise_if_failed()
        return Request(self)

    async def json(self, **kwargs: Any) -> Any:
        return json.loads(await self.text(), **kwargs)


def _encode_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"Unsupported type in Request body: {type(body).__name__}")
