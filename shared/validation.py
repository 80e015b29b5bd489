"""Parse and validate request input; every failure is a 4xx `AppError` with field errors, never a 500."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from workers import Request

from shared.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType, ValidationError
from shared.http import query_of

Model = TypeVar("Model", bound=BaseModel)
MAX_BODY = 1024 * 1024


def field_errors(exc: PydanticValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as `[{"field": "limit", "message": ..., "type": ...}]` (no input values echoed)."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def validate(model: type[Model], data: Any) -> Model:
    """`model` built from `data`, or `ValidationError` (400) listing each field's problem."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError("Invalid input", details=field_errors(exc)) from None


async def read_json(request: Request, *, max_bytes: int = MAX_BODY) -> Any:
    """The JSON body. 413 when too large, 415 for form or multipart bodies, 400 when malformed.

    A body without a JSON content type is still read as JSON (`curl -d` labels it as a form).
    """
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        raise UnsupportedMediaType("Send a JSON body (Content-Type: application/json)")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise PayloadTooLarge(f"Body larger than {max_bytes} bytes")
    raw = await request.bytes()
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"Body larger than {max_bytes} bytes")
    if not raw.strip():
        raise InvalidJSON("A JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        detail = {"line": exc.lineno, "column": exc.colno} if isinstance(exc, json.JSONDecodeError) else None
        raise InvalidJSON("Malformed JSON body", details=detail) from None


async def parse_json(request: Request, model: type[Model], *, max_bytes: int = MAX_BODY) -> Model:
    """Read the JSON body and validate it against `model`."""
    return validate(model, await read_json(request, max_bytes=max_bytes))


def parse_query(request: Request, model: type[Model]) -> Model:
    """Validate the query string against `model` (numbers are coerced from strings)."""
    return validate(model, query_of(request))
