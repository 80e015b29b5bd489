"""`Response` and `FetchResponse`: the same public API as in Cloudflare's SDK, backed by plain Python data."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Never

from . import _multipart
from ._body import BodyMixin
from ._headers import HeaderList, header_value, to_header_list, to_http_message
from .blob import Blob
from .formdata import FormData
from .types import Body, Headers

_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_NULL_BODY_STATUSES = {101, 204, 205, 304}


class JSHeaders:
    """The part of the JS `Headers` API that code reaches through `response.js_object.headers`."""

    def __init__(self, headers: HeaderList) -> None:
        self._list = headers

    def get(self, name: str) -> str | None:
        return header_value(self._list, name)

    def has(self, name: str) -> bool:
        return header_value(self._list, name) is not None

    def set(self, name: str, value: str) -> None:
        pair = to_header_list([(name, value)])[0]
        self.delete(name)
        self._list.append(pair)

    def append(self, name: str, value: str) -> None:
        self._list.append(to_header_list([(name, value)])[0])

    def delete(self, name: str) -> None:
        lower = name.lower()
        self._list[:] = [(k, v) for k, v in self._list if k != lower]


@dataclass
class RawResponse:
    """What the local runtime keeps of a response (the role of the JS `Response` under Pyodide)."""

    status: int
    status_text: str
    header_list: HeaderList
    body: bytes | None
    redirected: bool = False
    #: The client end of a WebSocket, in a 101 response (`webSocket` of the JS `Response`).
    webSocket: Any = None

    @property
    def headers(self) -> JSHeaders:
        return JSHeaders(self.header_list)


class FetchResponse(BodyMixin):
    """A response with a body that can be read once (like `pyodide.http.FetchResponse`)."""

    def __init__(self, url: str, js_response: RawResponse) -> None:
        self.js_response = js_response
        self._url = url
        self._status = js_response.status
        self._status_text = js_response.status_text
        self._headers = js_response.header_list
        self._body = js_response.body
        self._body_used = False

    @property
    def body(self) -> bytes | None:
        return self._body

    @property
    def js_object(self) -> RawResponse:
        """The underlying response object (a JS `Response` under Pyodide)."""
        return self.js_response

    @property
    def headers(self):
        return to_http_message(self._headers)

    @property
    def status(self) -> int:
        return self._status

    @property
    def status_text(self) -> str:
        return self._status_text

    @property
    def ok(self) -> bool:
        return 200 <= self._status < 300

    @property
    def url(self) -> str:
        return self._url

    @property
    def redirected(self) -> bool:
        """Whether the response is the end of a redirect chain."""
        return self.js_response.redirected

    @property
    def type(self) -> str:
        """The Fetch API response type: always "default" in workerd."""
        return "default"

    def raise_for_status(self) -> None:
        if self._status >= 400:
            raise OSError(f"{self._status} {self._status_text or 'Error'} for url: {self._url}")

    def clone(self) -> Response:
        self._raise_if_failed()
        return Response._from_parts(self._url, self._status, self._status_text, list(self._headers), self._body)

    async def _read_json(self, **kwargs: Any) -> Any:
        return json.loads(await self.text(), **kwargs)

    async def string(self) -> str:
        """The body as text (Pyodide's deprecated name of `text`)."""
        return await self.text()

    async def memoryview(self) -> memoryview:
        """The body as a `memoryview`."""
        return memoryview(self._consume())

    async def unpack_archive(self, *, extract_dir: str | None = None, format: str | None = None) -> None:
        """Unpack the body, an archive, into `extract_dir` with `shutil.unpack_archive` (format from the URL's
        file name unless `format` is given)."""
        data = self._consume()
        filename = self._url.rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (filename or "archive")
            path.write_bytes(data)
            shutil.unpack_archive(path, extract_dir, format)

    async def formData(self) -> FormData:
        """The body parsed as a form (the SDK keeps this JS-style name as an alias of `form_data`)."""
        return await self.form_data()

    async def form_data(self) -> FormData:
        """The body parsed as a form (multipart/form-data or urlencoded); TypeError for any other body."""
        return _multipart.decode(self._consume(), header_value(self._headers, "content-type"))

    async def blob(self) -> Blob:
        """The body as a `Blob` typed by the response's content-type."""
        return Blob(self._consume(), header_value(self._headers, "content-type"))

    def replace_body(self, body: Body) -> Response:
        headers = list(self._headers)
        if isinstance(body, FormData | Blob):
            # The new body brings its own content-type (a form's boundary must match the body).
            headers = [(k, v) for k, v in headers if k != "content-type"]
        return Response(body, status=self._status, status_text=self._status_text, headers=headers)

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND):
        code = status.value if isinstance(status, HTTPStatus) else status
        if code not in _REDIRECT_STATUSES:
            raise ValueError(f"Invalid status code {code} for a redirect")
        return Response(None, status=code, headers={"location": url})

    @staticmethod
    def from_json(
        data: str | dict[str, Any] | list[Any],
        status: HTTPStatus | int = HTTPStatus.OK,
        status_text="",
        headers: Headers = None,
    ) -> Response:
        header_list = to_header_list(headers)
        if header_value(header_list, "content-type") is None:
            header_list.append(("content-type", "application/json"))
        return Response(json.dumps(data), status=status, status_text=status_text, headers=header_list)

    def json(self, *args: Never, **kwargs: Never):
        if isinstance(self, FetchResponse):
            return self._read_json()
        # Static use, `Response.json(data, status=...)`, means `Response.from_json`.
        return Response.from_json(self, *args, **kwargs)


