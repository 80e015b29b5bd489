"""Ownership and visibility: who may see and change which things and edges, the same through HTTP, RPC and MCP.

Alice and Bob are two users (no organisation); Carol is a member of `org_1` who may write, Dan a
member who may only read. Every read Bob is refused answers exactly as a missing thing does.
"""

import itertools
import json

import pytest
from conftest import ADMIN, P_ADMIN, PRINCIPALS, READER, make_thing, user

from dotdo_dev.testing import bearer, rpc_fails, rpc_outcome
from dotdo_dev.testing import envelope as body
from shared.principals import service_principal

ALICE, BOB = PRINCIPALS["alice-token"], PRINCIPALS["bob-token"]
CAROL, DAN = PRINCIPALS["member-token"], PRINCIPALS["org-viewer-token"]
ALICE_IN_ORG = ALICE | {"org_id": "org_1"}  # Alice acting in org_1 (a session of hers there)
H_ALICE, H_BOB, H_CAROL, H_DAN = (bearer(t) for t in ("alice-token", "bob-token", "member-token", "org-viewer-token"))

_ids = itertools.count(1)


def key(ns, id):
    return {"ns": ns, "id": id}


def edge(from_id, predicate, to_id, ns="acme"):
    return {"from": key(ns, from_id), "predicate": predicate, "to": key(ns, to_id)}


async def mcp_call(worker, tool, arguments, headers):
    """`tools/call`: (is_error, structured data)."""
    message = {
        "jsonrpc": "2.0",
        "id": next(_ids),
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    response = await worker.fetch("/mcp", method="POST", headers=headers, json=message)
    assert response.status == 200
    result = (await response.json())["result"]
    return result["isError"], json.loads(result["content"][0]["text"])


async def answer(response) -> tuple:
    """A response as a client sees it, less what differs between any two requests (request id, time)."""
    data = await body(response)
    data.pop("meta")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("x-request-id", "date")}
    return response.status, data, headers


def ids(items):
    return sorted(f"{t['ns']}/{t['id']}" for t in items)


@pytest.fixture
async def world(worker):
    """Alice's private, public and unlisted things, Bob's own, and an edge between Alice's things."""
    await make_thing(worker, "acme", "secret", principal=ALICE, content="alpha private words")
    await make_thing(worker, "acme", "open", principal=ALICE, content="alpha public words", visibility="public")
    await make_thing(worker, "acme", "link", principal=ALICE, content="alpha unlisted words", visibility="unlisted")
    await make_thing(worker, "acme", "bobs", principal=BOB, content="alpha bob words")
    await worker.rpc("upsert_relationship", ALICE, edge("open", "mentions", "secret"))
    await worker.rpc("upsert_relationship", ALICE, edge("secret", "mentions", "open"))
    return worker


# -- Bob and Alice's private thing ----------------------------------------------------------------------


BOB_HTTP = [
    ("GET", "/things/acme/secret", None),
    ("DELETE", "/things/acme/secret", None),
    ("GET", "/things/acme/secret/relationships", None),
    ("GET", "/things/acme/secret/relationships?direction=incoming", None),
    ("GET", "/relationships?ns=acme&id=secret", None),
    ("POST", "/relationships", edge("bobs", "likes", "secret")),
    ("POST", "/relationships", edge("secret", "likes", "bobs")),
    ("DELETE", "/relationships", edge("secret", "mentions", "open")),
]


