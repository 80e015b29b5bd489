"""Ids: prefixed, URL-safe, unique, sortable by time; request ids and their validation."""

import re
import time

import pytest

from shared.ids import new_id, new_request_id, valid_request_id


def test_new_id_shape():
    value = new_id("usr")
    assert re.fullmatch(r"usr_[0-9a-z]{25}", value)
    assert re.fullmatch(r"[0-9a-z]{25}", new_id())


def test_ids_are_unique():
    assert len({new_id("x") for _ in range(2000)}) == 2000


def test_ids_sort_by_time():
    first = new_id("evt")
    time.sleep(0.002)
    second = new_id("evt")
    assert first < second


@pytest.mark.parametrize("prefix", ["", "Usr", "1abc", "has space", "a_b", "a" * 17])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        new_id(prefix)


def test_request_ids():
    assert new_request_id().startswith("req_")
    assert valid_request_id(new_request_id())


@pytest.mark.parametrize("value", ["abc", "trace-123.x:9_Z", "a" * 128])
def test_valid_incoming_request_ids(value):
    assert valid_request_id(value)


@pytest.mark.parametrize("value", [None, "", " ", "has space", "a" * 129, "x\n", "<script>", "é", "a/b", 5])
def test_invalid_incoming_request_ids(value):
    assert not valid_request_id(value)
