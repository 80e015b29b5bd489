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


def _base36_digit_by_digit(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def test_base36_two_digits_at_a_time_is_base36_one_digit_at_a_time():
    import random

    from shared.ids import _base36

    rng = random.Random(17)
    numbers = [0, 1, 35, 36, 1295, 1296, 1297, 36**9 - 1, 36**9, 2**80 - 1, int(time.time() * 1000)]
    numbers += [rng.getrandbits(rng.choice([8, 41, 80, 100])) for _ in range(3000)]
    for number in numbers:
        for width in (0, 1, 9, 16, 30):
            assert _base36(number, width) == _base36_digit_by_digit(number, width), (number, width)


def test_ids_made_in_one_millisecond_keep_the_order_they_were_made_in(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)  # a clock that does not move
    made = [new_id("job") for _ in range(2000)]
    assert made == sorted(made)
    assert len(set(made)) == 2000
    assert {m[4:13] for m in made} == {made[0][4:13]}  # one millisecond, told apart by the random part


def test_ids_keep_increasing_when_the_clock_steps_back(monkeypatch):
    now = [1_800_000_000.5]
    monkeypatch.setattr(time, "time", lambda: now[0])
    before = new_id("evt")
    now[0] -= 3600  # an NTP step back
    after = [new_id("evt") for _ in range(50)]
    assert [before, *after] == sorted([before, *after])


def test_a_millisecond_that_runs_out_of_random_room_moves_to_the_next(monkeypatch):
    from shared import ids

    monkeypatch.setattr(time, "time", lambda: 1_800_000_001.0)
    monkeypatch.setattr(ids, "_last", [1_800_000_001_000, (1 << 80) - 1])
    made = new_id("x")
    assert made[2:11] == ids._base36(1_800_000_001_001, 9)
    assert made > "x_" + ids._base36(1_800_000_001_000, 9) + "z" * 16
