"""The Fetch and URL APIs of `js`: Headers, URL, URLSearchParams, Request, Response and fetch.

`js.Request.new(...)` and `js.Response.new(...)` build the local `workers` Request and Response (the
local runtime's stand-ins for the JavaScript objects the real SDK wraps), so a handler may return
either. An `init` may be a Python dict or a `to_js(...)` object, as under Pyodide 314 (which reads a
dict's keys as properties); a Map has no properties, so its entries are ignored there and here.

`js.fetch` goes through the local `workers.fetch`; a network failure raises `JsException`
("TypeError: fetch failed ..."), as JavaScript's fetch does under Pyodide. That is not an `OSError`;
`workers.fetch` (Pyodide's `pyfetch`) is the one that raises `pyodide.http.AbortError`, an `OSError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import workers
from js._builtins import JSON
from pyodide._values import JsArray, JsException, JsMap, JsProxy

_SPECIAL_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "file": None}


def _init(init: Any) -> dict[str, Any]:
    """The properties JavaScript would read from an `init` argument."""
    if init is None or isinstance(init, JsMap):
        return {}
    if isinstance(init, dict):
        return dict(dict.items(init))
    raise JsException("TypeError", f"init must be an object, not {type(init).__name__}")


def _header_pairs(init: Any) -> list[tuple[str, str]]:
    """[name, value] pairs from a headers init: Headers, an object or Map, pairs, or the SDK's headers."""
    if init is None:
        return []
    if isinstance(init, JsHeaders):
        return list(init._pairs)
    if isinstance(init, dict):
        items: Any = dict.items(init)
    elif hasattr(init, "items"):
        items = init.items()  # the headers of a local `workers` Request or Response
    else:
        items = init
    try:
        return [(str(name), str(value)) for name, value in items]
    except (TypeError, ValueError):
        raise JsException("TypeError", "headers must be an object, a Headers or [name, value] pairs") from None


class JsHeaders(JsProxy):
    """A JavaScript `Headers`: case-insensitive names; `get` joins repeated values with ", "."""

    def __init__(self, init: Any = None) -> None:
        self._pairs: list[tuple[str, str]] = []
        for name, value in _header_pairs(init):
            self.append(name, value)

    @staticmethod
    def _name(name: str) -> str:
        if not name or any(c in name for c in " \t\r\n:"):
            raise JsException("TypeError", f"Invalid header name: {name!r}")
        return name.lower()

    def get(self, name: str) -> str | None:
        values = [v for k, v in self._pairs if k == name.lower()]
        return ", ".join(values) if values else None

    def getSetCookie(self) -> JsArray:
        return JsArray(v for k, v in self._pairs if k == "set-cookie")

    def has(self, name: str) -> bool:
        return any(k == name.lower() for k, _ in self._pairs)

    def append(self, name: str, value: str) -> None:
        if any(c in value for c in "\r\n\0"):
            raise JsException("TypeError", f"Invalid header value for {name!r}")
        self._pairs.append((self._name(name), value.strip()))

    def set(self, name: str, value: str) -> None:
        self.delete(name)
        self.append(name, value)

    def delete(self, name: str) -> None:
        self._pairs = [(k, v) for k, v in self._pairs if k != name.lower()]

    def entries(self) -> Iterator[JsArray]:
        names = sorted({k for k, _ in self._pairs})
        return iter([JsArray([k, self.get(k)]) for k in names])

    __iter__ = entries

    def keys(self) -> Iterator[str]:
        return iter(sorted({k for k, _ in self._pairs}))

    def values(self) -> Iterator[str | None]:
        return (self.get(k) for k in self.keys())


class Headers:
    """JavaScript's `Headers` constructor: `js.Headers.new(init)`."""

    @staticmethod
    def new(init: Any = None) -> JsHeaders:
        return JsHeaders(init)


class JsURLSearchParams(JsProxy):
    """A JavaScript `URLSearchParams`; changes made through `url.searchParams` show in the URL."""

    def __init__(self, init: Any = None, owner: JsURL | None = None) -> None:
        if isinstance(init, str):
            self._pairs = parse_qsl(init.removeprefix("?"), keep_blank_values=True)
        elif isinstance(init, dict):
            self._pairs = [(str(k), str(v)) for k, v in dict.items(init)]
        else:
            self._pairs = [(str(k), str(v)) for k, v in (init or [])]
        self._owner = owner

    def _changed(self) -> None:
        if self._owner is not None:
            self._owner._query = self.toString()

    def get(self, name: str) -> str | None:
        return next((v for k, v in self._pairs if k == name), None)

    def getAll(self, name: str) -> JsArray:
        return JsArray(v for k, v in self._pairs if k == name)

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self._pairs)

    def append(self, name: str, value: str) -> None:
        self._pairs.append((str(name), str(value)))
        self._changed()

    def set(self, name: str, value: str) -> None:
        at = next((i for i, (k, _) in enumerate(self._pairs) if k == name), len(self._pairs))
        rest = [(k, v) for i, (k, v) in enumerate(self._pairs) if k != name or i < at]
        self._pairs = [*rest[:at], (str(name), str(value)), *rest[at:]]
        self._changed()

    def delete(self, name: str) -> None:
        self._pairs = [(k, v) for k, v in self._pairs if k != name]
        self._changed()

    @property
    def size(self) -> int:
        return len(self._pairs)

    def entries(self) -> Iterator[JsArray]:
        return iter([JsArray(pair) for pair in self._pairs])

    __iter__ = entries

    def keys(self) -> Iterator[str]:
        return iter([k for k, _ in self._pairs])

    def values(self) -> Iterator[str]:
        return iter([v for _, v in self._pairs])

    def toString(self) -> str:
        return urlencode(self._pairs)

    __str__ = toString