class Response(FetchResponse):
    """The response a Python Worker returns (see the Fetch API's `Response`)."""

    def __init__(
        self,
        body: Body | FetchResponse | RawResponse = None,
        status: HTTPStatus | int | None = None,
        status_text="",
        headers: Headers = None,
        web_socket: Any = None,
    ):
        if isinstance(body, RawResponse):
            body = FetchResponse("", body)
        if isinstance(body, FetchResponse):
            # Like constructing a Python Response from a JS Response: wrap it, no options allowed.
            if status is not None or len(status_text) > 0 or headers is not None:
                raise ValueError("Expected no options when constructing Response from a js.Response")
            body._raise_if_failed()
            raw = body.js_response
            super().__init__(
                body._url,
                RawResponse(body._status, body._status_text, list(body._headers), body._body, webSocket=raw.webSocket),
            )
            return
        if isinstance(body, str):
            data: bytes | None = body.encode("utf-8")
            default_type = "text/plain;charset=UTF-8"
        elif isinstance(body, bytes):
            data, default_type = body, None
        elif isinstance(body, FormData):
            data, default_type = _multipart.encode(body)
        elif isinstance(body, Blob):  # `blob.js_object` is the blob itself locally
            data, default_type = body._data, body.content_type or None
        elif body is None:
            data, default_type = None, None
        else:
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        code = status.value if isinstance(status, HTTPStatus) else (status or 200)
        if web_socket is not None and code != 101:
            raise ValueError(f"Responses with a WebSocket must have status code 101, not {code}")
        if code == 101 and web_socket is None:
            raise ValueError("Responses may only be constructed with status 101 when they carry a WebSocket")
        if not isinstance(code, int) or not (200 <= code <= 599 or code == 101):
            raise ValueError(f"Responses may only be constructed with status codes in the range 200 to 599, not {code}")
        if data is not None and code in _NULL_BODY_STATUSES:
            raise TypeError(f"Response with null body status ({code}) cannot have body")
        header_list = to_header_list(headers)
        if default_type and header_value(header_list, "content-type") is None:
            header_list.append(("content-type", default_type))
        super().__init__("", RawResponse(code, status_text or "", header_list, data, webSocket=web_socket))

    def __repr__(self) -> str:
        parts = [f"status={self._status}"]
        content_type = header_value(self._headers, "content-type")
        if content_type:
            parts.append(f"content_type={content_type!r}")
        return f"Response({', '.join(parts)})"

    @classmethod
    def _from_parts(cls, url: str, status: int, status_text: str, headers: HeaderList, body: bytes | None) -> Response:
        response = cls.__new__(cls)
        FetchResponse.__init__(response, url, RawResponse(status, status_text, headers, body))
        return response
