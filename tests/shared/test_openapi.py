"""The OpenAPI 3.1 document a service derives from its operations (shared/openapi.py through Service.openapi)."""

import json
from enum import StrEnum

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shared.service import Call, NoInput, Service


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class Tag(BaseModel):
    name: str
    colour: Colour = Colour.red


class Address(BaseModel):
    street: str
    city: str
    tags: list[Tag] = []


class CustomerInput(BaseModel):
    """A customer as written."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^cus_[a-z0-9]+$")
    name: str = Field(min_length=1, description="Display name")
    address: Address
    billing: Address | None = None


class CustomerKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^cus_[a-z0-9]+$")


class CustomerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1)
    city: str | None = None
    limit: int = Field(default=10, ge=1, le=100)


class Removal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    hard: bool = False


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    into: str
    note: str = ""


class OrderKey(BaseModel):
    n: int = Field(ge=1)


class Tree(BaseModel):
    name: str
    children: list["Tree"] = []


def build() -> Service:
    service = Service("crm", version="2.0.1", description="Customers.")

    @service.operation(http="GET /customers/{id}", permission="crm:read", tool="crm_get")
    async def get_customer(call: Call, args: CustomerKey) -> dict:
        """Get one customer.

        Only the customers you may see.
        """
        return {}

    @service.operation(http="GET /customers", permission="crm:read", page=("total", "has_more"))
    async def find_customers(call: Call, args: CustomerQuery) -> dict:
        """Find customers by name."""
        return {"items": []}

    @service.operation(
        http=("POST /customers", "PUT /customers/{id}"),
        permission="crm:write",
        tool="crm_save",
        status=lambda result: 201 if result.get("created") else 200,
        event="customer.saved",
    )
    async def save_customer(call: Call, args: CustomerInput) -> dict:
        """Create or replace a customer."""
        return {}

    @service.operation(http="DELETE /customers/{id}", permission="crm:write")
    async def remove_customer(call: Call, args: Removal) -> dict:
        """Remove a customer (optionally for good)."""
        return {}

    @service.operation(http="DELETE /customers/{id}/merge", permission="crm:write")
    async def merge_customer(call: Call, args: Merge) -> dict:
        """Merge a customer into another."""
        return {}

    @service.operation(http="DELETE /customers/{id}/cache", permission="crm:write")
    async def forget_customer(call: Call, args: CustomerKey) -> dict:
        """Forget a customer's cached data."""
        return {}

    @service.operation(http="GET /health", public=True)
    async def health(call: Call, args: NoInput) -> dict:
        """Alive."""
        return {}

    @service.operation(http="GET /orders/{n:int}", permission="orders:read")
    async def get_order(call: Call, args: OrderKey) -> dict:
        """Get an order by number."""
        return {}

    @service.operation(http="POST /trees", permission="crm:write", status=201)
    async def plant_tree(call: Call, args: Tree) -> dict:
        """Plant a tree of any depth."""
        return {}

    @service.operation(permission="crm:read", tool="crm_count")
    async def count_customers(call: Call, args: NoInput) -> int:
        """How many customers (RPC and MCP only)."""
        return 0

    return service


@pytest.fixture(scope="module")
def document():
    return build().openapi()


