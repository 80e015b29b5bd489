"""Header lists as the Fetch API keeps them, and the mapping the SDK hands to Python code."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterable, Mapping
from typing import Any


class HTTPMessageMapping(http.client.HTTPMessage, Mapping):
    """What `request.headers` / `response.headers` return in the real SDK: case-insensitive `.get()`."""


HeaderList = list[tuple[str, str]]
_BAD_NAME = re.compile(r"[ \t\r\n:]")  # what a header name cannot hold (besides being empty)
_BAD_VALUE = re.compile(r"[\r\n\0]")  # what a header value cannot hold


def to_header_list(headers: Any) -> HeaderList:
    """Normalise the `headers=` argument (dict, list of pairs, or a headers mapping) to lower-case pairs.

    Like JS `Headers`, names are lower-cased and repeated names other than `set-cookie` are
    combined with ", ".
    """
    if headers is None:
        return []
    if isinstance(headers, http.client.HTTPMessage):
        pairs: Iterable[tuple[str, str]] = headers.items()
    elif isinstance(headers, dict):
        pairs = headers.items()
    elif isinstance(headers, list):
        pairs = headers
    else:
        raise TypeError("Received unexpected type for headers argument")
    result: HeaderList = []
    index: dict[str, int] = {}
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise TypeError("Headers must be name/value pairs")
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(
                f"Header names and values must be strings, not {type(name).__name__}/{type(value).__name__}"
            )
        if not name or _BAD_NAME.search(name) or _BAD_VALUE.search(value):
            raise TypeError(f"Invalid header name or value: {name!r}")
        name = name.lower()
        value = value.strip()
        if name != "set-cookie" and name in index:
            old_name, old_value = result[index[name]]
            result[index[name]] = (old_name, f"{old_value}, {value}")
        else:
            index[name] = len(result)
            result.append((name, value))
    return result


def to_http_message(headers: HeaderList) -> HTTPMessageMapping:
    message = HTTPMessageMapping()
    for name, value in headers:
        message[name] = value
    return message


def header_value(headers: HeaderList, name: str) -> str | None:
    name = name.lower()
    for key, value in headers:
        if key == name:
            return value
    return None
