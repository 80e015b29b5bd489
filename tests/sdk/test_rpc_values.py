"""What may cross a Workers RPC boundary, and what the other side receives (Cloudflare's rules)."""

import datetime
from decimal import Decimal

import pytest
from workers import Response, python_from_rpc, python_to_rpc

from dotdo_dev.runtime import wire


def cross(value):
    return wire.loads(wire.dumps(value))


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -1, 2**70, 1.5, float("inf"), "text", "", b"\x00\x01", [1, [2]], {"a": {"b": None}}, {1, 2}],
)
def test_plain_values_survive(value):
    assert cross(value) == value


def test_integral_float_arrives_as_int():
    received = cross({"x": 3.0, "y": 3.25})
    assert received == {"x": 3, "y": 3.25}
    assert isinstance(received["x"], int)


def test_nan_survives():
    received = cross(float("nan"))
    assert received != received


def test_dicts_arrive_with_attribute_access():
    received = cross({"user": {"name": "ada"}})
    assert received.user.name == "ada"
    with pytest.raises(AttributeError):
        received.missing  # noqa: B018


def test_integer_keys_become_strings():
    assert cross({1: "a"}) == {"1": "a"}


def test_a_dict_with_the_wire_tag_key_is_not_misread():
    assert cross({"$t": "bytes", "v": "AAA="}) == {"$t": "bytes", "v": "AAA="}


def test_datetime_arrives_as_naive_local_time_in_milliseconds():
    sent = datetime.datetime(2026, 5, 1, 12, 30, 15, 123456)
    assert cross(sent) == datetime.datetime(2026, 5, 1, 12, 30, 15, 123000)


def test_exception_arrives_as_its_message():
    received = cross(ValueError("bad"))
    assert type(received) is Exception
    assert str(received) == "Error: bad"


async def test_response_crosses():
    received = cross(Response.json({"ok": 1}, status=201))
    assert received.status == 201
    assert await received.json() == {"ok": 1}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((1, 2), "cannot be sent over RPC"),
        ({"nested": (1,)}, "cannot be sent over RPC"),
        (bytearray(b"x"), "cannot be sent over RPC"),
        (object(), "Could not serialize"),
        (Decimal("1.5"), "Could not serialize"),
        ({("a",): 1}, "keys"),
        (lambda: 1, "functions"),
    ],
)
def test_unsendable_values_are_refused(value, message):
    with pytest.raises(TypeError, match=message):
        python_to_rpc(value)


def test_awaitable_is_refused():
    async def coro():
        return 1

    pending = coro()
    with pytest.raises(TypeError, match="Awaitable"):
        python_to_rpc(pending)
    pending.close()


def test_circular_structure_is_refused():
    loop = []
    loop.append(loop)
    with pytest.raises(TypeError, match="Circular"):
        python_to_rpc(loop)


def test_python_from_rpc_converts_nested_dicts():
    converted = python_from_rpc({"a": [{"b": 1}]})
    assert converted.a[0].b == 1
