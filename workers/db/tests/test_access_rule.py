"""The access rule, property-style: random things with random owners, organisations and visibilities, and for
every principal what list, search, count, stats, get and the edges give equals what the rule says.

The rule is written out again here, independently of `access.py`, and `access.allowed` (the Python
check) and `access.condition` (the SQL) are both held to it. Also: the migration that gave existing
rows their owners.
"""

import random
from dataclasses import dataclass

import pytest
from conftest import P_ADMIN, user

import access
from dotdo_dev.testing import rpc_outcome
from migrations import MIGRATIONS
from shared.migrations import apply_migrations
from shared.principals import service_principal

OWNERS = ["usr_a", "usr_b", "usr_c", None]  # None: a row from before owners, by no known principal
ORGS = [None, "org_1", "org_2"]
VISIBILITIES = ["public", "private", "unlisted"]
PRINCIPALS = {
    "a": user("usr_a"),
    "a in org_1": user("usr_a", org_id="org_1"),
    "b in org_2": user("usr_b", org_id="org_2"),
    "c, org_1 viewer": user("usr_c", org_id="org_1", role="viewer", permissions=["db:read"]),
    "stranger": user("usr_z", org_id="org_3"),
    "service": service_principal("schedule"),
    "admin": P_ADMIN,
    "db:admin": user("usr_ops", permissions=["db:read", "db:admin"]),
}


@dataclass(frozen=True)
class Thing:
    ns: str
    id: str
    type: str
    owner: str | None
    org: str | None
    visibility: str

    @property
    def key(self) -> str:
        return f"{self.ns}/{self.id}"


def rule(principal: dict, thing: Thing, scope: str) -> bool:
    """The rule as the README states it (scope: list, get or write)."""
    permissions = principal["permissions"]
    if principal.get("role") == "admin" or any(p in ("*", "db:*", "db:admin") for p in permissions):
        return True
    if thing.owner is None:
        return False
    if thing.owner == principal["id"] or (principal.get("org_id") is not None and thing.org == principal["org_id"]):
        return True
    if scope == "write":
        return False
    return thing.visibility == "public" or (scope == "get" and thing.visibility == "unlisted")


async def _make(worker, rng: random.Random, n: int) -> tuple[list[Thing], list[tuple[Thing, Thing]]]:
    things = []
    for i in range(n):
        owner, org = rng.choice(OWNERS), rng.choice(ORGS)
        thing = Thing(rng.choice(["n1", "n2"]), f"t{i}", rng.choice(["T1", "T2"]), owner, org, rng.choice(VISIBILITIES))
        body = {"ns": thing.ns, "id": thing.id, "type": thing.type, "visibility": thing.visibility}
        body |= {"content": f"common word{i % 3}", "org_id": org}
        if owner is None:
            await worker.rpc("upsert_thing", P_ADMIN, body)
            sql = "UPDATE things SET owner_id = NULL, org_id = NULL WHERE ns = ? AND id = ?"
            await worker.env.DB.prepare(sql).bind(thing.ns, thing.id).run()
            thing = Thing(thing.ns, thing.id, thing.type, None, None, thing.visibility)
        else:
            await worker.rpc("upsert_thing", user(owner, org_id=org), body)
        things.append(thing)
    edges = set()
    for _ in range(n):
        a, b = rng.choice(things), rng.choice(things)
        predicate = rng.choice(["p", "q"])
        await worker.rpc("upsert_relationship", P_ADMIN, {"from": _key(a), "predicate": predicate, "to": _key(b)})
        edges.add((a, predicate, b))
    return things, sorted(edges, key=lambda e: (e[0].key, e[1], e[2].key))


def _key(thing: Thing) -> dict:
    return {"ns": thing.ns, "id": thing.id}


