"""Input validation: every failure is a 4xx AppError with a code and field errors, never a 500."""

import pytest
from pydantic import BaseModel, Field

from shared.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType, ValidationError
from shared.routing import Router
from shared.schemas import Pagination
from shared.validation import is_json_type, parse_json, parse_query, read_json, read_json_object


class Thing(BaseModel):
    name: str = Field(min_length=1)
    count: int = 0


def post(request_for, body, content_type="application/json", **headers):
    if content_type is not None:
        headers["content-type"] = content_type
    return request_for("/x", method="POST", body=body, headers=headers)


async def test_valid_body(request_for):
    thing = await parse_json(post(request_for, '{"name": "a", "count": 2}'), Thing)
    assert (thing.name, thing.count) == ("a", 2)


@pytest.mark.parametrize(
    "body", ["{oops", "", "   ", '{"name": "a"', "\xff", b"\xff\xfe{", "NaN", '{"a": Infinity}', "[" * 100_000]
)
async def test_malformed_json_is_invalid_json(request_for, body):
    with pytest.raises(InvalidJSON) as info:
        await read_json(post(request_for, body))
    assert (info.value.status, info.value.code) == (400, "INVALID_JSON")


async def test_invalid_json_says_where(request_for):
    with pytest.raises(InvalidJSON) as info:
        await read_json(post(request_for, '{\n  "a": }'))
    assert info.value.details == {"line": 2, "column": 8}


async def test_field_errors_name_the_field_without_echoing_input(request_for):
    with pytest.raises(ValidationError) as info:
        await parse_json(post(request_for, '{"name": "", "count": "many-secret"}'), Thing)
    assert info.value.status == 400
    details = info.value.details
    assert {d["field"] for d in details} == {"name", "count"}
    assert all(set(d) == {"field", "message", "type"} for d in details)
    assert "many-secret" not in str(details)


async def test_a_body_that_is_not_an_object_is_a_validation_error(request_for):
    with pytest.raises(ValidationError) as info:
        await parse_json(post(request_for, "[1, 2]"), Thing)
    assert info.value.details[0]["field"] == "body"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "text/plain", "text/html", "application/xml", "application/octet-stream"],
)
async def test_non_json_content_types_are_415(request_for, content_type):
    with pytest.raises(UnsupportedMediaType) as info:
        await read_json(post(request_for, '{"a": 1}', content_type=content_type))
    assert info.value.status == 415


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/ld+json"]
)
async def test_json_content_types_are_read(request_for, content_type):
    assert await read_json(post(request_for, '{"a": 1}', content_type=content_type), strict=True) == {"a": 1}


async def test_unlabelled_and_form_labelled_json_is_read_unless_strict(request_for):
    # `curl -d '{...}'` labels its body as a form; a bare fetch() may send no content type
    assert await read_json(post(request_for, '{"a": 1}', content_type="application/x-www-form-urlencoded")) == {"a": 1}
    assert await read_json(post(request_for, '{"a": 1}', content_type=None)) == {"a": 1}
    with pytest.raises(UnsupportedMediaType):
        await read_json(post(request_for, '{"a": 1}', content_type="application/x-www-form-urlencoded"), strict=True)
    with pytest.raises(UnsupportedMediaType):
        await read_json(post(request_for, '{"a": 1}', content_type=None), strict=True)


def test_is_json_type():
    assert is_json_type("application/json")
    assert is_json_type("application/problem+json; charset=utf-8")
    assert not is_json_type("text/json+html")
    assert not is_json_type(None)


async def test_big_bodies_are_413(request_for):
    with pytest.raises(PayloadTooLarge) as info:
        await read_json(post(request_for, '{"a": "' + "x" * 100 + '"}'), max_bytes=50)
    assert info.value.status == 413
    with pytest.raises(PayloadTooLarge):  # refused from the declared length, before reading
        await read_json(post(request_for, "{}", **{"content-length": "999999999"}))
    with pytest.raises(PayloadTooLarge):  # the default limit is 1 MiB
        await read_json(post(request_for, '"' + "x" * (1024 * 1024) + '"'))
    assert await read_json(post(request_for, '"' + "x" * 1000 + '"')) == "x" * 1000


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", (1, 20)), ("?page=3&limit=100", (3, 100)), ("?limit=1", (1, 1)), ("?limit=5&limit=7", (1, 7))],
)
def test_pagination_from_the_query(request_for, query, expected):
    paging = parse_query(request_for(f"/x{query}"), Pagination)
    assert (paging.page, paging.limit) == expected


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=-1", "?limit=abc", "?page=0", "?page=x"])
def test_pagination_out_of_range_is_a_validation_error(request_for, query):
    with pytest.raises(ValidationError) as info:
        parse_query(request_for(f"/x{query}"), Pagination)
    assert info.value.status == 400
    assert info.value.details[0]["field"] == query[1:].split("=")[0]


async def test_through_a_router_every_failure_is_a_4xx_envelope(request_for):
    router = Router()

    @router.post("/things")
    async def create(request, ctx):
        return await parse_json(request, Thing)

    @router.get("/things")
    async def list_things(request, ctx):
        return parse_query(request, Pagination).model_dump()

    cases = [
        (request_for("/things", method="POST", body="{oops"), 400, "INVALID_JSON"),
        (request_for("/things", method="POST", body='{"name": ""}'), 400, "VALIDATION_ERROR"),
        (request_for("/things", method="POST", body="x", headers={"content-type": "text/csv"}), 415, None),
        (request_for("/things?limit=0"), 400, "VALIDATION_ERROR"),
    ]
    for request, status, code in cases:
        reply = await router.handle(request, None)
        body = await reply.json()
        assert reply.status == status
        assert body["success"] is False
        if code:
            assert body["error"]["code"] == code
    bad = await (await router.handle(request_for("/things?limit=abc"), None)).json()
    assert bad["error"]["details"] == [
        {
            "field": "limit",
            "message": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
        }
    ]


@pytest.mark.parametrize("body", ["[]", "null", '"text"', "1"])
async def test_read_json_object_wants_an_object(request_for, body):
    with pytest.raises(ValidationError) as info:
        await read_json_object(post(request_for, body))
    assert (info.value.status, info.value.code) == (400, "VALIDATION_ERROR")
    assert await read_json_object(post(request_for, '{"a": 1}')) == {"a": 1}
