"""The one envelope: dicts and Responses, success and error, pagination meta, timestamps."""

import datetime
import re

import pytest
from pydantic import BaseModel

from shared.clock import now_iso
from shared.envelope import (
    app_error_response,
    error_response,
    failure,
    pagination_meta,
    success,
    success_response,
)
from shared.errors import MethodNotAllowed, NotFound, RateLimited

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_success_dict_shape():
    body = success({"id": 1}, request_id="r1", meta={"page": 2})
    assert body["success"] is True
    assert body["data"] == {"id": 1}
    assert body["meta"]["request_id"] == "r1"
    assert body["meta"]["page"] == 2
    assert ISO_UTC.match(body["meta"]["timestamp"])
    assert set(body) == {"success", "data", "meta"}


def test_failure_dict_shape():
    body = failure("NOT_FOUND", "No such thing", details={"id": "x"}, request_id="r2")
    assert body["success"] is False
    assert body["error"] == {"code": "NOT_FOUND", "message": "No such thing", "details": {"id": "x"}}
    assert body["meta"]["request_id"] == "r2"
    assert ISO_UTC.match(body["meta"]["timestamp"])
    assert "data" not in body


def test_extra_meta_cannot_overwrite_request_id_or_timestamp():
    body = success([], request_id="r1", meta={"request_id": "forged", "timestamp": "then", "total": 0})
    assert body["meta"]["request_id"] == "r1"
    assert body["meta"]["timestamp"] != "then"
    assert body["meta"]["total"] == 0


def test_timestamps_are_utc_with_milliseconds():
    stamp = now_iso()
    assert ISO_UTC.match(stamp)
    parsed = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.UTC) - parsed).total_seconds()) < 5


def test_pagination_meta():
    assert pagination_meta(page=2, limit=20, total=41, has_more=True, next_cursor="c") == {
        "page": 2,
        "limit": 20,
        "total": 41,
        "has_more": True,
        "next_cursor": "c",
    }
    assert pagination_meta(page=1, limit=5, has_more=False)["total"] is None


async def test_success_response_is_json_with_status_and_no_store():
    reply = success_response({"a": 1}, status=201, request_id="r1", headers={"X-Extra": "1"})
    assert reply.status == 201
    assert reply.headers.get("content-type") == "application/json"
    assert reply.headers.get("cache-control") == "no-store"
    assert reply.headers.get("x-extra") == "1"
    body = await reply.json()
    assert body["data"] == {"a": 1}
    assert body["meta"]["request_id"] == "r1"


async def test_pydantic_models_are_dumped_as_json_data():
    class Item(BaseModel):
        id: str
        when: datetime.date

    body = await success_response(Item(id="i", when=datetime.date(2026, 1, 2))).json()
    assert body["data"] == {"id": "i", "when": "2026-01-02"}
    listed = await success_response([Item(id="a", when=datetime.date(2026, 1, 1))]).json()
    assert listed["data"] == [{"id": "a", "when": "2026-01-01"}]


async def test_error_response():
    reply = error_response("CONFLICT", "Exists", status=409, details=[1], request_id="r")
    assert reply.status == 409
    assert reply.headers.get("content-type") == "application/json"
    assert (await reply.json())["error"] == {"code": "CONFLICT", "message": "Exists", "details": [1]}


def test_error_response_refuses_a_success_status():
    with pytest.raises(ValueError, match="4xx or 5xx"):
        error_response("X", "y", status=200)


async def test_app_error_response_carries_status_and_headers():
    reply = app_error_response(NotFound("gone", details={"id": "x"}), request_id="r")
    assert reply.status == 404
    assert (await reply.json())["error"]["details"] == {"id": "x"}
    limited = app_error_response(RateLimited("slow down", retry_after=30))
    assert (limited.status, limited.headers.get("retry-after")) == (429, "30")
    wrong = app_error_response(MethodNotAllowed("no", allowed=["POST", "GET"]))
    assert (wrong.status, wrong.headers.get("allow")) == (405, "GET, POST")
