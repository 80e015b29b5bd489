"""Pagination, filters and sorting: defaults, bounds and coercion from query strings."""

import pytest
from pydantic import ValidationError

from shared.schemas import Filter, Pagination, Sort


def test_pagination_defaults_and_offset():
    paging = Pagination()
    assert (paging.page, paging.limit, paging.cursor, paging.offset) == (1, 20, None, 0)
    assert Pagination(page=3, limit=10).offset == 20


def test_pagination_coerces_query_strings_and_ignores_other_keys():
    paging = Pagination.model_validate({"page": "2", "limit": "100", "cursor": "abc", "q": "x"})
    assert (paging.page, paging.limit, paging.cursor) == (2, 100, "abc")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": ""}, "page"),
        ({"cursor": "x" * 513}, "cursor"),
    ],
)
def test_pagination_rejects_out_of_range(data, field):
    with pytest.raises(ValidationError) as info:
        Pagination.model_validate(data)
    assert [e["loc"] for e in info.value.errors()] == [(field,)]


def test_filter():
    assert Filter(field="created_at", operator="gte", value="2026-01-01").operator == "gte"
    assert Filter(field="status").operator == "eq"
    for operator in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "like", "exists"):
        Filter(field="a", operator=operator)


@pytest.mark.parametrize(
    "data",
    [
        {"field": "a", "operator": "regex"},
        {"field": "a; DROP TABLE x", "operator": "eq"},
        {"field": "", "operator": "eq"},
        {"field": "a", "operator": "eq", "extra": 1},
    ],
)
def test_filter_rejects(data):
    with pytest.raises(ValidationError):
        Filter.model_validate(data)


def test_sort():
    assert Sort(field="name").direction == "asc"
    assert Sort(field="name", direction="desc").direction == "desc"
    with pytest.raises(ValidationError):
        Sort(field="name", direction="up")
    with pytest.raises(ValidationError):
        Sort(field="name desc")
