"""Local KV: Cloudflare's API, limits, metadata, expiry and listing, on a real SQLite file."""

import re

import pytest
from workers.rpc import JsDict

from dotdo_dev.runtime.bindings.kv import KVError, KVNamespace


@pytest.fixture
def kv(tmp_path, clock):
    return KVNamespace(tmp_path / "kv.sqlite", clock=clock)


async def listed(kv, **options):
    return [key["name"] for key in (await kv.list(options))["keys"]]


# -- values ---------------------------------------------------------------------------------------------
async def test_text_json_and_bytes_round_trip(kv):
    await kv.put("t", "héllo ✓")
    await kv.put("j", '{"a": [1, 2.5, null], "b": {"c": true}}')
    await kv.put("b", b"\x00\xff")
    assert await kv.get("t") == "héllo ✓"
    assert await kv.get("t", "text") == "héllo ✓"
    assert await kv.get("t", "arrayBuffer") == "héllo ✓".encode()
    assert await kv.get("j", "json") == {"a": [1, 2.5, None], "b": {"c": True}}
    assert (await kv.get("j", {"type": "json"})).b.c is True
    assert await kv.get("j", type="json") == {"a": [1, 2.5, None], "b": {"c": True}}
    assert await kv.get("b", "arrayBuffer") == b"\x00\xff"
    assert await kv.get("b", type="arrayBuffer") == b"\x00\xff"
    assert await kv.get("missing") is None
    assert await kv.get("missing", "json") is None


async def test_json_results_are_jsdicts_and_numbers_cross_javascript(kv):
    await kv.put("j", '{"whole": 2.0, "items": [{"n": 1}]}')
    value = await kv.get("j", "json")
    assert isinstance(value, JsDict)
    assert isinstance(value["items"][0], JsDict)
    assert value["items"][0].n == 1
    assert value.whole == 2
    assert type(value.whole) is int  # JSON.parse gives a JS number; it arrives as an int