def refs(node):
    """Every "$ref" value anywhere in `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from keys(value)


def test_the_document_is_openapi_3_1_json(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "crm", "version": "2.0.1", "description": "Customers."}
    assert json.loads(json.dumps(document)) == document  # plain JSON data all the way
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer", "description": "API key or JWT"}
    }


def test_every_http_route_appears_once(document):
    routes = {(path, method) for path, methods in document["paths"].items() for method in methods}
    assert routes == {
        ("/customers/{id}", "get"),
        ("/customers", "get"),
        ("/customers", "post"),
        ("/customers/{id}", "put"),
        ("/customers/{id}", "delete"),
        ("/customers/{id}/merge", "delete"),
        ("/customers/{id}/cache", "delete"),
        ("/health", "get"),
        ("/orders/{n}", "get"),  # the converter is not part of an OpenAPI path
        ("/trees", "post"),
    }


def test_operation_ids_are_unique_and_a_second_route_is_numbered(document):
    ids = {
        (path, method): entry["operationId"]
        for path, methods in document["paths"].items()
        for method, entry in methods.items()
    }
    assert ids[("/customers", "post")] == "save_customer"
    assert ids[("/customers/{id}", "put")] == "save_customer_2"
    assert ids[("/customers/{id}", "get")] == "get_customer"
    assert len(set(ids.values())) == len(ids)
    assert "count_customers" not in ids.values()  # no HTTP route: not in the document


def test_summary_and_description_come_from_the_docstring(document):
    entry = document["paths"]["/customers/{id}"]["get"]
    assert entry["summary"] == "Get one customer."
    assert entry["description"] == "Get one customer.\n\nOnly the customers you may see."


def test_path_parameters_carry_the_models_schema(document):
    entry = document["paths"]["/customers/{id}"]["get"]
    assert entry["parameters"] == [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": CustomerKey.model_json_schema()["properties"]["id"],
        }
    ]
    assert entry["parameters"][0]["schema"]["pattern"] == "^cus_[a-z0-9]+$"
    assert "requestBody" not in entry
    (number,) = document["paths"]["/orders/{n}"]["get"]["parameters"]
    assert (number["in"], number["required"], number["schema"]["type"], number["schema"]["minimum"]) == (
        "path",
        True,
        "integer",
        1,
    )


def test_get_query_parameters_and_which_are_required(document):
    entry = document["paths"]["/customers"]["get"]
    params = {p["name"]: p for p in entry["parameters"]}
    assert {name: (p["in"], p["required"]) for name, p in params.items()} == {
        "q": ("query", True),
        "city": ("query", False),
        "limit": ("query", False),
    }
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 100)
    assert params["q"]["schema"]["minLength"] == 1
    assert "requestBody" not in entry


def test_post_has_a_json_body_with_the_required_fields(document):
    entry = document["paths"]["/customers"]["post"]
    assert entry["parameters"] == []
    body = entry["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"id", "name", "address", "billing"}
    assert schema["required"] == ["address", "id", "name"]
    assert schema["additionalProperties"] is False  # the model forbids extras
    assert schema["properties"]["address"] == {"$ref": "#/components/schemas/Address"}
    assert schema["properties"]["name"]["description"] == "Display name"
    assert "title" not in schema
    assert "$defs" not in schema


def test_put_leaves_path_parameters_out_of_the_body(document):
    entry = document["paths"]["/customers/{id}"]["put"]
    assert [(p["name"], p["in"]) for p in entry["parameters"]] == [("id", "path")]
    schema = entry["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"name", "address", "billing"}
    assert schema["required"] == ["address", "name"]


def test_delete_reads_a_body_only_when_it_needs_fields_beyond_the_path(document):
    merge = document["paths"]["/customers/{id}/merge"]["delete"]
    schema = merge["requestBody"]["content"]["application/json"]["schema"]
    assert (set(schema["properties"]), schema["required"]) == ({"into", "note"}, ["into"])
    assert [p["in"] for p in merge["parameters"]] == ["path"]
    # only optional fields beyond the path: the query string, as a DELETE without a body reads it
    remove = document["paths"]["/customers/{id}"]["delete"]
    assert "requestBody" not in remove
    assert [(p["name"], p["in"], p["required"]) for p in remove["parameters"]] == [
        ("id", "path", True),
        ("hard", "query", False),
    ]
    # nothing beyond the path: neither
    forget = document["paths"]["/customers/{id}/cache"]["delete"]
    assert "requestBody" not in forget
    assert [p["in"] for p in forget["parameters"]] == ["path"]


def test_security_is_bearer_unless_public(document):
    for path, methods in document["paths"].items():
        for method, entry in methods.items():
            if path == "/health":
                assert entry["security"] == []
                assert not {"401", "403"} & set(entry["responses"])
            else:
                assert entry["security"] == [{"bearer": []}], (path, method)
                assert {"401", "403"} <= set(entry["responses"]), (path, method)


def test_permission_tool_and_event_extensions(document):
    get = document["paths"]["/customers/{id}"]["get"]
    assert (get["x-permission"], get["x-mcp-tool"]) == ("crm:read", "crm_get")
    assert "x-event" not in get
    save = document["paths"]["/customers"]["post"]
    assert (save["x-permission"], save["x-mcp-tool"], save["x-event"]) == ("crm:write", "crm_save", "customer.saved")
    find = document["paths"]["/customers"]["get"]
    assert "x-mcp-tool" not in find
    health = document["paths"]["/health"]["get"]
    assert not {"x-permission", "x-mcp-tool", "x-event"} & set(health)


def test_success_statuses(document):
    def success_codes(path, method):
        responses = document["paths"][path][method]["responses"]
        return sorted(code for code in responses if code.startswith("2"))

    assert success_codes("/customers/{id}", "get") == ["200"]
    assert success_codes("/trees", "post") == ["201"]
    assert success_codes("/customers", "post") == ["200", "201"]  # a function of the result: either


def test_the_success_envelope_and_pages(document):
    one = document["paths"]["/customers/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert one["required"] == ["success", "data", "meta"]
    assert one["properties"]["success"] == {"const": True}
    page = document["paths"]["/customers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page["properties"]["data"] == {"type": "array"}
    assert {"request_id", "timestamp", "total", "has_more"} <= set(page["properties"]["meta"]["properties"])
    assert "total" not in one["properties"]["meta"]["properties"]  # pages do not leak into others' meta


def test_error_responses_point_at_the_error_envelope(document):
    responses = document["paths"]["/customers/{id}"]["get"]["responses"]
    for code in ("400", "401", "403", "404", "429"):
        assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["success"] == {"const": False}
    assert error["required"] == ["success", "error", "meta"]


def test_nested_models_land_in_components_and_every_ref_resolves(document):
    schemas = document["components"]["schemas"]
    assert {"Address", "Tag", "Colour", "Tree", "Error"} <= set(schemas)
    assert schemas["Colour"]["enum"] == ["red", "blue"]
    assert schemas["Address"]["properties"]["tags"]["items"] == {"$ref": "#/components/schemas/Tag"}
    found = list(refs(document))
    assert len(found) > 10
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "$defs" not in set(keys(document))  # every definition moved to components


def test_a_recursive_input_model_is_documented_by_its_fields(document):
    entry = document["paths"]["/trees"]["post"]
    schema = entry["requestBody"]["content"]["application/json"]["schema"]
    assert entry["requestBody"]["required"] is True
    assert set(schema["properties"]) == {"name", "children"}
    assert schema["required"] == ["name"]
    assert schema["properties"]["children"]["items"] == {"$ref": "#/components/schemas/Tree"}


def test_the_document_is_built_fresh_and_not_shared():
    first, second = build().openapi(), build().openapi()
    assert first == second
    snapshot = json.loads(json.dumps(second))
    first["components"]["schemas"]["Error"]["properties"]["success"]["const"] = "changed"
    first["paths"]["/customers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "meta"
    ]["properties"]["request_id"] = {"type": "integer"}
    assert second == snapshot  # changing one document changes no other
    assert build().openapi() == snapshot


def test_a_service_without_routes_documents_none():
    service = Service("quiet")

    @service.operation(permission="q:read")
    async def only_rpc(call: Call, args: NoInput) -> None:
        """Only RPC."""

    document = service.openapi()
    assert document["paths"] == {}
    assert set(document["components"]["schemas"]) == {"Error"}


def test_the_document_validates_against_the_openapi_schema(document):
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    validator.validate(document)
