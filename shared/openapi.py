"""A service's OpenAPI 3.1 document, built from its declared operations (`shared.service`).

Each HTTP operation becomes an entry under `paths` with its `operationId` (the RPC method's
name), summary and description (the operation's docstring), path and query parameters or JSON
request body (the input model's JSON Schema), bearer security unless public, the permission it
needs (`x-permission`), its MCP tool (`x-mcp-tool`) and queue event (`x-event`), and the
success and error envelopes every route answers.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_CONVERTER = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*):[a-z]+}")
_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")
_REF = "#/components/schemas/{model}"

_META = {
    "type": "object",
    "properties": {"request_id": {"type": ["string", "null"]}, "timestamp": {"type": "string", "format": "date-time"}},
    "additionalProperties": True,
}
_ERROR_ENVELOPE = {
    "type": "object",
    "required": ["success", "error", "meta"],
    "properties": {
        "success": {"const": False},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        },
        "meta": _META,
    },
}
_ERRORS = {
    "400": "Invalid input (VALIDATION_ERROR with field errors, INVALID_JSON)",
    "401": "No valid bearer token (UNAUTHORIZED)",
    "403": "The principal lacks the permission (FORBIDDEN)",
    "404": "Not found (NOT_FOUND)",
    "429": "Too many requests (RATE_LIMITED)",
}


def openapi_document(service: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `service` (a `shared.service.Service`)."""
    schemas: dict[str, Any] = {"Error": _ERROR_ENVELOPE}
    paths: dict[str, dict[str, Any]] = {}
    for operation in service.operations.values():
        for index, (method, pattern) in enumerate(operation.http, start=1):
            path = _CONVERTER.sub(r"{\1}", pattern)
            entry = _operation(operation, method, path, schemas)
            if index > 1:  # operationIds are unique: a second route of one operation is `<name>_2`
                entry["operationId"] = f"{operation.name}_{index}"
            paths.setdefault(path, {})[method.lower()] = entry
    document = {
        "openapi": "3.1.0",
        "info": {"title": service.name, "version": service.version, "description": service.description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "API key or JWT"}},
        },
    }
    return copy.deepcopy(document)  # the envelopes' schemas are module constants: a caller's edit stays its own


def _operation(operation: Any, method: str, path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    schema = operation.input.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    if "properties" not in schema and "$ref" in schema:  # a recursive model is a $ref to its own definition
        schema = dict(schemas[schema["$ref"].rsplit("/", 1)[1]])
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    in_path = _PATH_PARAM.findall(path)
    entry: dict[str, Any] = {
        "operationId": operation.name,
        "summary": operation.summary,
        "description": operation.description,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": properties.get(name, {"type": "string"})}
            for name in in_path
        ],
        "security": [] if operation.public else [{"bearer": []}],
        "responses": _responses(operation),
    }
    rest = {name: value for name, value in properties.items() if name not in in_path}
    # a DELETE reads a JSON body when its input has required fields beyond the path's (else the query string)
    if method in ("POST", "PUT", "PATCH") or (method == "DELETE" and required & set(rest)):
        body = dict(schema) | {"properties": rest, "required": sorted(required - set(in_path))}
        body.pop("title", None)
        if not body["required"]:
            body.pop("required")
        entry["requestBody"] = {"required": bool(rest), "content": {"application/json": {"schema": body}}}
    else:
        entry["parameters"] += [
            {"name": name, "in": "query", "required": name in required, "schema": value} for name, value in rest.items()
        ]
    if operation.permission:
        entry["x-permission"] = operation.permission
    if operation.tool:
        entry["x-mcp-tool"] = operation.tool
    if operation.event:
        entry["x-event"] = operation.event
    return entry


def _responses(operation: Any) -> dict[str, Any]:
    status = operation.status if isinstance(operation.status, int) else 200
    data: dict[str, Any] = {"type": "array"} if operation.page is not None else {}
    meta = dict(_META)
    if operation.page is not None:
        meta = meta | {"properties": meta["properties"] | {key: {} for key in operation.page}}
    success = {
        "type": "object",
        "required": ["success", "data", "meta"],
        "properties": {"success": {"const": True}, "data": data, "meta": meta},
    }
    responses: dict[str, Any] = {
        str(status): {"description": "Success envelope", "content": {"application/json": {"schema": success}}}
    }
    if not isinstance(operation.status, int):
        responses["201"] = responses[str(status)]
    for code, description in _ERRORS.items():
        if code in ("401", "403") and operation.public:
            continue
        responses[code] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return responses
