"""The local D1 and KV against Cloudflare's reference simulator (real miniflare 4).

One list of operations runs twice: in a JavaScript worker under miniflare, and through
`dotdo_dev.runtime.bindings`. Results must agree: D1 result shapes and value types (integers,
floats, NULL, blobs, booleans), `meta.changes` / `last_row_id` / `changed_db`, errors for bad SQL
and constraints, batch atomicity, ATTACH and DETACH refused; KV values, metadata, listing and TTL
limits. Where the two legitimately differ (timings, sizes, error wording), the comparison says so
in `normalize`.
"""

import asyncio
import re
from pathlib import Path

import pytest

from dotdo_dev.reference import run_ops
from dotdo_dev.runtime.bindings.d1 import D1Database
from dotdo_dev.runtime.bindings.kv import KVNamespace

ROOT = Path(__file__).resolve().parents[2]
B = {"$bytes": [1, 2]}

D1_OPS = [
    {
        "op": "exec",
        "sql": "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, score REAL, data BLOB, flag INT)",
    },
    {"op": "run", "sql": "INSERT INTO t (name, score, data, flag) VALUES (?, ?, ?, ?)", "params": ["a", 1.5, B, True]},
    {
        "op": "run",
        "sql": "INSERT INTO t (name, score, data, flag) VALUES (?, ?, ?, ?)",
        "params": ["b", None, None, False],
    },
    {"op": "run", "sql": "INSERT INTO t (name, score) VALUES (?, ?)", "params": ["c", 2.0]},
    {"op": "all", "sql": "SELECT * FROM t ORDER BY id"},
    {"op": "first", "sql": "SELECT name, flag FROM t WHERE id = ?", "params": [2]},
    {"op": "first", "sql": "SELECT count(*) AS n FROM t", "column": "n"},
    {"op": "first", "sql": "SELECT name FROM t WHERE id = ?", "params": [99]},
    {"op": "raw", "sql": "SELECT id, name FROM t ORDER BY id"},
    {"op": "raw", "sql": "SELECT id, name FROM t ORDER BY id", "options": {"columnNames": True}},
    {"op": "run", "sql": "UPDATE t SET score = 3"},
    {"op": "run", "sql": "DELETE FROM t WHERE name = ?", "params": ["c"]},
    {"op": "all", "sql": "SELECT 1 AS one, 'x' AS s, NULL AS n, 1.5 AS f, x'0102' AS b, 2.0 AS whole"},
    {"op": "all", "sql": "SELEC 1"},
    {"op": "run", "sql": "INSERT INTO t (name) VALUES ('a')"},
    {"op": "all", "sql": "SELECT * FROM missing"},
    {"op": "run", "sql": "INSERT INTO t (name, score) VALUES (?, ?)", "params": ["x"]},
    {"op": "first", "sql": "SELECT name FROM t", "column": "nope"},
    {
        "op": "batch",
        "statements": [{"sql": "INSERT INTO t (name) VALUES ('d')"}, {"sql": "INSERT INTO t (name) VALUES ('a')"}],
    },
    {"op": "first", "sql": "SELECT count(*) AS n FROM t WHERE name = 'd'", "column": "n"},
    {
        "op": "batch",
        "statements": [{"sql": "INSERT INTO t (name) VALUES ('e')"}, {"sql": "SELECT name FROM t WHERE name = 'e'"}],
    },
    # D1 refuses ATTACH and DETACH (SQLite's authorizer: "not authorized")
    {"op": "run", "sql": "ATTACH DATABASE 'other.sqlite' AS other"},
    {"op": "exec", "sql": "ATTACH ':memory:' AS m"},
    {"op": "run", "sql": "DETACH DATABASE other"},
    {
        "op": "batch",
        "statements": [{"sql": "INSERT INTO t (name) VALUES ('f')"}, {"sql": "ATTACH DATABASE 'x.sqlite' AS x"}],
    },
    {"op": "first", "sql": "SELECT count(*) AS n FROM t WHERE name = 'f'", "column": "n"},
]