async def test_bobs_http_answers_about_alices_private_thing_are_those_of_a_missing_one(world):
    worker = world
    hidden = [await answer(await worker.fetch(p, method=m, json=j, headers=H_BOB)) for m, p, j in BOB_HTTP]
    hidden_mcp = [await mcp_call(worker, t, key("acme", "secret"), H_BOB) for t in ("db_get", "db_delete")]
    hidden_rpc = [
        await rpc_outcome(worker, "get_thing", BOB, "acme", "secret"),
        await rpc_outcome(worker, "delete_thing", BOB, "acme", "secret"),
        await rpc_outcome(worker, "get_relationships", BOB, "acme", "secret"),
        await rpc_outcome(worker, "get_incoming_relationships", BOB, "acme", "secret"),
        await rpc_outcome(worker, "upsert_relationship", BOB, edge("bobs", "likes", "secret")),
        await rpc_outcome(worker, "delete_relationship", BOB, edge("secret", "mentions", "open")),
    ]
    assert hidden[0][0] == 404
    assert hidden[0][1]["error"] == {
        "code": "NOT_FOUND",
        "message": "No thing acme/secret",
        "details": key("acme", "secret"),
    }
    assert (await worker.rpc("get_thing", ALICE, "acme", "secret"))["content"] == "alpha private words"

    await worker.rpc("delete_thing", ALICE, "acme", "secret")  # now it is missing: the same answers, to the byte
    missing = [await answer(await worker.fetch(p, method=m, json=j, headers=H_BOB)) for m, p, j in BOB_HTTP]
    missing_mcp = [await mcp_call(worker, t, key("acme", "secret"), H_BOB) for t in ("db_get", "db_delete")]
    missing_rpc = [
        await rpc_outcome(worker, "get_thing", BOB, "acme", "secret"),
        await rpc_outcome(worker, "delete_thing", BOB, "acme", "secret"),
        await rpc_outcome(worker, "get_relationships", BOB, "acme", "secret"),
        await rpc_outcome(worker, "get_incoming_relationships", BOB, "acme", "secret"),
        await rpc_outcome(worker, "upsert_relationship", BOB, edge("bobs", "likes", "secret")),
        await rpc_outcome(worker, "delete_relationship", BOB, edge("secret", "mentions", "open")),
    ]
    assert hidden == missing
    assert hidden_mcp == missing_mcp
    as_seen = [(value, err and (err.status, err.code, str(err), err.details)) for value, err in hidden_rpc]
    assert as_seen == [(value, err and (err.status, err.code, str(err), err.details)) for value, err in missing_rpc]


async def test_bob_cannot_find_count_or_overwrite_alices_private_thing(world):
    worker = world
    listed = await worker.rpc("list_things", BOB, {"ns": "acme"})
    assert ids(listed["items"]) == ["acme/bobs", "acme/open"]
    assert listed["total"] == 2
    assert ids((await worker.rpc("search_things", BOB, "alpha"))["items"]) == ["acme/bobs", "acme/open"]
    assert await worker.rpc("count_things", BOB) == 2
    assert await worker.rpc("count_things", BOB, "acme", None, "private") == 1  # his own
    stats = await worker.rpc("stats", BOB)
    assert (stats["things"], stats["relationships"], stats["namespaces"]) == (2, 0, [{"ns": "acme", "count": 2}])
    assert await worker.rpc("type_distribution", BOB) == [{"type": "Thing", "count": 2}]

    response = await worker.fetch("/things?ns=acme&visibility=private", headers=H_BOB)
    assert ids((await body(response))["data"]) == ["acme/bobs"]
    response = await worker.fetch("/search?q=private", headers=H_BOB)
    assert (await body(response))["data"] == []
    assert (await body(await worker.fetch("/stats", headers=H_BOB)))["data"] == stats
    error, found = await mcp_call(worker, "db_search", {"q": "private"}, H_BOB)
    assert (error, found["items"]) == (False, [])
    error, page = await mcp_call(worker, "db_list", {"ns": "acme"}, H_BOB)
    assert ids(page["items"]) == ["acme/bobs", "acme/open"]
    error, mcp_stats = await mcp_call(worker, "db_stats", {}, H_BOB)
    assert mcp_stats == stats

    # Overwriting: refused alike for a thing he cannot see and one he can, saying only that the id is taken.
    for id in ("secret", "open", "link"):
        response = await worker.fetch(f"/things/acme/{id}", method="PUT", headers=H_BOB, json={"content": "mine now"})
        assert response.status == 409
        error = (await body(response))["error"]
        assert error == {
            "code": "ID_UNAVAILABLE",
            "message": f"The id acme/{id} is not available",
            "details": key("acme", id),
        }
        posted = await worker.fetch("/things", method="POST", headers=H_BOB, json=key("acme", id))
        assert (await body(posted))["error"] == error
        err = await rpc_fails(worker, "upsert_thing", BOB, key("acme", id) | {"visibility": "public"})
        assert (err.status, err.code) == (409, "ID_UNAVAILABLE")
        is_error, data = await mcp_call(worker, "db_upsert", key("acme", id), H_BOB)
        assert (is_error, data["code"]) == (True, "ID_UNAVAILABLE")
    for id in ("secret", "open", "link"):
        stored = await worker.rpc("get_thing", ALICE, "acme", id)
        assert (stored["owner_id"], stored["updated_by"]) == ("usr_alice", "usr_alice")
        assert stored["content"].startswith("alpha")


