"""Things over RPC: upsert/get/delete, listing (filters, order, pages, cursors), counting, search, stats."""

import asyncio

import pytest
from conftest import P_WRITER, make_thing, user

from dotdo_dev.testing import rpc_fails


async def test_upsert_creates_then_replaces_keeping_creation_fields(worker):
    # usr_b replaces usr_a's thing as a member of its organisation (before owners, anyone could)
    usr_a, usr_b = user("usr_a", org_id="org_acme"), user("usr_b", org_id="org_acme")
    first = await make_thing(worker, "acme", "t1", type="Person", data={"a": 1}, content="one", principal=usr_a)
    assert first["created"] is True
    assert first["created_by"] == first["updated_by"] == first["owner_id"] == "usr_a"
    assert first["org_id"] == "org_acme"
    assert first["created_at"] == first["updated_at"]
    assert (first["type"], first["data"], first["content"], first["visibility"]) == (
        "Person",
        {"a": 1},
        "one",
        "private",
    )

    await asyncio.sleep(0.005)  # timestamps have millisecond resolution
    second = await make_thing(
        worker, "acme", "t1", type="Robot", data={"b": [1, 2]}, content=None, visibility="public", principal=usr_b
    )
    assert second["created"] is False
    assert second["created_at"] == first["created_at"]
    assert second["created_by"] == second["owner_id"] == "usr_a"
    assert second["org_id"] == "org_acme"
    assert second["updated_by"] == "usr_b"
    assert second["updated_at"] > first["updated_at"]
    assert (second["type"], second["data"], second["content"], second["visibility"]) == (
        "Robot",
        {"b": [1, 2]},
        None,
        "public",
    )

    got = await worker.rpc("get_thing", P_WRITER, "acme", "t1")
    assert got == {k: v for k, v in second.items() if k != "created"}
    assert await worker.rpc("count_things", P_WRITER) == 1


async def test_get_missing_is_404(worker):
    err = await rpc_fails(worker, "get_thing", P_WRITER, "acme", "nope")
    assert (err.status, err.code) == (404, "NOT_FOUND")
    assert err.details == {"ns": "acme", "id": "nope"}


async def test_delete_then_404(worker):
    await make_thing(worker, "acme", "gone")
    assert await worker.rpc("delete_thing", P_WRITER, "acme", "gone") == {"ns": "acme", "id": "gone", "deleted": True}
    assert (await rpc_fails(worker, "get_thing", P_WRITER, "acme", "gone")).code == "NOT_FOUND"
    again = await rpc_fails(worker, "delete_thing", P_WRITER, "acme", "gone")
    assert (again.status, again.code) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    "thing",
    [
        {"ns": "Upper", "id": "x"},
        {"ns": "acme", "id": "-starts-with-dash"},
        {"ns": "acme", "id": "x", "type": "1bad"},
        {"ns": "acme", "id": "x", "visibility": "secret"},
        {"ns": "acme", "id": "x", "data": [1]},
        {"ns": "acme", "id": "x", "extra": 1},
        {"ns": "acme"},
        {"ns": "acme", "id": "x", "data": {"big": "x" * (256 * 1024)}},
    ],
)
async def test_upsert_rejects_invalid_things(worker, thing):
    err = await rpc_fails(worker, "upsert_thing", P_WRITER, thing)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert await worker.rpc("count_things", P_WRITER) == 0


async def _seed(worker):
    """7 things: 4 in acme (3 Person), 3 in beta; visibilities mixed. Distinct created_at."""
    specs = [
        ("acme", "a1", "Person", "public"),
        ("acme", "a2", "Person", "private"),
        ("acme", "a3", "Article", "public"),
        ("acme", "a4", "Person", "unlisted"),
        ("beta", "b1", "Person", "public"),
        ("beta", "b2", "Article", "private"),
        ("beta", "b3", "Article", "public"),
    ]
    for ns, id, type_, vis in specs:
        await make_thing(worker, ns, id, type=type_, visibility=vis)
        await asyncio.sleep(0.002)
    return specs


def _keys(items):
    return [(t["ns"], t["id"]) for t in items]


async def test_list_filters(worker):
    await _seed(worker)
    page = await worker.rpc("list_things", P_WRITER, {"ns": "acme"})
    assert sorted(_keys(page["items"])) == [("acme", "a1"), ("acme", "a2"), ("acme", "a3"), ("acme", "a4")]
    assert page["total"] == 4
    page = await worker.rpc("list_things", P_WRITER, {"type": "Article"})
    assert sorted(_keys(page["items"])) == [("acme", "a3"), ("beta", "b2"), ("beta", "b3")]
    page = await worker.rpc("list_things", P_WRITER, {"ns": "beta", "visibility": "public"})
    assert sorted(_keys(page["items"])) == [("beta", "b1"), ("beta", "b3")]
    assert page["total"] == 2
    page = await worker.rpc("list_things", P_WRITER, {"ns": "acme", "type": "Person", "visibility": "unlisted"})
    assert _keys(page["items"]) == [("acme", "a4")]
    empty = await worker.rpc("list_things", P_WRITER, {"ns": "nobody"})
    assert empty == {"items": [], "total": 0, "page": 1, "limit": 20, "has_more": False, "next_cursor": None}


