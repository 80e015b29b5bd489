"""Input validation: every failure is a 4xx with a code and field errors."""

import pytest
from pydantic import BaseModel, Field
from workers import Request

from shared.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType, ValidationError
from shared.schemas import Pagination
from shared.validation import parse_json, parse_query, read_json


class Thing(BaseModel):
    name: str = Field(min_length=1)
    count: int = 0


def post(body, content_type="application/json", **headers):
    return Request("https://svc.do/x", method="POST", body=body, headers={"content-type": content_type, **headers})


async def test_valid_body():
    assert (await parse_json(post('{"name": "a", "count": 2}'), Thing)).count == 2


@pytest.mark.parametrize("body", ["{oops", "", "   ", '{"name": "a"', "\xff"])
async def test_malformed_json_is_invalid_json(body):
    with pytest.raises(InvalidJSON):
        await read_json(post(body))


async def test_field_errors_name_the_field_without_echoing_input():
    with pytest.raises(ValidationError) as info:
        await parse_json(post('{"name": "", "count": "many-secret"}'), Thing)
    details = info.value.details
    assert {d["field"] for d in details} == {"name", "count"}
    assert "many-secret" not in str(details)
    assert info.value.status == 400


async def test_multipart_is_unsupported_and_big_bodies_are_refused():
    with pytest.raises(UnsupportedMediaType):
        await read_json(post("--x", content_type="multipart/form-data; boundary=x"))
    with pytest.raises(PayloadTooLarge):
        await read_json(post('{"a": "' + "x" * 100 + '"}'), max_bytes=50)
    with pytest.raises(PayloadTooLarge):
        await read_json(post("{}", **{"content-length": "999999999"}))


async def test_form_labelled_json_is_still_read():
    assert await read_json(post('{"a": 1}', content_type="application/x-www-form-urlencoded")) == {"a": 1}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", (1, 20)), ("?page=3&limit=100", (3, 100)), ("?limit=1", (1, 1))],
)
def test_pagination_defaults_and_bounds(query, expected):
    paging = parse_query(Request(f"https://svc.do/x{query}"), Pagination)
    assert (paging.page, paging.limit) == expected


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=-1", "?limit=abc", "?page=0", "?page=x"])
def test_pagination_rejects_out_of_range(query):
    with pytest.raises(ValidationError) as info:
        parse_query(Request(f"https://svc.do/x{query}"), Pagination)
    assert info.value.details[0]["field"] in ("limit", "page")
