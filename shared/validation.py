"""Parse and validate request input; every failure is a 4xx `AppError` with field errors, never a 500.

    payload = await parse_json(request, CreateItem)      # 400 INVALID_JSON / VALIDATION_ERROR, 413, 415
    paging = parse_query(request, Pagination)           # 400 VALIDATION_ERROR, numbers coerced

Field errors are `[{"field": "limit", "message": "...", "type": "less_than_equal"}]`; the
offending input is never echoed back (it may be a secret pasted in the wrong field).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from workers import Request

from shared.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType, ValidationError
from shared.http import headers_of, query_of

Model = TypeVar("Model", bound=BaseModel)
MAX_BODY = 1024 * 1024  # 1 MiB

# Accepted as JSON unless `strict`: no Content-Type at all, and `curl -d`'s default label.
_LENIENT_TYPES = ("", "application/x-www-form-urlencoded")


def field_errors(exc: PydanticValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as `[{"field": "limit", "message": ..., "type": ...}]` (no input values echoed)."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def validate(model: type[Model], data: Any) -> Model:
    """`model` built from `data`, or `ValidationError` (400) listing each field's problem."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError("Invalid input", details=field_errors(exc)) from None


def is_json_type(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON: `application/json` or `application/<x>+json`, any parameters."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def read_json(request: Request, *, max_bytes: int = MAX_BODY, strict: bool = False) -> Any:
    """The JSON body: 415 for a non-JSON Content-Type, 413 above `max_bytes`, 400 `INVALID_JSON` when malformed.

    A body with no Content-Type, or labelled as a form (what `curl -d` sends), is still read as
    JSON. Pass `strict=True` on endpoints that accept cookies: a browser may send those two
    cross-site without a CORS preflight, `application/json` it may not.
    """
    content_type = headers_of(request).get("content-type")
    media = (content_type or "").split(";")[0].strip().lower()
    if not is_json_type(media) and (strict or media not in _LENIENT_TYPES):
        raise UnsupportedMediaType(
            "Send a JSON body with Content-Type: application/json", details={"content_type": media[:100] or None}
        )
    length = headers_of(request).get("content-length")
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    raw = await request.bytes()
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"The body is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    if not raw.strip():
        raise InvalidJSON("A JSON body is required")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidJSON("Malformed JSON body", details={"line": exc.lineno, "column": exc.colno}) from None
    except (ValueError, UnicodeDecodeError):  # not UTF-8 text, or NaN / Infinity
        raise InvalidJSON("Malformed JSON body") from None
    except RecursionError:
        raise InvalidJSON("The JSON body is nested too deeply") from None


async def read_json_object(request: Request, *, max_bytes: int = MAX_BODY, strict: bool = False) -> dict[str, Any]:
    """The JSON body (see `read_json`), which must be an object: 400 `VALIDATION_ERROR` otherwise."""
    body = await read_json(request, max_bytes=max_bytes, strict=strict)
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object")
    return body


async def parse_json(request: Request, model: type[Model], *, max_bytes: int = MAX_BODY, strict: bool = False) -> Model:
    """Read the JSON body (see `read_json`) and validate it against `model`."""
    return validate(model, await read_json(request, max_bytes=max_bytes, strict=strict))


def parse_query(request: Request, model: type[Model]) -> Model:
    """Validate the query string against `model` (numbers are coerced from strings; the last repeated name wins)."""
    return validate(model, query_of(request))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
