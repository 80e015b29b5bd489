"""How values travel between worker processes of the local platform.

Values are first checked and copied with the SDK's `python_to_rpc` (what Cloudflare could send),
then written as JSON in which the types JSON lacks are tagged: `{"$t": "bytes", "v": "<base64>"}`.
A dict that happens to hold a `"$t"` key is itself wrapped, so user data is never misread.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from typing import Any

from workers import Request, Response, python_from_rpc, python_to_rpc
from workers.response import FetchResponse

_TAG = "$t"


def dumps(value: Any) -> bytes:
    """Encode a value for another worker process. Raises `TypeError` for what RPC cannot send."""
    return json.dumps(_encode(python_to_rpc(value)), separators=(",", ":"), allow_nan=False).encode()


def loads(data: bytes) -> Any:
    """Decode what `dumps` wrote, as the receiving worker sees it (`python_from_rpc`)."""
    return python_from_rpc(_decode(json.loads(data)))


def cross(value: Any) -> Any:
    """`value` as the other side of an RPC call receives it (refused, copied and converted as on Cloudflare).

    For calls made inside one process (a worker's own Durable Objects, the test harness)."""
    return loads(dumps({"value": value}))["value"]


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {_TAG: "float", "v": repr(value)}
    if isinstance(value, bytes):
        return {_TAG: "bytes", "v": base64.b64encode(value).decode()}
    if isinstance(value, datetime.datetime):
        return {_TAG: "date", "v": value.timestamp()}
    if isinstance(value, BaseException):
        return {_TAG: "error", "v": str(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, set):
        return {_TAG: "set", "v": [_encode(v) for v in value]}
    if isinstance(value, dict):
        encoded = {k: _encode(v) for k, v in value.items()}
        return {_TAG: "dict", "v": encoded} if _TAG in value else encoded
    if isinstance(value, FetchResponse):
        return {_TAG: "response", **encode_response(value)}
    if isinstance(value, Request):
        return {_TAG: "request", **encode_request(value)}
    raise TypeError(f"Could not serialize object of type {type(value).__name__!r} over RPC.")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    v = value.get("v")
    if tag == "dict":
        return {k: _decode(x) for k, x in v.items()}
    if tag == "bytes":
        return base64.b64decode(v)
    if tag == "float":
        return float(v)
    if tag == "date":
        return datetime.datetime.fromtimestamp(v)
    if tag == "error":
        return Exception(v)
    if tag == "set":
        return {_decode(x) for x in v}
    if tag == "response":
        return decode_response(value)
    if tag == "request":
        return decode_request(value)
    raise ValueError(f"unknown wire tag {tag!r}")


def encode_response(response: FetchResponse) -> dict[str, Any]:
    body = response.body
    return {
        "status": response.status,
        "status_text": response.status_text,
        "headers": [list(h) for h in response._headers],
        "body": None if body is None else base64.b64encode(body).decode(),
    }


def decode_response(data: dict[str, Any]) -> Response:
    body = data.get("body")
    return Response._from_parts(
        "",
        int(data["status"]),
        data.get("status_text") or "",
        [(k, v) for k, v in data["headers"]],
        None if body is None else base64.b64decode(body),
    )


def encode_request(request: Request) -> dict[str, Any]:
    body = request.body
    return {
        "url": request.url,
        "method": request.method.value,
        "headers": [list(h) for h in request._headers],
        "body": None if body is None else base64.b64encode(body).decode(),
    }


def decode_request(data: dict[str, Any]) -> Request:
    body = data.get("body")
    return Request(
        data["url"],
        method=data["method"],
        headers=[(k, v) for k, v in data["headers"]],
        body=None if body is None else base64.b64decode(body),
    )