class URLSearchParams:
    """JavaScript's `URLSearchParams` constructor: `js.URLSearchParams.new("a=1&b=2")`."""

    @staticmethod
    def new(init: Any = None) -> JsURLSearchParams:
        return JsURLSearchParams(init)


class JsURL(JsProxy):
    """A parsed JavaScript `URL` (read-only locally, except through `searchParams`)."""

    def __init__(self, url: str, base: str | None = None) -> None:
        full = urljoin(str(base), url) if base is not None else url
        parts = urlsplit(full.strip())
        scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            raise JsException("TypeError", f"Invalid URL: {full!r}") from None
        if not scheme or (scheme in _SPECIAL_PORTS and scheme != "file" and not parts.hostname):
            raise JsException("TypeError", f"Invalid URL: {full!r}")
        host = parts.hostname or ""
        self._scheme = scheme
        self._hostname = f"[{host}]" if ":" in host else host
        self._port = "" if port is None or port == _SPECIAL_PORTS.get(scheme) else str(port)
        self._username = parts.username or ""
        self._password = parts.password or ""
        self._path = parts.path or ("/" if scheme in _SPECIAL_PORTS else "")
        self._query = parts.query
        self._fragment = parts.fragment
        self.searchParams = JsURLSearchParams(parts.query, owner=self)

    @property
    def protocol(self) -> str:
        return f"{self._scheme}:"

    @property
    def hostname(self) -> str:
        return self._hostname

    @property
    def port(self) -> str:
        return self._port

    @property
    def host(self) -> str:
        return f"{self._hostname}:{self._port}" if self._port else self._hostname

    @property
    def origin(self) -> str:
        return f"{self._scheme}://{self.host}" if self._scheme in _SPECIAL_PORTS else "null"

    @property
    def username(self) -> str:
        return self._username

    @property
    def password(self) -> str:
        return self._password

    @property
    def pathname(self) -> str:
        return self._path

    @property
    def search(self) -> str:
        return f"?{self._query}" if self._query else ""

    @property
    def hash(self) -> str:
        return f"#{self._fragment}" if self._fragment else ""

    @property
    def href(self) -> str:
        auth = ""
        if self._username or self._password:
            auth = self._username + (f":{self._password}" if self._password else "") + "@"
        authority = f"//{auth}{self.host}" if self._hostname or self._scheme in _SPECIAL_PORTS else ""
        return f"{self._scheme}:{authority}{self._path}{self.search}{self.hash}"

    def toString(self) -> str:
        return self.href

    toJSON = toString
    __str__ = toString

    def __repr__(self) -> str:
        return f"URL({self.href!r})"


class URL:
    """JavaScript's `URL` constructor: `js.URL.new(url, base=None)`; `js.URL.canParse(url, base=None)`."""

    @staticmethod
    def new(url: str, base: str | None = None) -> JsURL:
        return JsURL(str(url), None if base is None else str(base))

    @staticmethod
    def canParse(url: str, base: str | None = None) -> bool:
        try:
            URL.new(url, base)
        except JsException:
            return False
        return True


def _request_options(init: Any) -> dict[str, Any]:
    props = _init(init)
    options: dict[str, Any] = {}
    for key in ("method", "body", "redirect", "cf"):
        if props.get(key) is not None:
            options[key] = props[key]
    if props.get("headers") is not None:
        options["headers"] = _header_pairs(props["headers"])
    return options


class Request:
    """JavaScript's `Request` constructor: `js.Request.new(url, init)` gives a local `workers.Request`."""

    @staticmethod
    def new(input: Any, init: Any = None) -> workers.Request:
        resource = input.href if isinstance(input, JsURL) else input
        try:
            return workers.Request(resource, **_request_options(init))
        except (TypeError, ValueError) as error:
            raise JsException("TypeError", str(error)) from None


class Response:
    """JavaScript's `Response` constructor and statics; they give local `workers.Response` objects."""

    @staticmethod
    def new(body: Any = None, init: Any = None, **options: Any) -> workers.Response:
        """`new Response(body, init)`; keyword arguments are the init object Pyodide makes of them
        (`Response.new(None, status=101, webSocket=client)`)."""
        props = {**_init(init), **options}
        try:
            return workers.Response(
                body,
                status=props.get("status"),
                status_text=props.get("statusText") or "",
                headers=_header_pairs(props.get("headers")),
                web_socket=props.get("webSocket"),
            )
        except ValueError as error:
            raise JsException("RangeError", str(error)) from None
        except TypeError as error:
            raise JsException("TypeError", str(error)) from None

    @staticmethod
    def json(data: Any, init: Any = None) -> workers.Response:
        props = _init(init)
        headers = JsHeaders(props.get("headers"))
        if not headers.has("content-type"):
            headers.set("content-type", "application/json")
        return Response.new(JSON.stringify(data), {**props, "headers": headers})

    @staticmethod
    def redirect(url: str, status: int = 302) -> workers.Response:
        try:
            return workers.Response.redirect(str(url), status)
        except ValueError as error:
            raise JsException("RangeError", str(error)) from None


async def fetch(resource: Any, init: Any = None) -> workers.Response:
    """JavaScript's `fetch` through the local `workers.fetch`; failures raise `JsException` (TypeError)."""
    request = Request.new(resource, init)
    try:
        return await workers.fetch(request)
    except OSError as error:
        reason = getattr(error, "reason", None)
        # As JavaScript throws it: the JsException alone, no Python cause in the traceback.
        raise (reason if isinstance(reason, JsException) else JsException("TypeError", str(error))) from None