async def test_invalid_json_is_a_clear_error(kv):
    await kv.put("k", "not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        await kv.get("k", "json")
    await kv.put("nan", "NaN")
    with pytest.raises(ValueError, match="not valid JSON"):
        await kv.get("nan", "json")


async def test_empty_values_are_stored(kv):
    await kv.put("e", "")
    assert await kv.get("e") == ""
    await kv.put("eb", b"")
    assert await kv.get("eb", "arrayBuffer") == b""


async def test_invalid_utf8_reads_as_replacement_characters(kv):
    await kv.put("k", b"ok\xff")
    assert await kv.get("k") == "ok\ufffd"


async def test_put_overwrites_and_delete_removes(kv):
    await kv.put("k", "1", metadata={"v": 1}, expirationTtl=600)
    await kv.put("k", "2")
    assert await kv.getWithMetadata("k") == {"value": "2", "metadata": None, "cacheStatus": None}
    assert (await kv.list())["keys"] == [{"name": "k"}]
    await kv.delete("k")
    await kv.delete("k")  # deleting a missing key is fine
    assert await kv.get("k") is None


@pytest.mark.parametrize(
    ("value", "hint"),
    [({"a": 1}, "json.dumps"), (1, "json.dumps"), (None, "json.dumps"), (bytearray(b"x"), r"bytes\(value\)")],
)
async def test_values_must_be_text_or_bytes(kv, value, hint):
    with pytest.raises(TypeError, match=f"accepts only strings.*{hint}"):
        await kv.put("k", value)
    assert await kv.get("k") is None


async def test_value_size_limit(kv):
    await kv.put("max", b"x" * (25 * 1024 * 1024))
    with pytest.raises(KVError, match="413 Value length of 26214401 exceeds limit of 26214400"):
        await kv.put("big", b"x" * (25 * 1024 * 1024 + 1))


# -- metadata ---------------------------------------------------------------------------------------------
async def test_metadata(kv):
    await kv.put("k", "v", metadata={"owner": "ada", "n": 1, "tags": ["a"]})
    result = await kv.getWithMetadata("k")
    assert result == {"value": "v", "metadata": {"owner": "ada", "n": 1, "tags": ["a"]}, "cacheStatus": None}
    assert isinstance(result, JsDict)
    assert result.metadata.owner == "ada"
    assert result.cacheStatus is None
    assert await kv.getWithMetadata("k", "arrayBuffer") == {
        "value": b"v",
        "metadata": {"owner": "ada", "n": 1, "tags": ["a"]},
        "cacheStatus": None,
    }
    assert await kv.getWithMetadata("missing") == {"value": None, "metadata": None, "cacheStatus": None}
    await kv.put("plain", "v")
    assert (await kv.getWithMetadata("plain")).metadata is None


async def test_scalar_metadata(kv):
    await kv.put("k", "v", {"metadata": "just a string"})
    assert (await kv.getWithMetadata("k")).metadata == "just a string"


async def test_metadata_limit_counts_utf8_bytes(kv):
    await kv.put("ok", "v", metadata={"x": "y" * 1016})  # {"x":"..."} is exactly 1024 bytes
    with pytest.raises(KVError, match="413 Metadata length of 1025 exceeds limit of 1024"):
        await kv.put("big", "v", metadata={"x": "y" * 1017})
    with pytest.raises(KVError, match="Metadata length of 1032"):
        await kv.put("big", "v", metadata={"x": "é" * 510 + "y" * 4})  # 2 bytes per é
    assert await kv.get("big") is None


@pytest.mark.parametrize("metadata", [{"when": b"x"}, {"x": float("nan")}, {"s": {1, 2}}])
async def test_metadata_must_be_json(kv, metadata):
    with pytest.raises(KVError, match="JSON-serializable"):
        await kv.put("k", "v", metadata=metadata)


async def test_metadata_that_cannot_cross_rpc_is_refused(kv):
    with pytest.raises(TypeError, match="RPC"):
        await kv.put("k", "v", metadata={"t": (1, 2)})


# -- expiry -----------------------------------------------------------------------------------------------
async def test_expiration_ttl(kv, clock):
    await kv.put("k", "v", expirationTtl=120)
    await kv.put("keep", "v")
    clock.now += 119
    assert await kv.get("k") == "v"
    clock.now += 1
    assert await kv.get("k") is None
    assert (await kv.getWithMetadata("k")).value is None
    assert await listed(kv) == ["keep"]


async def test_expiration_ttl_as_js_options_dict(kv, clock):
    await kv.put("k", "v", {"expirationTtl": 60})
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": int(clock.now) + 60}]
    clock.now += 60
    assert await kv.get("k") is None


async def test_absolute_expiration_is_listed_and_honoured(kv, clock):
    at = int(clock.now) + 3600
    await kv.put("k", "v", {"expiration": at, "metadata": {"m": 1}})
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": at, "metadata": {"m": 1}}]
    clock.now = at - 1
    assert await kv.get("k") == "v"
    clock.now = at
    assert await kv.get("k") is None
    assert (await kv.list())["keys"] == []


async def test_expiration_ttl_wins_over_expiration(kv, clock):
    await kv.put("k", "v", expirationTtl=60, expiration=int(clock.now) + 9999)
    assert (await kv.list())["keys"][0]["expiration"] == int(clock.now) + 60


async def test_expired_keys_can_be_written_again(kv, clock):
    await kv.put("k", "old", expirationTtl=60)
    clock.now += 61
    await kv.put("k", "new")
    assert await kv.get("k") == "new"
    assert (await kv.list())["keys"] == [{"name": "k"}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expirationTtl": 59}, "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."),
        ({"expirationTtl": 0}, "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        ({"expirationTtl": -5}, "Invalid expiration_ttl of -5"),
        ({"expiration": 1}, "Invalid expiration of 1. Please specify integer greater than the current"),
        (
            {"expiration": 1_700_000_059},
            "Invalid expiration of 1700000059. Expiration times must be at least 60 seconds in the future.",
        ),
    ],
)
async def test_expiry_below_sixty_seconds_is_refused(kv, options, message):
    with pytest.raises(KVError, match="^" + re.escape(f"KV PUT failed: 400 {message}")):
        await kv.put("k", "v", options)
    assert await kv.get("k") is None


async def test_expiration_exactly_sixty_seconds_ahead_is_accepted(kv, clock):
    await kv.put("k", "v", expiration=int(clock.now) + 60)
    assert await kv.get("k") == "v"


@pytest.mark.parametrize("options", [{"expirationTtl": "120"}, {"expiration": True}])
async def test_expiry_must_be_a_number(kv, options):
    with pytest.raises(TypeError, match="number of seconds"):
        await kv.put("k", "v", options)


# -- options -----------------------------------------------------------------------------------------------
async def test_unknown_options_are_refused(kv):
    with pytest.raises(KVError, match=r"'expiration_ttl'.*expirationTtl"):
        await kv.put("k", "v", expiration_ttl=120)
    with pytest.raises(KVError, match="cache_ttl"):
        await kv.get("k", {"type": "text", "cache_ttl": 5})
    with pytest.raises(KVError, match="'max'"):
        await kv.list({"max": 5})
    with pytest.raises(KVError, match="'ttl'"):
        await kv.getWithMetadata("k", ttl=1)
    assert await kv.get("k") is None


async def test_options_as_dict_or_keywords_but_not_both(kv):
    with pytest.raises(TypeError, match="not both"):
        await kv.put("k", "v", {"expirationTtl": 120}, metadata={"a": 1})
    with pytest.raises(TypeError, match="dict"):
        await kv.put("k", "v", 120)
    with pytest.raises(TypeError, match="at most one"):
        await kv.get("k", "text", {"cacheTtl": 60})


async def test_get_types_and_cache_ttl(kv):
    await kv.put("k", '"v"')
    assert await kv.get("k", {"type": "json", "cacheTtl": 60}) == "v"
    assert await kv.get("k", type="json", cacheTtl=30) == "v"
    with pytest.raises(KVError, match=re.escape("Invalid cache_ttl of 10. Cache TTL must be at least 30.")):
        await kv.get("k", cacheTtl=10)
    with pytest.raises(KVError, match="Unknown response type"):
        await kv.get("k", "yaml")
    with pytest.raises(KVError, match="Unknown response type"):
        await kv.getWithMetadata("k", {"type": "blob"})
    with pytest.raises(NotImplementedError, match="arrayBuffer"):
        await kv.get("k", "stream")


# -- keys -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Key name cannot be empty."),
        (".", '"." is not allowed as a key name.'),
        ("..", '".." is not allowed as a key name.'),
        ("x" * 513, "414 UTF-8 encoded length of 513 exceeds key length limit of 512."),
        ("é" * 257, "UTF-8 encoded length of 514"),
    ],
)
async def test_invalid_keys(kv, key, message):
    with pytest.raises(KVError, match=message):
        await kv.put(key, "v")
    with pytest.raises(KVError, match=message):
        await kv.get(key)
    with pytest.raises(KVError, match=message):
        await kv.getWithMetadata(key)
    with pytest.raises(KVError, match=message):
        await kv.delete(key)


