"""shared.address_limit: the client-address key and the verdict of a Rate Limiting binding."""

import json
from types import SimpleNamespace

import pytest

from shared.address_limit import UNKNOWN, admitted, client_key


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("203.0.113.7", "ip:203.0.113.7"),
        (" 203.0.113.7 ", "ip:203.0.113.7"),
        ("::ffff:203.0.113.7", "ip:203.0.113.7"),  # IPv4-mapped: the IPv4 address's budget
        ("2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "ip:2001:db8:1:2::/64"),  # the same /64, the same budget
        ("", UNKNOWN),
        ("not an address", UNKNOWN),
        ("203.0.113.7, 10.0.0.1", UNKNOWN),  # a list is not an address
    ],
)
def test_the_key_is_the_ipv4_address_or_the_ipv6_prefix(header, key):
    assert client_key({"cf-connecting-ip": header}) == key


class Limiter:
    def __init__(self, success=True, error=None):
        self.success, self.error, self.keys = success, error, []

    async def limit(self, options):
        self.keys.append(options["key"])
        if self.error:
            raise self.error
        return SimpleNamespace(success=self.success)


async def test_the_verdict_is_the_bindings_and_none_without_one():
    env = SimpleNamespace(LIMITER=Limiter(success=False))
    assert await admitted(env, "LIMITER", "ip:1.2.3.4", worker="w", request_id="r") is False
    assert env.LIMITER.keys == ["ip:1.2.3.4"]
    env.LIMITER.success = True
    assert await admitted(env, "LIMITER", "ip:1.2.3.4", worker="w", request_id="r") is True
    assert await admitted(env, "OTHER", "ip:1.2.3.4", worker="w", request_id="r") is None


async def test_a_failing_limiter_lets_the_request_through_and_is_logged(capsys):
    env = SimpleNamespace(LIMITER=Limiter(error=RuntimeError("counter store down")))
    assert await admitted(env, "LIMITER", "unknown", worker="webhooks", request_id="req_1") is True
    line = json.loads(capsys.readouterr().out)
    assert (line["worker"], line["request_id"], line["level"]) == ("webhooks", "req_1", "error")
    assert line["error"] == "RuntimeError: counter store down"