async def test_public_and_unlisted_things_of_another_user(world):
    worker = world
    for id in ("open", "link"):  # both readable by id, through every interface
        got = await worker.rpc("get_thing", BOB, "acme", id)
        assert got == await worker.rpc("get_thing", ALICE, "acme", id)
        assert (await body(await worker.fetch(f"/things/acme/{id}", headers=H_BOB)))["data"] == got
        assert await mcp_call(worker, "db_get", key("acme", id), H_BOB) == (False, got)
    # the unlisted one is never found: not listed, searched, counted, nor seen at an edge's far end
    assert "acme/link" not in ids((await worker.rpc("list_things", BOB, {"visibility": "unlisted"}))["items"])
    assert await worker.rpc("count_things", BOB, None, None, "unlisted") == 0
    assert (await worker.rpc("search_things", BOB, "unlisted"))["items"] == []
    await worker.rpc("upsert_relationship", ALICE, edge("open", "cites", "link"))
    assert (await worker.rpc("get_relationships", BOB, "acme", "open"))["items"] == []
    assert len((await worker.rpc("get_relationships", ALICE, "acme", "open"))["items"]) == 2
    # ... while Alice finds all of hers
    assert await worker.rpc("count_things", ALICE) == 3
    assert ids((await worker.rpc("search_things", ALICE, "unlisted"))["items"]) == ["acme/link"]

    # Seeing is not changing: Bob may not delete or relate from Alice's public thing.
    err = await rpc_fails(worker, "delete_thing", BOB, "acme", "open")
    assert (err.status, err.code, err.details) == (403, "FORBIDDEN", key("acme", "open"))
    response = await worker.fetch("/things/acme/open", method="DELETE", headers=H_BOB)
    assert response.status == 403
    err = await rpc_fails(worker, "upsert_relationship", BOB, edge("open", "likes", "bobs"))
    assert (err.status, err.code) == (403, "FORBIDDEN")
    err = await rpc_fails(worker, "delete_relationship", BOB, edge("open", "cites", "link"))
    assert (err.status, err.code) == (403, "FORBIDDEN")
    # He may relate his own thing to her public and unlisted ones, and delete that edge again.
    mine = await worker.rpc("upsert_relationship", BOB, edge("bobs", "likes", "open"))
    assert mine["owner_id"] == "usr_bob"
    await worker.rpc("upsert_relationship", BOB, edge("bobs", "likes", "link"))
    assert [r["to"]["id"] for r in (await worker.rpc("get_relationships", BOB, "acme", "bobs"))["items"]] == ["open"]
    incoming = (await worker.rpc("get_incoming_relationships", ALICE, "acme", "open"))["items"]
    assert ("bobs", "likes") not in [(r["from"]["id"], r["predicate"]) for r in incoming]  # Bob's thing is private
    assert await worker.rpc("delete_relationship", BOB, edge("bobs", "likes", "open")) == {"deleted": True}
    assert (await worker.fetch("/things/acme/open", headers=H_ALICE)).status == 200


async def test_an_organisations_private_things(worker):
    made = await make_thing(worker, "org", "plan", principal=ALICE_IN_ORG, content="org plan")
    assert (made["owner_id"], made["org_id"], made["visibility"]) == ("usr_alice", "org_1", "private")
    await make_thing(worker, "org", "diary", principal=ALICE_IN_ORG, org_id=None, content="alice's own")
    assert (await worker.rpc("get_thing", ALICE, "org", "diary"))["org_id"] is None

    # Members read the organisation's things, wherever Alice acts from; non-members do not.
    for member in (CAROL, DAN):
        assert (await worker.rpc("get_thing", member, "org", "plan"))["content"] == "org plan"
        assert ids((await worker.rpc("list_things", member))["items"]) == ["org/plan"]
        assert ids((await worker.rpc("search_things", member, "org"))["items"]) == ["org/plan"]
        assert (await rpc_fails(worker, "get_thing", member, "org", "diary")).code == "NOT_FOUND"
    assert (await body(await worker.fetch("/things/org/plan", headers=H_DAN)))["data"]["id"] == "plan"
    assert (await rpc_fails(worker, "get_thing", BOB, "org", "plan")).code == "NOT_FOUND"
    assert await worker.rpc("count_things", user("usr_erin", org_id="org_2")) == 0

    # A member who may write changes them; one who may only read cannot.
    changed = await make_thing(worker, "org", "plan", principal=CAROL, content="org plan v2")
    assert (changed["created"], changed["owner_id"], changed["updated_by"]) == (False, "usr_alice", "usr_carol")
    response = await worker.fetch("/things/org/plan", method="PUT", headers=H_DAN, json={"content": "x"})
    assert (response.status, (await body(response))["error"]["details"]) == (403, {"permission": "db:write"})
    err = await rpc_fails(worker, "delete_thing", DAN, "org", "plan")
    assert (err.status, err.code) == (403, "FORBIDDEN")
    is_error, data = await mcp_call(worker, "db_upsert", key("org", "plan"), H_DAN)
    assert (is_error, data["code"]) == (True, "FORBIDDEN")

    # An organisation one does not belong to cannot be given; an admin may give any.
    err = await rpc_fails(worker, "upsert_thing", CAROL, key("org", "elsewhere") | {"org_id": "org_2"})
    assert (err.status, err.code) == (403, "NOT_A_MEMBER")
    err = await rpc_fails(worker, "upsert_thing", BOB, key("org", "plan") | {"org_id": "org_2"})
    assert err.code == "NOT_A_MEMBER"
    assert (await make_thing(worker, "org", "given", principal=P_ADMIN, org_id="org_2"))["org_id"] == "org_2"
    assert ids((await worker.rpc("list_things", user("usr_erin", org_id="org_2")))["items"]) == ["org/given"]
    response = await worker.fetch("/things", method="POST", headers=H_CAROL, json=key("org", "x") | {"org_id": "org_2"})
    assert (response.status, (await body(response))["error"]["code"]) == (403, "NOT_A_MEMBER")

    # Edges of the organisation's things: members see them, outsiders do not.
    await worker.rpc("upsert_relationship", CAROL, edge("plan", "next", "plan", ns="org"))
    assert len((await worker.rpc("get_relationships", DAN, "org", "plan"))["items"]) == 1
    assert (await worker.rpc("get_relationships", BOB, "org", "plan"))["items"] == []
    assert await worker.rpc("delete_thing", CAROL, "org", "plan") == {"ns": "org", "id": "plan", "deleted": True}