async def test_list_order_both_ways(worker):
    specs = await _seed(worker)
    in_creation = [(ns, id) for ns, id, _, _ in specs]
    newest_first = await worker.rpc("list_things", P_WRITER)
    assert _keys(newest_first["items"]) == in_creation[::-1]
    oldest_first = await worker.rpc("list_things", P_WRITER, {"order": "asc"})
    assert _keys(oldest_first["items"]) == in_creation
    by_id = await worker.rpc("list_things", P_WRITER, {"order_by": "id", "order": "asc"})
    assert [t["id"] for t in by_id["items"]] == sorted(id for _, id, _, _ in specs)
    by_id_desc = await worker.rpc("list_things", P_WRITER, {"order_by": "id", "order": "desc"})
    assert [t["id"] for t in by_id_desc["items"]] == sorted((id for _, id, _, _ in specs), reverse=True)
    by_type = await worker.rpc("list_things", P_WRITER, {"order_by": "type", "order": "asc"})
    assert [t["type"] for t in by_type["items"]] == ["Article"] * 3 + ["Person"] * 4


async def test_list_pages(worker):
    specs = await _seed(worker)
    in_creation = [(ns, id) for ns, id, _, _ in specs]
    seen = []
    for page_no, expected_more in ((1, True), (2, True), (3, False)):
        page = await worker.rpc("list_things", P_WRITER, {"order": "asc", "limit": 3, "page": page_no})
        assert page["page"] == page_no
        assert page["limit"] == 3
        assert page["total"] == 7
        assert page["has_more"] is expected_more
        seen += _keys(page["items"])
    assert seen == in_creation
    beyond = await worker.rpc("list_things", P_WRITER, {"limit": 3, "page": 4})
    assert beyond["items"] == []
    assert beyond["has_more"] is False
    assert beyond["total"] == 7


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 101},
        {"page": 0},
        {"order": "sideways"},
        {"order_by": "data"},
        {"ns": "BAD NS"},
        {"unknown": 1},
    ],
)
async def test_list_rejects_bad_queries(worker, query):
    err = await rpc_fails(worker, "list_things", P_WRITER, query)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(("order_by", "order"), [("created_at", "desc"), ("id", "asc"), ("type", "desc")])
async def test_cursor_paging_walks_everything_once_with_inserts_between(worker, order_by, order):
    for i in range(10):
        await make_thing(worker, "acme", f"t{i:02d}", type=f"T{i % 3}")
    seen = []
    cursor = None
    inserted = 0
    while True:
        query = {"order_by": order_by, "order": order, "limit": 3}
        if cursor:
            query["cursor"] = cursor
        page = await worker.rpc("list_things", P_WRITER, query)
        assert page["page"] is None if cursor else page["page"] == 1
        seen += _keys(page["items"])
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
        assert cursor
        # A new thing after each page: it must never make an item repeat.
        await make_thing(worker, "acme", f"new{inserted}", type="T0")
        inserted += 1
    assert len(seen) == len(set(seen)), "an item appeared twice"
    assert {f"t{i:02d}" for i in range(10)} <= {id for _, id in seen}, "an original item was skipped"
    assert await worker.rpc("count_things", P_WRITER) == 10 + inserted


async def test_cursor_of_another_order_or_garbage_is_400(worker):
    for i in range(3):
        await make_thing(worker, "acme", f"t{i}")
    page = await worker.rpc("list_things", P_WRITER, {"limit": 1})
    assert page["next_cursor"]
    for cursor in ("garbage!!", "e30", "W10", "WyJpZCIsMSwyLDNd", "x" * 1025):
        err = await rpc_fails(worker, "list_things", P_WRITER, {"cursor": cursor})
        assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    other_order = await rpc_fails(worker, "list_things", P_WRITER, {"cursor": page["next_cursor"], "order_by": "id"})
    assert other_order.code == "VALIDATION_ERROR"


async def test_count_things(worker):
    await _seed(worker)
    assert await worker.rpc("count_things", P_WRITER) == 7
    assert await worker.rpc("count_things", P_WRITER, "acme") == 4
    assert await worker.rpc("count_things", P_WRITER, "acme", "Person") == 3
    assert await worker.rpc("count_things", P_WRITER, None, "Article", "public") == 2
    assert await worker.rpc("count_things", P_WRITER, visibility="private") == 2
    assert await worker.rpc("count_things", P_WRITER, "zzz") == 0
    assert (await rpc_fails(worker, "count_things", P_WRITER, visibility="nope")).code == "VALIDATION_ERROR"