async def test_key_limits_are_inclusive_and_unusual_keys_work(kv):
    for key in ["x" * 512, "é" * 256, "...", "a/b/../c", " ", "emoji 🔑", "with\nnewline", "%2F?#"]:
        await kv.put(key, key)
        assert await kv.get(key) == key


async def test_keys_must_be_strings(kv):
    with pytest.raises(TypeError, match="strings"):
        await kv.put(1, "v")
    with pytest.raises(TypeError, match="strings"):
        await kv.get(b"k")


# -- bulk get ---------------------------------------------------------------------------------------------
async def test_get_many_keys(kv):
    await kv.put("a", '{"n": 1}', metadata={"m": "a"})
    await kv.put("b", '{"n": 2}')
    assert await kv.get(["a", "b", "zz"]) == {"a": '{"n": 1}', "b": '{"n": 2}', "zz": None}
    values = await kv.get(["a", "b"], "json")
    assert values.a.n == 1
    assert await kv.getWithMetadata(["a", "zz"], type="json") == {
        "a": {"value": {"n": 1}, "metadata": {"m": "a"}},
        "zz": None,
    }
    with pytest.raises(KVError, match="not a valid type"):
        await kv.get(["a"], "arrayBuffer")
    with pytest.raises(KVError, match="between 1 and 100"):
        await kv.get([])
    with pytest.raises(KVError, match="between 1 and 100"):
        await kv.get([f"k{i}" for i in range(101)])


# -- list -------------------------------------------------------------------------------------------------
async def test_list_shape(kv):
    await kv.put("k", "v")
    listing = await kv.list()
    assert listing == {"keys": [{"name": "k"}], "list_complete": True, "cacheStatus": None}
    assert isinstance(listing, JsDict)
    assert isinstance(listing["keys"][0], JsDict)
    assert listing.list_complete is True
    assert listing.cacheStatus is None


async def test_keys_is_read_by_subscript_because_it_is_a_dict_method(kv):
    # As on Cloudflare (the SDK's JsDict): `result.keys` is dict.keys, `result["keys"]` the listing.
    await kv.put("k", "v")
    listing = await kv.list()
    assert callable(listing.keys)
    assert listing["keys"] == [{"name": "k"}]


async def test_list_of_an_empty_namespace(kv):
    assert await kv.list() == {"keys": [], "list_complete": True, "cacheStatus": None}
    assert await kv.list(prefix="nothing", limit=5) == {"keys": [], "list_complete": True, "cacheStatus": None}


