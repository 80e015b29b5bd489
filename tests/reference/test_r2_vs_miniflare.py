"""The local R2 binding against real miniflare 4 (what `wrangler dev` runs).

One list of operations runs under miniflare (dotdo_dev/reference/r2_ops.mjs) and through
`dotdo_dev.runtime.bindings.r2`: objects' fields, bodies, ranges, conditional reads and writes, checksum
checks, listing with prefixes, delimiters, cursors and include, deletes, multipart uploads and the
errors R2 raises must agree. Where the two legitimately differ, `normalize` says so: upload times,
versions, miniflare's empty `storageClass` (R2 says "Standard"), miniflare's opaque part etags (R2's
are the part's MD5), and the custom metadata limit (miniflare 2048 bytes, R2's documented 8192: the
comparison uses sizes on the same side of both). Completing or aborting an upload id miniflare never
issued fails there with an internal error (10001, its ids are encrypted); locally with "The specified
multipart upload does not exist" (10024), as uploading a part to it fails in both: not compared.
"""

import asyncio
import datetime
import hashlib
from pathlib import Path

import pytest
from js import Headers

from dotdo_dev.reference import run_r2_ops
from dotdo_dev.runtime.bindings.r2 import R2Bucket

ROOT = Path(__file__).resolve().parents[2]
HELLO_MD5 = "5eb63bbbe01eeed093cb22bb8f5acdc3"  # md5("hello world")
HELLO_SHA1 = "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"
FIVE_MIB = 5 * 1024 * 1024