async def test_search_every_word_prefix_filters_and_snippet(worker):
    await make_thing(worker, "acme", "d1", type="Doc", content="hello world of databases")
    await make_thing(worker, "acme", "d2", type="Note", content="hello there")
    await make_thing(worker, "beta", "d3", type="Doc", content="a world apart")
    await make_thing(worker, "beta", "d4", type="Doc")  # no content

    def ids(result):
        return sorted(t["id"] for t in result["items"])

    assert ids(await worker.rpc("search_things", P_WRITER, "hello")) == ["d1", "d2"]
    assert ids(await worker.rpc("search_things", P_WRITER, "hello world")) == ["d1"]  # every word must match
    assert ids(await worker.rpc("search_things", P_WRITER, "world")) == ["d1", "d3"]
    assert ids(await worker.rpc("search_things", P_WRITER, "wor*")) == ["d1", "d3"]
    assert ids(await worker.rpc("search_things", P_WRITER, "wor")) == []  # no prefix without *
    assert ids(await worker.rpc("search_things", P_WRITER, "data*")) == ["d1"]
    assert ids(await worker.rpc("search_things", P_WRITER, "world", ns="beta")) == ["d3"]
    assert ids(await worker.rpc("search_things", P_WRITER, "world", type="Doc", ns="acme")) == ["d1"]
    assert ids(await worker.rpc("search_things", P_WRITER, "hello", type="Doc")) == ["d1"]
    assert ids(await worker.rpc("search_things", P_WRITER, "absent")) == []

    result = await worker.rpc("search_things", P_WRITER, "databases")
    assert result["query"] == "databases"
    (hit,) = result["items"]
    assert "[databases]" in hit["snippet"]
    assert hit["content"] == "hello world of databases"
    assert {k: v for k, v in hit.items() if k != "snippet"} == await worker.rpc("get_thing", P_WRITER, "acme", "d1")

    one = await worker.rpc("search_things", P_WRITER, "hello", limit=1)
    assert len(one["items"]) == 1


async def test_search_follows_updates_and_deletes(worker):
    await make_thing(worker, "acme", "d1", content="alpha beta")
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, "alpha"))["items"]] == ["d1"]
    await make_thing(worker, "acme", "d1", content="gamma delta")
    assert (await worker.rpc("search_things", P_WRITER, "alpha"))["items"] == []
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, "gamma"))["items"]] == ["d1"]
    await make_thing(worker, "acme", "d1", content=None)
    assert (await worker.rpc("search_things", P_WRITER, "gamma"))["items"] == []
    await make_thing(worker, "acme", "d1", content="epsilon")
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, "epsilon"))["items"]] == ["d1"]
    await worker.rpc("delete_thing", P_WRITER, "acme", "d1")
    assert (await worker.rpc("search_things", P_WRITER, "epsilon"))["items"] == []
    # the index holds nothing stale: a new thing with the old words is found once
    await make_thing(worker, "acme", "d2", content="epsilon alpha")
    assert [t["id"] for t in (await worker.rpc("search_things", P_WRITER, "epsilon"))["items"]] == ["d2"]


@pytest.mark.parametrize(("q", "limit"), [("", 20), ("x" * 501, 20), ("x", 0), ("x", 101)])
async def test_search_rejects_bad_input(worker, q, limit):
    err = await rpc_fails(worker, "search_things", P_WRITER, q, limit=limit)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")


async def test_type_distribution_and_stats(worker):
    await _seed(worker)
    await make_thing(worker, "gamma", "g1", type="Zebra")
    await worker.rpc("upsert_thing", P_WRITER, {"ns": "acme", "id": "a1", "type": "Person"})
    await worker.rpc(
        "upsert_relationship",
        P_WRITER,
        {"from": {"ns": "acme", "id": "a1"}, "predicate": "knows", "to": {"ns": "beta", "id": "b1"}},
    )

    assert await worker.rpc("type_distribution", P_WRITER) == [
        {"type": "Person", "count": 4},
        {"type": "Article", "count": 3},
        {"type": "Zebra", "count": 1},
    ]
    assert await worker.rpc("type_distribution", P_WRITER, "acme") == [
        {"type": "Person", "count": 3},
        {"type": "Article", "count": 1},
    ]
    assert await worker.rpc("type_distribution", P_WRITER, "nobody") == []
    stats = await worker.rpc("stats", P_WRITER)
    assert stats == {
        "things": 8,
        "relationships": 1,
        "namespaces": [{"ns": "acme", "count": 4}, {"ns": "beta", "count": 3}, {"ns": "gamma", "count": 1}],
        "types": [{"type": "Person", "count": 4}, {"type": "Article", "count": 3}, {"type": "Zebra", "count": 1}],
        "schema_version": 3,
    }