async def test_list_pages_with_prefix_limit_and_cursor(kv):
    for i in reversed(range(25)):
        await kv.put(f"user:{i:02d}", "v", metadata={"i": i})
    await kv.put("other", "v")
    await kv.put("user", "v")  # the prefix itself is not under "user:"
    seen, cursor, pages = [], None, []
    while True:
        page = await kv.list({"prefix": "user:", "limit": 10, **({"cursor": cursor} if cursor else {})})
        pages.append(len(page["keys"]))
        seen += [k["name"] for k in page["keys"]]
        if page.list_complete:
            assert "cursor" not in page
            break
        assert isinstance(page.cursor, str)
        assert page.cursor
        cursor = page.cursor
    assert pages == [10, 10, 5]
    assert seen == [f"user:{i:02d}" for i in range(25)]  # each key exactly once, in order
    first = (await kv.list({"prefix": "user:0", "limit": 1}))["keys"]
    assert first == [{"name": "user:00", "metadata": {"i": 0}}]


async def test_list_pages_with_keyword_options_and_an_exact_multiple(kv):
    for i in range(20):
        await kv.put(f"k{i:02d}", "v")
    page = await kv.list(limit=10)
    assert len(page["keys"]) == 10
    assert page.list_complete is False
    rest = await kv.list(limit=10, cursor=page.cursor)
    assert [k["name"] for k in rest["keys"]] == [f"k{i:02d}" for i in range(10, 20)]
    assert rest.list_complete is True


async def test_list_defaults_to_1000_keys(kv):
    for i in range(1001):
        await kv.put(f"k{i:04d}", "v")
    page = await kv.list()
    assert len(page["keys"]) == 1000
    assert page.list_complete is False
    assert [k["name"] for k in (await kv.list(cursor=page.cursor))["keys"]] == ["k1000"]


async def test_list_skips_expired_keys_on_every_page(kv, clock):
    for i in range(6):
        await kv.put(f"k{i}", "v", expirationTtl=60 if i % 2 else 3600)
    clock.now += 61
    page = await kv.list(limit=2)
    assert [k["name"] for k in page["keys"]] == ["k0", "k2"]
    assert [k["name"] for k in (await kv.list(limit=2, cursor=page.cursor))["keys"]] == ["k4"]


async def test_list_orders_by_utf8_bytes(kv):
    for key in ["b", "a", "é", "Z", "\U0001f511", "\uff5e", "aa", "a b"]:
        await kv.put(key, "v")
    # UTF-8 byte order: U+FF5E (EF BD 9E) sorts before U+1F511 (F0 ...), unlike UTF-16 order.
    assert await listed(kv) == ["Z", "a", "a b", "aa", "b", "é", "\uff5e", "\U0001f511"]


async def test_list_prefix_is_literal(kv):
    for key in ["a%b", "a_b", "axb", "A%b"]:
        await kv.put(key, "v")
    assert await listed(kv, prefix="a%") == ["a%b"]
    assert await listed(kv, prefix="a_") == ["a_b"]
    assert await listed(kv, prefix="") == ["A%b", "a%b", "a_b", "axb"]


@pytest.mark.parametrize("limit", [0, -1, 1001, 2.5, "10", True])
async def test_list_rejects_bad_limits(kv, limit):
    with pytest.raises(KVError, match=r"key_count_limit.*between 1 and 1000"):
        await kv.list({"limit": limit})


@pytest.mark.parametrize("cursor", ["%%%", "not-a-cursor", "aGVsbG8=", 12])
async def test_list_rejects_invalid_cursors(kv, cursor):
    with pytest.raises(KVError, match="Invalid cursor"):
        await kv.list({"cursor": cursor})


async def test_list_rejects_a_too_long_prefix(kv):
    with pytest.raises(KVError, match="414"):
        await kv.list(prefix="p" * 513)


# -- files ------------------------------------------------------------------------------------------------
async def test_values_survive_reopening_and_are_shared(tmp_path, clock):
    path = tmp_path / "nested" / "kv.sqlite"
    first = KVNamespace(path, clock=clock)
    second = KVNamespace(path, clock=clock)
    await first.put("k", "v", metadata={"a": 1})
    assert await second.get("k") == "v"
    await second.delete("k")
    assert await first.get("k") is None
    await second.put("k2", "v2")
    del first, second
    reopened = KVNamespace(path, clock=clock)
    assert await reopened.get("k2") == "v2"
    assert await listed(reopened) == ["k2"]