OPS = [
    {
        "op": "put",
        "key": "a.txt",
        "value": "hello world",
        "options": {
            "httpMetadata": {"contentType": "text/plain", "cacheExpiry": {"$date": 1700000000000}},
            "customMetadata": {"x": "1"},
        },
    },
    {"op": "get", "key": "a.txt"},
    {"op": "head", "key": "a.txt"},
    {"op": "get", "key": "missing"},
    {"op": "head", "key": "missing"},
    {"op": "get", "key": "a.txt", "options": {"range": {"offset": 2, "length": 3}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"offset": 6}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"length": 5}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"suffix": 4}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"suffix": 40}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"offset": 8, "length": 10}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"offset": 20}}},
    {"op": "get", "key": "a.txt", "options": {"range": {"$headers": {"range": "bytes=0-4"}}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"etagMatches": "nope"}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"etagMatches": HELLO_MD5}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"etagDoesNotMatch": HELLO_MD5}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"$headers": {"if-none-match": f'"{HELLO_MD5}"'}}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"$headers": {"if-match": f'"{HELLO_MD5}"'}}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"uploadedBefore": {"$date": 1000}}}},
    {"op": "get", "key": "a.txt", "options": {"onlyIf": {"uploadedAfter": {"$date": 1000}}}},
    {"op": "put", "key": "a.txt", "value": "changed", "options": {"onlyIf": {"etagMatches": "nope"}}},
    {"op": "put", "key": "new.txt", "value": "x", "options": {"onlyIf": {"etagMatches": "nope"}}},
    {"op": "put", "key": "new.txt", "value": "x", "options": {"onlyIf": {"etagDoesNotMatch": "nope"}}},
    {"op": "put", "key": "a.txt", "value": "hello world", "options": {"md5": HELLO_MD5}},
    {"op": "put", "key": "a.txt", "value": "hello world", "options": {"sha1": HELLO_SHA1}},
    {"op": "put", "key": "a.txt", "value": "hello world!", "options": {"md5": HELLO_MD5}},
    {"op": "put", "key": "bin", "value": {"$bytes": [0, 1, 2, 255]}},
    {"op": "get", "key": "bin"},
    {"op": "put", "key": "empty", "value": None},
    {"op": "get", "key": "empty"},
    {"op": "put", "key": "h", "value": "x", "options": {"httpMetadata": {"$headers": {"content-type": "image/png"}}}},
    {"op": "head", "key": "h"},
    {"op": "put", "key": "k" * 1025, "value": "x"},
    {"op": "put", "key": "é" * 512, "value": "x"},
    {"op": "get", "key": "k" * 1025},
    {"op": "put", "key": "meta", "value": "x", "options": {"customMetadata": {"big": {"$repeat": 9000}}}},
    *[{"op": "put", "key": key, "value": "v"} for key in ("dir/a", "dir/b", "dir/sub/c", "dir/sub/d", "dir2/e", "z")],
    {"op": "list", "options": {"prefix": "dir/"}},
    {"op": "list", "options": {"prefix": "dir", "delimiter": "/"}},
    {"op": "list", "options": {"delimiter": "/"}},
    {"op": "list", "options": {"prefix": "dir/", "delimiter": "/", "include": ["customMetadata", "httpMetadata"]}},
    {"op": "list", "options": {"limit": 2}},
    {"op": "list", "options": {"startAfter": "dir/sub/c"}},
    {"op": "list", "options": {"include": ["httpMetadata"], "prefix": "h"}},
    {"op": "list_all", "options": {"limit": 2}},
    {"op": "list_all", "options": {"limit": 1, "delimiter": "/"}},
    {"op": "list", "options": {"limit": 0}},
    {"op": "list", "options": {"limit": 1001}},
    {"op": "delete", "keys": "z"},
    {"op": "delete", "keys": ["dir/a", "dir/b", "never-there"]},
    {"op": "list_all", "options": {}},
    {"op": "delete", "keys": "k" * 1025},
    {
        "op": "mpu",
        "key": "small-parts",
        "steps": [{"part": 1, "value": "abc"}, {"part": 2, "value": "de"}, {"complete": "all"}, {"abort": True}],
    },
    {"op": "mpu", "key": "one-part", "steps": [{"part": 1, "value": "only"}, {"complete": "all"}, {"abort": True}]},
    {"op": "get", "key": "one-part"},
    {
        "op": "mpu",
        "key": "big",
        "options": {"httpMetadata": {"contentType": "application/x-big"}, "customMetadata": {"m": "1"}},
        "steps": [
            {"part": 1, "value": {"$repeat": FIVE_MIB}},
            {"part": 2, "value": "tail"},
            {"resume": True},
            {"complete": "all"},
            {"part": 3, "value": "late"},
        ],
    },
    {"op": "head", "key": "big"},
    {"op": "get", "key": "big", "options": {"range": {"suffix": 6}}},
    {"op": "mpu", "key": "wrong", "steps": [{"part": 1, "value": "a"}, {"complete": [1]}]},
    {"op": "mpu", "key": "aborted", "steps": [{"part": 1, "value": "a"}, {"abort": True}, {"complete": "all"}]},
    {"op": "mpu", "key": "twice", "steps": [{"abort": True}, {"abort": True}, {"part": 1, "value": "x"}]},
    {"op": "mpu", "key": "unknown", "steps": [{"resume": "bad"}, {"part": 1, "value": "x"}]},
    {"op": "mpu", "key": "k" * 1025, "steps": []},
]


def decode(value):
    if isinstance(value, dict):
        if "$bytes" in value:
            return bytes(value["$bytes"])
        if "$date" in value:
            return datetime.datetime.fromtimestamp(value["$date"] / 1000, tz=datetime.UTC)
        if "$headers" in value:
            return Headers.new(value["$headers"])
        if "$repeat" in value:
            return "x" * value["$repeat"]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


async def describe(obj):
    """The fields r2_ops.mjs reports of an object, read as worker code reads them."""
    if obj is None:
        return None
    http = obj.httpMetadata.to_py()
    if "cacheExpiry" in http:
        http["cacheExpiry"] = obj.httpMetadata.cacheExpiry.getTime()
    out = {
        "key": obj.key,
        "size": obj.size,
        "etag": obj.etag,
        "httpEtag": obj.httpEtag,
        "uploaded": obj.uploaded.getTime(),
        "httpMetadata": http,
        "customMetadata": obj.customMetadata.to_py(),
        "checksums": obj.checksums.toJSON().to_py(),
        "storageClass": obj.storageClass,
        "range": None if obj.range is None else obj.range.to_py(),
        "hasBody": hasattr(obj, "body"),
    }
    if hasattr(obj, "body"):
        out["text"] = await obj.text()
    headers = Headers.new()
    obj.writeHttpMetadata(headers)
    out["headers"] = {name: headers.get(name) for name in headers.keys()}  # noqa: SIM118 - a js.Headers
    return out