KV_OPS = [
    {"op": "put", "key": "k1", "value": "v1"},
    {"op": "get", "key": "k1"},
    {"op": "get", "key": "missing"},
    {"op": "put", "key": "j", "value": '{"a": [1, 2]}'},
    {"op": "get", "key": "j", "options": "json"},
    {"op": "get", "key": "j", "options": {"type": "json"}},
    {"op": "put", "key": "m", "value": "v", "options": {"metadata": {"owner": "ada"}}},
    {"op": "getWithMetadata", "key": "m"},
    {"op": "getWithMetadata", "key": "missing"},
    *[{"op": "put", "key": f"user:{i:02d}", "value": "v"} for i in range(12)],
    {"op": "list", "options": {"prefix": "user:", "limit": 5}},
    {"op": "list", "options": {"prefix": "user:1"}},
    {"op": "list_all", "options": {"prefix": "user:", "limit": 5}},
    {"op": "list_all", "options": {"limit": 4}},
    {"op": "put", "key": "é", "value": "v"},
    {"op": "put", "key": "Z", "value": "v"},
    {"op": "list", "options": {"limit": 3}},
    {"op": "put", "key": "ttl", "value": "v", "options": {"expirationTtl": 30}},
    {"op": "put", "key": "ttl", "value": "v", "options": {"expirationTtl": 60}},
    {"op": "delete", "key": "k1"},
    {"op": "get", "key": "k1"},
    {"op": "delete", "key": "never-there"},
]


def decode(value):
    if isinstance(value, dict):
        if "$bytes" in value:
            return bytes(value["$bytes"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def encode(value):
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": list(bytes(value))}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


async def run_local(ops, tmp_path):
    db = D1Database(tmp_path / "d1.sqlite")
    kv = KVNamespace(tmp_path / "kv.sqlite")

    def stmt(o):
        return db.prepare(o["sql"]).bind(*decode(o.get("params", [])))

    out = []
    for op in ops:
        kind = op["op"]
        try:
            if kind == "exec":
                value = await db.exec(op["sql"])
            elif kind in ("run", "all"):
                value = await getattr(stmt(op), kind)()
            elif kind == "first":
                value = await (stmt(op).first(op["column"]) if "column" in op else stmt(op).first())
            elif kind == "raw":
                value = await (stmt(op).raw(op["options"]) if "options" in op else stmt(op).raw())
            elif kind == "batch":
                value = await db.batch([stmt(s) for s in op["statements"]])
            elif kind == "put":
                value = await kv.put(op["key"], decode(op["value"]), *([op["options"]] if "options" in op else []))
            elif kind in ("get", "getWithMetadata"):
                value = await getattr(kv, kind)(op["key"], *([op["options"]] if "options" in op else []))
            elif kind == "list":
                value = await kv.list(*([op["options"]] if "options" in op else []))
            elif kind == "list_all":
                names, cursor, pages = [], None, 0
                while True:
                    page = await kv.list({**op["options"], **({"cursor": cursor} if cursor else {})})
                    names += [k["name"] for k in page["keys"]]
                    pages += 1
                    if page["list_complete"]:
                        break
                    cursor = page["cursor"]
                value = {"names": names, "pages": pages}
            elif kind == "delete":
                value = await kv.delete(op["key"])
            out.append({"ok": encode(value)})
        except Exception as exc:
            out.append({"error": str(exc)})
    return out


def normalize(result):
    """What must agree: values and the counters D1 reports exactly; for errors, the kind and the cause."""
    if "error" in result:
        text = result["error"]
        kind = text.split(":", 1)[0]
        cause = re.sub(r" at offset \d+|\s*\(extended: \w+\)|^[A-Z0-9_]+: ", "", text)
        return {"error": kind, "cause": re.sub(r"\s+", " ", cause).strip()[:60]}
    value = result["ok"]
    if isinstance(value, dict) and "meta" in value:
        meta = value["meta"]
        return {"results": value["results"], "changes": meta["changes"], "last_row_id": meta["last_row_id"]}
    if isinstance(value, list) and value and isinstance(value[0], dict) and "meta" in value[0]:
        return [normalize({"ok": v}) for v in value]
    if isinstance(value, dict) and "count" in value and "duration" in value:
        return {"count": value["count"]}
    if isinstance(value, dict) and "keys" in value:
        return {k: v for k, v in value.items() if k != "cursor"} | {"has_cursor": "cursor" in value}
    return value


@pytest.fixture(scope="module")
def reference():
    ops = [dict(op, binding="DB") for op in D1_OPS] + [dict(op, binding="KV") for op in KV_OPS]
    return run_ops(ROOT, ops)


OPS = [*D1_OPS, *KV_OPS]


@pytest.mark.parametrize("index", range(len(OPS)), ids=[f"{i:02d}-{op['op']}" for i, op in enumerate(OPS)])
def test_local_bindings_agree_with_miniflare(index, reference, local_results):
    assert normalize(local_results[index]) == normalize(reference[index]), OPS[index]


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    return asyncio.run(run_local(OPS, tmp_path_factory.mktemp("local")))
