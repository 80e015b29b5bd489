"""Relationships over RPC: edges between existing things, replace, both directions, delete, cascade."""

import asyncio

import pytest
from conftest import P_ADMIN, P_WRITER, make_thing

from dotdo_dev.testing import rpc_fails


def edge(from_id, predicate, to_id, data=None, from_ns="acme", to_ns="acme"):
    value = {"from": {"ns": from_ns, "id": from_id}, "predicate": predicate, "to": {"ns": to_ns, "id": to_id}}
    if data is not None:
        value["data"] = data
    return value


async def _count(worker):
    return (await worker.rpc("stats", P_WRITER))["relationships"]


@pytest.fixture
async def graph(worker):
    for id in ("alice", "bob", "carol", "post"):
        await make_thing(worker, "acme", id)
    return worker


async def test_both_ends_must_exist(graph):
    err = await rpc_fails(graph, "upsert_relationship", P_WRITER, edge("alice", "knows", "nobody"))
    assert (err.status, err.code) == (404, "NOT_FOUND")
    assert err.details == {"ns": "acme", "id": "nobody"}
    err = await rpc_fails(graph, "upsert_relationship", P_WRITER, edge("ghost", "knows", "bob"))
    assert err.details == {"ns": "acme", "id": "ghost"}
    err = await rpc_fails(graph, "upsert_relationship", P_WRITER, edge("alice", "knows", "alice", to_ns="other"))
    assert err.details == {"ns": "other", "id": "alice"}
    assert await _count(graph) == 0


async def test_upsert_then_replace_data(graph):
    first = await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "bob", {"since": 2020}))
    assert first["from"] == {"ns": "acme", "id": "alice"}
    assert first["to"] == {"ns": "acme", "id": "bob"}
    assert first["predicate"] == "knows"
    assert first["data"] == {"since": 2020}
    assert first["created_by"] == first["owner_id"] == "usr_writer"
    await asyncio.sleep(0.005)
    second = await graph.rpc(
        "upsert_relationship", P_ADMIN, edge("alice", "knows", "bob", {"since": 2021})
    )  # another principal that may write alice (an admin): the edge keeps its creator and owner
    assert second["data"] == {"since": 2021}
    assert second["created_at"] == first["created_at"]
    assert second["created_by"] == second["owner_id"] == "usr_writer"
    assert second["updated_at"] > first["updated_at"]
    assert await _count(graph) == 1
    (stored,) = (await graph.rpc("get_relationships", P_WRITER, "acme", "alice"))["items"]
    assert stored == second


@pytest.mark.parametrize(
    "bad",
    [
        edge("alice", "1bad", "bob"),
        edge("alice", "has space", "bob"),
        {"from": {"ns": "acme", "id": "alice"}, "predicate": "knows"},
        edge("alice", "knows", "bob") | {"extra": True},
        edge("alice", "knows", "bob", data=[1, 2]),
    ],
)
async def test_invalid_edges_are_400(graph, bad):
    err = await rpc_fails(graph, "upsert_relationship", P_WRITER, bad)
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")


async def test_outgoing_and_incoming(graph):
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "bob"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "carol"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "wrote", "post"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("carol", "likes", "post"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("bob", "knows", "alice"))

    def pairs(page):
        return [(r["from"]["id"], r["predicate"], r["to"]["id"]) for r in page["items"]]

    out = await graph.rpc("get_relationships", P_WRITER, "acme", "alice")
    assert pairs(out) == [("alice", "knows", "bob"), ("alice", "knows", "carol"), ("alice", "wrote", "post")]
    assert out["has_more"] is False
    assert pairs(await graph.rpc("get_relationships", P_WRITER, "acme", "alice", "wrote")) == [
        ("alice", "wrote", "post")
    ]
    assert pairs(await graph.rpc("get_relationships", P_WRITER, "acme", "post")) == []

    incoming = await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "post")
    assert pairs(incoming) == [("carol", "likes", "post"), ("alice", "wrote", "post")]
    assert pairs(await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "post", "likes")) == [
        ("carol", "likes", "post")
    ]
    assert pairs(await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "alice")) == [
        ("bob", "knows", "alice")
    ]
    assert pairs(await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "alice", "likes")) == []

    limited = await graph.rpc("list_relationships", P_WRITER, {"ns": "acme", "id": "alice", "limit": 2})
    assert pairs(limited) == [("alice", "knows", "bob"), ("alice", "knows", "carol")]
    assert limited["has_more"] is True
    rest = await graph.rpc("list_relationships", P_WRITER, {"ns": "acme", "id": "alice", "limit": 2, "offset": 2})
    assert pairs(rest) == [("alice", "wrote", "post")]
    assert rest["has_more"] is False
    exact = await graph.rpc("list_relationships", P_WRITER, {"ns": "acme", "id": "alice", "limit": 3})
    assert exact["has_more"] is False

    for bad in ({"ns": "acme", "id": "alice", "direction": "sideways"}, {"ns": "acme", "id": "alice", "limit": 0}):
        assert (await rpc_fails(graph, "list_relationships", P_WRITER, bad)).code == "VALIDATION_ERROR"


async def test_delete_edge_and_unknown_edge(graph):
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "bob"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "likes", "bob"))
    assert await graph.rpc("delete_relationship", P_WRITER, edge("alice", "knows", "bob")) == {"deleted": True}
    remaining = (await graph.rpc("get_relationships", P_WRITER, "acme", "alice"))["items"]
    assert [r["predicate"] for r in remaining] == ["likes"]
    err = await rpc_fails(graph, "delete_relationship", P_WRITER, edge("alice", "knows", "bob"))
    assert (err.status, err.code) == (404, "NOT_FOUND")
    err = await rpc_fails(graph, "delete_relationship", P_WRITER, edge("bob", "likes", "alice"))  # reversed direction
    assert err.code == "NOT_FOUND"
    assert await _count(graph) == 1


async def test_deleting_a_thing_cascades_both_ways(graph):
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "bob"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("bob", "knows", "carol"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("carol", "knows", "bob"))
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "carol"))
    assert await _count(graph) == 4
    await graph.rpc("delete_thing", P_WRITER, "acme", "bob")
    assert await _count(graph) == 1
    assert (await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "bob"))["items"] == []
    assert (await graph.rpc("get_relationships", P_WRITER, "acme", "bob"))["items"] == []
    (left,) = (await graph.rpc("get_relationships", P_WRITER, "acme", "alice"))["items"]
    assert left["to"] == {"ns": "acme", "id": "carol"}
    # recreating bob does not bring old edges back
    await make_thing(graph, "acme", "bob")
    assert (await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "bob"))["items"] == []


async def test_replacing_a_thing_keeps_its_edges(graph):
    await graph.rpc("upsert_relationship", P_WRITER, edge("alice", "knows", "bob"))
    await make_thing(graph, "acme", "bob", type="Person", content="changed")
    assert len((await graph.rpc("get_incoming_relationships", P_WRITER, "acme", "bob"))["items"]) == 1
