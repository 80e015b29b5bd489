"""Local KV: Cloudflare's API, limits, metadata, expiry and listing, on a real SQLite file."""

import pytest

from dotdo_dev.runtime.bindings.kv import KVError, KVNamespace


@pytest.fixture
def kv(tmp_path, clock):
    return KVNamespace(tmp_path / "kv.sqlite", clock=clock)


async def test_text_json_and_bytes_round_trip(kv):
    await kv.put("t", "héllo")
    await kv.put("j", '{"a": [1, 2]}')
    await kv.put("b", b"\x00\xff")
    assert await kv.get("t") == "héllo"
    assert await kv.get("j", "json") == {"a": [1, 2]}
    assert (await kv.get("j", {"type": "json"})).a == [1, 2]
    assert await kv.get("j", type="json") == {"a": [1, 2]}
    assert await kv.get("b", "arrayBuffer") == b"\x00\xff"
    assert await kv.get("missing") is None


async def test_put_overwrites_and_delete_removes(kv):
    await kv.put("k", "1")
    await kv.put("k", "2")
    assert await kv.get("k") == "2"
    await kv.delete("k")
    await kv.delete("k")  # deleting a missing key is fine
    assert await kv.get("k") is None


async def test_metadata(kv):
    await kv.put("k", "v", metadata={"owner": "ada", "n": 1})
    result = await kv.getWithMetadata("k")
    assert result == {"value": "v", "metadata": {"owner": "ada", "n": 1}, "cacheStatus": None}
    assert result.metadata.owner == "ada"
    assert (await kv.getWithMetadata("missing")).value is None
    with pytest.raises(KVError, match="1024 bytes"):
        await kv.put("big", "v", metadata={"x": "y" * 2000})


async def test_expiration_ttl(kv, clock):
    await kv.put("k", "v", expirationTtl=120)
    await kv.put("keep", "v")
    clock.now += 119
    assert await kv.get("k") == "v"
    clock.now += 2
    assert await kv.get("k") is None
    assert [k["name"] for k in (await kv.list())["keys"]] == ["keep"]


async def test_absolute_expiration_is_listed(kv, clock):
    at = int(clock.now) + 3600
    await kv.put("k", "v", {"expiration": at})
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": at}]


@pytest.mark.parametrize("options", [{"expirationTtl": 59}, {"expirationTtl": 0}, {"expiration": 1}])
async def test_expiry_below_sixty_seconds_is_refused(kv, options):
    with pytest.raises(KVError, match="60"):
        await kv.put("k", "v", options)


async def test_unknown_options_are_refused(kv):
    with pytest.raises(KVError, match="expiration_ttl"):
        await kv.put("k", "v", expiration_ttl=120)
    with pytest.raises(KVError, match="cache_ttl"):
        await kv.get("k", {"type": "text", "cache_ttl": 5})
    with pytest.raises(KVError, match="Unknown response type"):
        await kv.get("k", "yaml")


@pytest.mark.parametrize("key", ["", ".", "..", "x" * 513])
async def test_invalid_keys(kv, key):
    with pytest.raises(KVError):
        await kv.put(key, "v")


async def test_values_must_be_text_or_bytes(kv):
    with pytest.raises(TypeError, match=r"json\.dumps"):
        await kv.put("k", {"a": 1})


async def test_list_pages_with_prefix_limit_and_cursor(kv):
    for i in range(25):
        await kv.put(f"user:{i:02d}", "v", metadata={"i": i})
    await kv.put("other", "v")
    seen, cursor, pages = [], None, 0
    while True:
        page = await kv.list({"prefix": "user:", "limit": 10, **({"cursor": cursor} if cursor else {})})
        pages += 1
        seen += [k["name"] for k in page["keys"]]
        if page.list_complete:
            assert "cursor" not in page
            break
        cursor = page.cursor
    assert pages == 3
    assert seen == [f"user:{i:02d}" for i in range(25)]
    assert (await kv.list({"prefix": "user:0", "limit": 1}))["keys"] == [{"name": "user:00", "metadata": {"i": 0}}]


async def test_keys_is_read_by_subscript_because_it_is_a_dict_method(kv):
    # As on Cloudflare (the SDK's JsDict): `result.keys` is dict.keys, `result["keys"]` the listing.
    await kv.put("k", "v")
    listing = await kv.list()
    assert callable(listing.keys)
    assert listing["keys"] == [{"name": "k"}]


async def test_list_orders_by_utf8_bytes(kv):
    for key in ["b", "a", "é", "Z"]:
        await kv.put(key, "v")
    assert [k["name"] for k in (await kv.list())["keys"]] == ["Z", "a", "b", "é"]


async def test_list_rejects_bad_limit_and_cursor(kv):
    with pytest.raises(KVError, match="between 1 and 1000"):
        await kv.list({"limit": 1001})
    with pytest.raises(KVError, match="cursor"):
        await kv.list({"cursor": "%%%"})


async def test_values_survive_reopening(tmp_path, clock):
    first = KVNamespace(tmp_path / "kv.sqlite", clock=clock)
    await first.put("k", "v")
    assert await KVNamespace(tmp_path / "kv.sqlite", clock=clock).get("k") == "v"