async def run_local(ops, path):
    bucket = R2Bucket(path)
    out = []
    for op in ops:
        try:
            out.append({"ok": await run_one(bucket, op)})
        except Exception as exc:
            out.append({"error": getattr(exc, "message", str(exc))})
    return out


async def run_one(bucket, op):
    kind = op["op"]
    options = decode(op.get("options"))
    if kind == "put":
        return await describe(await bucket.put(op["key"], decode(op["value"]), options))
    if kind == "get":
        return await describe(await bucket.get(op["key"], options))
    if kind == "head":
        return await describe(await bucket.head(op["key"]))
    if kind == "delete":
        return await bucket.delete(op["keys"])
    if kind == "list":
        listing = await bucket.list(options)
        return {
            "objects": [await describe(o) for o in listing.objects],
            "truncated": listing.truncated,
            "hasCursor": listing.hasOwnProperty("cursor"),
            "delimitedPrefixes": list(listing.delimitedPrefixes),
        }
    if kind == "list_all":
        keys, prefixes, cursor, pages = [], [], None, 0
        while True:
            page = await bucket.list({**options, **({"cursor": cursor} if cursor else {})})
            keys += [o.key for o in page.objects]
            prefixes += list(page.delimitedPrefixes)
            pages += 1
            if not page.truncated:
                break
            cursor = page.cursor
        return {"keys": keys, "prefixes": prefixes, "pages": pages}
    if kind == "mpu":
        return await run_multipart(bucket, op, options)
    raise AssertionError(kind)


async def run_multipart(bucket, op, options):
    steps = []
    upload = await bucket.createMultipartUpload(op["key"], options)
    parts = []
    for step in op["steps"]:
        try:
            if "part" in step:
                part = await upload.uploadPart(step["part"], decode(step["value"]))
                parts.append(part)
                steps.append({"ok": {"partNumber": part.partNumber, "etag": part.etag}})
            elif "complete" in step:
                chosen = (
                    parts
                    if step["complete"] == "all"
                    else [
                        parts[i] if i < len(parts) else {"partNumber": i + 1, "etag": "nope"} for i in step["complete"]
                    ]
                )
                steps.append({"ok": await describe(await upload.complete(chosen))})
            elif "abort" in step:
                steps.append({"ok": await upload.abort()})
            elif "resume" in step:
                upload_id = "bad-id" if step["resume"] == "bad" else upload.uploadId
                upload = bucket.resumeMultipartUpload(op["key"], upload_id)
                steps.append({"ok": upload.key})
        except Exception as exc:
            steps.append({"error": getattr(exc, "message", str(exc))})
    return steps


def normalize(value):
    """Drop what legitimately differs: times, miniflare's storageClass "" and its opaque part etags."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("uploaded", "storageClass"):
                continue
            if key == "etag" and "partNumber" in value:
                continue
            out[key] = normalize(item)
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


@pytest.fixture(scope="module")
def reference():
    return run_r2_ops(ROOT, OPS)


@pytest.fixture(scope="module")
def local_results(tmp_path_factory):
    return asyncio.run(run_local(OPS, tmp_path_factory.mktemp("r2") / "bucket.sqlite"))


def op_id(index, op):
    key = op.get("key", "")
    return f"{index:02d}-{op['op']}-{key[:12]}"


@pytest.mark.parametrize("index", range(len(OPS)), ids=[op_id(i, op) for i, op in enumerate(OPS)])
def test_local_r2_agrees_with_miniflare(index, reference, local_results):
    assert normalize(local_results[index]) == normalize(reference[index]), OPS[index]


def test_storage_class_and_part_etags_follow_r2_not_miniflare(local_results):
    """R2 reports "Standard" and MD5 part etags; miniflare reports "" and opaque ids (both ignored above)."""
    assert local_results[0]["ok"]["storageClass"] == "Standard"
    big = next(r for op, r in zip(OPS, local_results, strict=True) if op.get("key") == "big" and op["op"] == "mpu")
    assert big["ok"][1]["ok"]["etag"] == hashlib.md5(b"tail").hexdigest()