@pytest.mark.parametrize(
    "admin",
    [P_ADMIN, user("usr_ops", permissions=["db:read", "db:write", "db:admin"]), user("usr_root", permissions=["*"])],
)
async def test_admins_read_and_change_everything(world, admin):
    worker = world
    assert await worker.rpc("count_things", admin) == 4
    assert ids((await worker.rpc("search_things", admin, "alpha"))["items"]) == [
        "acme/bobs",
        "acme/link",
        "acme/open",
        "acme/secret",
    ]
    assert (await worker.rpc("stats", admin))["relationships"] == 2
    assert (await worker.rpc("get_thing", admin, "acme", "secret"))["owner_id"] == "usr_alice"
    replaced = await worker.rpc("upsert_thing", admin, key("acme", "secret") | {"content": "moderated"})
    assert (replaced["owner_id"], replaced["updated_by"]) == ("usr_alice", admin["id"])
    assert await worker.rpc("delete_thing", admin, "acme", "bobs") == {"ns": "acme", "id": "bobs", "deleted": True}
    response = await worker.fetch("/things?ns=acme", headers=ADMIN)
    assert (await body(response))["meta"]["total"] == 3


async def test_a_reader_with_db_read_alone_sees_public_things_only(world):
    worker = world
    response = await worker.fetch("/things", headers=READER)
    assert ids((await body(response))["data"]) == ["acme/open"]


async def test_a_service_acting_for_itself_is_an_ordinary_owner(world):
    worker = world
    schedule = service_principal("schedule")
    assert schedule["id"] == "svc_schedule"
    made = await worker.rpc("upsert_thing", schedule, {"ns": "jobs", "id": "j1", "content": "alpha job"})
    assert (made["owner_id"], made["created_by"]) == ("svc_schedule", "svc_schedule")
    assert ids((await worker.rpc("search_things", schedule, "alpha"))["items"]) == ["acme/open", "jobs/j1"]
    assert (await rpc_fails(worker, "get_thing", schedule, "acme", "secret")).code == "NOT_FOUND"
    assert (await rpc_fails(worker, "get_thing", service_principal("email"), "jobs", "j1")).code == "NOT_FOUND"
    with pytest.raises(ValueError, match="service name"):
        service_principal("Bad Name")


async def test_rpc_needs_the_principals_permissions(world):
    worker = world
    no_read = user("usr_alice", permissions=["deploy"])
    for method, args in [("get_thing", ("acme", "open")), ("list_things", ()), ("stats", ()), ("count_things", ())]:
        err = await rpc_fails(worker, method, no_read, *args)
        assert (err.status, err.code, err.details) == (403, "FORBIDDEN", {"permission": "db:read"})
    read_only = user("usr_alice", permissions=["db:read"])  # the owner, with a key that may not write
    for method, args in [
        ("upsert_thing", (key("acme", "secret"),)),
        ("delete_thing", ("acme", "secret")),
        ("upsert_relationship", (edge("open", "x", "secret"),)),
        ("delete_relationship", (edge("open", "mentions", "secret"),)),
    ]:
        err = await rpc_fails(worker, method, read_only, *args)
        assert (err.status, err.code, err.details) == (403, "FORBIDDEN", {"permission": "db:write"})
    assert await worker.rpc("count_things", ALICE) == 3