def keys(items) -> set[str]:
    return {f"{t['ns']}/{t['id']}" for t in items}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_every_principal_gets_exactly_what_the_rule_allows(worker, seed):
    rng = random.Random(seed)
    things, edges = await _make(worker, rng, 24)
    for name, principal in PRINCIPALS.items():
        listable = {t.key for t in things if rule(principal, t, "list")}
        readable = {t.key for t in things if rule(principal, t, "get")}
        writable = {t.key for t in things if rule(principal, t, "write")}
        where = f"{name} (seed {seed})"

        page = await worker.rpc("list_things", principal, {"limit": 100})
        assert keys(page["items"]) == listable, where
        assert page["total"] == len(listable), where
        assert await worker.rpc("count_things", principal) == len(listable), where
        n2_public = {t.key for t in things if t.key in listable and t.ns == "n2" and t.visibility == "public"}
        assert await worker.rpc("count_things", principal, "n2", None, "public") == len(n2_public), where
        walked, cursor = set(), None  # cursor pages within a namespace
        while True:
            query = {"ns": "n1", "limit": 4, "order_by": "id"} | ({"cursor": cursor} if cursor else {})
            page = await worker.rpc("list_things", principal, query)
            walked |= keys(page["items"])
            if not (cursor := page["next_cursor"]):
                break
        assert walked == {k for k in listable if k.startswith("n1/")}, where
        assert keys((await worker.rpc("search_things", principal, "common", limit=100))["items"]) == listable, where
        word1 = {t.key for t in things if t.key in listable and int(t.id[1:]) % 3 == 1}
        assert keys((await worker.rpc("search_things", principal, "word1", limit=100))["items"]) == word1, where

        stats = await worker.rpc("stats", principal)
        assert stats["things"] == len(listable), where
        by_ns = {ns: sum(1 for k in listable if k.startswith(f"{ns}/")) for ns in ("n1", "n2")}
        assert {n["ns"]: n["count"] for n in stats["namespaces"]} == {k: v for k, v in by_ns.items() if v}, where
        by_type = {ty: sum(1 for t in things if t.key in listable and t.type == ty) for ty in ("T1", "T2")}
        types = await worker.rpc("type_distribution", principal)
        assert {d["type"]: d["count"] for d in types} == {k: v for k, v in by_type.items() if v}, where
        seen_edges = [e for e in edges if e[0].key in listable and e[2].key in listable]
        assert stats["relationships"] == len(seen_edges), where

        for thing in things:
            got, err = await rpc_outcome(worker, "get_thing", principal, thing.ns, thing.id)
            assert err is None or err.code == "NOT_FOUND", err
            assert (got is not None) == (thing.key in readable), f"{where}: get {thing.key}"
            out = await worker.rpc("get_relationships", principal, thing.ns, thing.id)
            expected = (
                [(p, b.key) for a, p, b in edges if a == thing and b.key in listable] if thing.key in readable else []
            )
            assert sorted((r["predicate"], f"{r['to']['ns']}/{r['to']['id']}") for r in out["items"]) == sorted(
                expected
            ), f"{where}: edges of {thing.key}"

        # access.py's two forms of the rule agree with it: the SQL condition, and the check of a row
        who = access.Principal.of(principal)
        for scope, expected in (("list", listable), ("get", readable), ("write", writable)):
            condition, params = access.condition(who, scope)
            rows = (await worker.env.DB.prepare(f"SELECT * FROM things WHERE {condition}").bind(*params).all())[
                "results"
            ]
            assert keys(rows) == expected, f"{where}: SQL {scope}"
            all_rows = (await worker.env.DB.prepare("SELECT * FROM things").all())["results"]
            assert {f"{r['ns']}/{r['id']}" for r in all_rows if access.allowed(who, scope, dict(r))} == expected


async def test_the_owners_migration_gives_existing_rows_their_creators(worker):
    db = worker.env.DB
    assert await apply_migrations(db, MIGRATIONS[:1]) == 1  # a database from before owners
    rows = [("a", "usr_a", "private"), ("b", "schedule", "public"), ("c", None, "public"), ("d", "usr_", "public")]
    for id, created_by, visibility in rows:
        sql = "INSERT INTO things (ns, id, type, visibility, created_by, updated_by) VALUES ('old', ?, 'T', ?, ?, ?)"
        await db.prepare(sql).bind(id, visibility, created_by, created_by).run()
    sql = "INSERT INTO relationships (from_ns, from_id, predicate, to_ns, to_id, created_at, updated_at, created_by) "
    await db.prepare(sql + "VALUES ('old', 'a', 'p', 'old', 'b', 'x', 'x', 'usr_a')").run()
    if hasattr(db, "_dotdo_schema_version"):
        del db._dotdo_schema_version

    assert await worker.rpc("migrate") == {"schema_version": 3}
    owners = {t["id"]: t["owner_id"] for t in (await worker.rpc("list_things", P_ADMIN))["items"]}
    assert owners == {"a": "usr_a", "b": None, "c": None, "d": None}
    assert (await worker.rpc("get_relationships", P_ADMIN, "old", "a"))["items"][0]["owner_id"] == "usr_a"
    # usr_a owns hers; the ownerless rows are admins' only, whatever their visibility said
    assert [t["id"] for t in (await worker.rpc("list_things", user("usr_a")))["items"]] == ["a"]
    assert (await worker.rpc("list_things", user("usr_b")))["items"] == []
    indexes = (await db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all())["results"]
    assert {"things_owner", "things_org", "relationships_owner"} <= {r["name"] for r in indexes}
