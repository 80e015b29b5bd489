"""Local R2: the Workers R2 API as Python Workers call it, on a real SQLite file per bucket.

Behaviour from Cloudflare's R2 Workers API reference, conditional operations, multipart and limits pages;
tests/reference/test_r2_vs_miniflare.py compares the same calls with miniflare's R2.
"""

import contextlib
import datetime
import hashlib
import json
import sys
import textwrap

import pytest
from js import Headers, Object
from js import Response as JsResponse
from pyodide.ffi import JsException, to_js
from workers import Blob

from dotdo_dev.runtime.bindings.r2 import MIN_PART_BYTES, R2Bucket, R2Error, R2Object, R2ObjectBody
from dotdo_dev.testing import WorkerHarness

MiB = 1024 * 1024


@pytest.fixture
def bucket(tmp_path, clock):
    return R2Bucket(tmp_path / "bucket.sqlite", clock=clock)


async def keys(bucket, **options):
    return [o.key for o in (await bucket.list(options)).objects]


# -- put, get, head --------------------------------------------------------------------------------------
async def test_put_returns_the_object_and_get_reads_it_back(bucket, clock):
    put = await bucket.put("a.txt", "héllo", httpMetadata={"contentType": "text/plain"}, customMetadata={"k": "v"})
    assert isinstance(put, R2Object)
    assert put.key == "a.txt"
    assert put.size == len("héllo".encode())
    assert put.etag == hashlib.md5("héllo".encode()).hexdigest()
    assert put.httpEtag == f'"{put.etag}"'
    assert put.uploaded.getTime() == clock.now * 1000
    assert put.httpMetadata.contentType == "text/plain"
    assert put.customMetadata.k == "v"
    assert put.checksums.md5 == put.etag
    assert put.checksums.sha256 is None
    assert put.checksums.toJSON().to_py() == {"md5": put.etag}
    assert put.storageClass == "Standard"
    assert put.range is None
    assert len(put.version) == 32

    got = await bucket.get("a.txt")
    assert isinstance(got, R2ObjectBody)
    assert got.version == put.version
    assert got.body == "héllo".encode()
    assert got.range.to_py() == {"offset": 0, "length": put.size}
    assert await got.text() == "héllo"
    assert got.bodyUsed is True
    with pytest.raises(JsException, match=r"Body has already been used\."):
        await got.text()
    head = await bucket.head("a.txt")
    assert not hasattr(head, "body")
    assert head.range.to_py() == {"offset": 0, "length": put.size}
    assert await bucket.get("missing") is None
    assert await bucket.head("missing") is None


async def test_values_of_every_kind_workerd_takes(bucket):
    async def chunks():
        yield b"ab"
        yield "c"

    assert (await bucket.put("bytes", b"\x00\xff")).size == 2
    assert (await bucket.put("bytearray", bytearray(b"xyz"))).size == 3
    assert (await bucket.put("uint8", to_js(b"\x01\x02"))).size == 2
    assert (await bucket.put("blob", Blob(["a", b"b"]))).size == 2
    assert (await bucket.put("stream", chunks())).size == 3
    assert (await bucket.put("null", None)).size == 0
    assert await (await bucket.get("stream")).text() == "abc"
    assert await (await bucket.get("null")).text() == ""
    with pytest.raises(JsException, match="parameter 2 is not of type 'ReadableStream or ArrayBuffer"):
        await bucket.put("dict", {"a": 1})


async def test_readers_json_array_buffer_bytes_blob(bucket):
    await bucket.put("j", '{"a": [1, 2]}', httpMetadata={"contentType": "application/json"})
    assert (await (await bucket.get("j")).json()).a == [1, 2]
    buffer = await (await bucket.get("j")).arrayBuffer()
    assert buffer.to_bytes() == b'{"a": [1, 2]}'
    assert await (await bucket.get("j")).bytes() == b'{"a": [1, 2]}'
    blob = await (await bucket.get("j")).blob()
    assert blob.content_type == "application/json"
    assert blob.size == 13


async def test_options_as_a_to_js_object_a_dict_or_keywords(bucket):
    await bucket.put("a", "1", to_js({"customMetadata": {"n": "1"}}, dict_converter=Object.fromEntries))
    await bucket.put("b", "2", {"customMetadata": {"n": "2"}})
    await bucket.put("c", "3", customMetadata={"n": "3"})
    assert [(await bucket.head(k)).customMetadata.n for k in "abc"] == ["1", "2", "3"]
    with pytest.raises(TypeError, match=r"unknown R2 option.*'custom_metadata'"):
        await bucket.put("d", "4", custom_metadata={"n": "4"})
    upload = await bucket.createMultipartUpload("m")
    part = await upload.uploadPart(1, "x", {"httpMetadata": {"contentType": "text/plain"}})  # put's options: ignored
    assert part.partNumber == 1
    assert (await bucket.put("e", "5", {"range": {"offset": 1}})).size == 1  # get's option: ignored
    with pytest.raises(TypeError, match="not both"):
        await bucket.put("d", "4", {"customMetadata": {}}, storageClass="Standard")


async def test_http_metadata_from_fields_or_headers_and_write_http_metadata(bucket):
    expiry = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    fields = {
        "contentType": "text/html",
        "contentLanguage": "fr",
        "contentDisposition": "inline",
        "contentEncoding": "gzip",
        "cacheControl": "max-age=60",
        "cacheExpiry": expiry,
    }
    obj = await bucket.put("f", "x", httpMetadata=fields)
    assert obj.httpMetadata.cacheExpiry == expiry
    headers = Headers.new()
    obj.writeHttpMetadata(headers)
    assert dict(headers.entries()) == {
        "content-type": "text/html",
        "content-language": "fr",
        "content-disposition": "inline",
        "content-encoding": "gzip",
        "cache-control": "max-age=60",
        "expires": "Wed, 02 Jan 2030 03:04:05 GMT",
    }
    from_headers = await bucket.put("h", "x", httpMetadata=Headers.new({"Content-Type": "image/png", "x-other": "1"}))
    assert from_headers.httpMetadata.to_py() == {"contentType": "image/png"}
    with pytest.raises(TypeError, match="unknown httpMetadata field 'type'"):
        await bucket.put("bad", "x", httpMetadata={"type": "text/plain"})


async def test_storage_class(bucket):
    assert (await bucket.put("ia", "x", storageClass="InfrequentAccess")).storageClass == "InfrequentAccess"
    with pytest.raises(R2Error, match="put: Invalid storage class 'Cold'"):
        await bucket.put("c", "x", storageClass="Cold")


# -- checksums --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha256", "sha384", "sha512"])
async def test_each_checksum_is_checked_as_hex_or_bytes(bucket, algorithm):
    digest = hashlib.new(algorithm, b"data")
    obj = await bucket.put("k", b"data", {algorithm: digest.hexdigest()})
    assert getattr(obj.checksums, algorithm) == digest.hexdigest()
    assert (await bucket.put("k", b"data", {algorithm: digest.digest()})).size == 4
    with pytest.raises(R2Error, match=r"(?s)checksum you specified did not match what we received.*\(10037\)$") as bad:
        await bucket.put("k", b"other", {algorithm: digest.hexdigest()})
    assert bad.value.code == 10037
    assert (await bucket.get("k")).size == 4  # the failed put left the object alone


async def test_one_checksum_per_put_and_of_the_right_length(bucket):
    with pytest.raises(JsException, match=r"You cannot specify multiple hashing algorithms\."):
        await bucket.put("k", "x", md5=hashlib.md5(b"x").hexdigest(), sha1=hashlib.sha1(b"x").hexdigest())
    with pytest.raises(JsException, match="MD5 is 16 bytes, not 2"):
        await bucket.put("k", "x", md5="abcd")


# -- ranges ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"offset": 2, "length": 3}, (2, "234")),
        ({"offset": 7}, (7, "789")),
        ({"length": 2}, (0, "01")),
        ({"suffix": 3}, (7, "789")),
        ({"suffix": 99}, (0, "0123456789")),
        ({"offset": 8, "length": 99}, (8, "89")),
    ],
)
async def test_ranges(bucket, option, expected):
    await bucket.put("digits", "0123456789")
    got = await bucket.get("digits", range=option)
    assert (got.range.offset, await got.text()) == expected
    assert got.range.length == len(expected[1])
    assert got.size == 10


async def test_range_from_a_range_header_and_unsatisfiable_ranges(bucket):
    await bucket.put("digits", "0123456789")
    assert await (await bucket.get("digits", range=Headers.new({"range": "bytes=1-3"}))).text() == "123"
    assert await (await bucket.get("digits", range=Headers.new({"range": "bytes=-2"}))).text() == "89"
    assert await (await bucket.get("digits", range=Headers.new({"range": "bytes=5-"}))).text() == "56789"
    for bad in ({"offset": 11}, {"offset": 2, "length": 0}, {"suffix": 0}):
        with pytest.raises(R2Error, match=r"^Error: get: The requested range is not satisfiable \(10039\)$"):
            await bucket.get("digits", range=bad)
    with pytest.raises(R2Error, match="10039"):
        await bucket.get("digits", range=Headers.new({"range": "bytes=20-30"}))


# -- conditional operations -------------------------------------------------------------------------------
async def test_only_if_on_get_gives_the_object_without_a_body(bucket, clock):
    obj = await bucket.put("k", "v")
    before = datetime.datetime.fromtimestamp(clock.now - 10, tz=datetime.UTC)
    after = datetime.datetime.fromtimestamp(clock.now + 10, tz=datetime.UTC)
    cases = {
        "etagMatches": [(obj.etag, True), (obj.httpEtag, True), ("*", True), ("other", False), ('"a", "x"', False)],
        "etagDoesNotMatch": [(obj.etag, False), ("*", False), ("other", True)],
        "uploadedAfter": [(before, True), (after, False)],
        "uploadedBefore": [(after, True), (before, False)],
    }
    for field, checks in cases.items():
        for value, holds in checks:
            got = await bucket.get("k", onlyIf={field: value})
            assert hasattr(got, "body") is holds, (field, value)
            assert got.key == "k"


async def test_only_if_from_request_headers(bucket, clock):
    obj = await bucket.put("k", "v")
    http_date = "Tue, 14 Nov 2023 22:13:20 GMT"  # the clock's second
    earlier = "Tue, 14 Nov 2023 22:13:19 GMT"
    cases = [
        ({"if-match": obj.httpEtag}, True),
        ({"if-match": '"nope"'}, False),
        ({"if-none-match": obj.httpEtag}, False),
        ({"if-none-match": f'W/"{obj.etag}"'}, False),
        ({"if-none-match": '"nope"'}, True),
        ({"if-modified-since": earlier}, True),
        ({"if-modified-since": http_date}, False),  # HTTP dates have seconds: not modified since that second
        ({"if-unmodified-since": http_date}, False),
        ({"if-unmodified-since": "Tue, 14 Nov 2023 22:13:21 GMT"}, True),
        ({"if-none-match": '"nope"', "if-modified-since": http_date}, True),  # If-None-Match wins
        ({"if-match": obj.httpEtag, "if-unmodified-since": earlier}, True),  # a holding If-Match wins
    ]
    for headers, holds in cases:
        assert hasattr(await bucket.get("k", onlyIf=Headers.new(headers)), "body") is holds, headers


async def test_seconds_granularity(bucket, clock):
    clock.now = 1_700_000_000.5
    await bucket.put("k", "v")
    same_second = datetime.datetime.fromtimestamp(1_700_000_000.2, tz=datetime.UTC)
    assert hasattr(await bucket.get("k", onlyIf={"uploadedAfter": same_second}), "body")
    cut = {"uploadedAfter": same_second, "secondsGranularity": True}
    assert not hasattr(await bucket.get("k", onlyIf=cut), "body")


async def test_only_if_on_put_returns_none_and_writes_nothing(bucket):
    obj = await bucket.put("k", "v1")
    assert await bucket.put("k", "v2", onlyIf={"etagMatches": "other"}) is None
    assert await (await bucket.get("k")).text() == "v1"
    assert (await bucket.put("k", "v3", onlyIf={"etagMatches": obj.etag})).size == 2
    assert await bucket.put("new", "x", onlyIf={"etagMatches": "*"}) is None  # no object to match
    assert await bucket.put("new", "x", onlyIf=Headers.new({"if-none-match": "*"})) is not None  # create only
    assert await bucket.put("new", "y", onlyIf=Headers.new({"if-none-match": "*"})) is None


# -- limits and errors ----------------------------------------------------------------------------------
async def test_key_length_is_1024_bytes_of_utf8(bucket):
    assert (await bucket.put("é" * 512, "x")).key == "é" * 512
    for call in (bucket.put("é" * 513, "x"), bucket.get("k" * 1025), bucket.head("k" * 1025)):
        with pytest.raises(R2Error, match=r": The specified object name is not valid. \(10020\)$"):
            await call
    with pytest.raises(TypeError, match="R2 keys are strings"):
        await bucket.get(1)


async def test_custom_metadata_is_at_most_8192_bytes(bucket):
    await bucket.put("ok", "x", customMetadata={"k": "v" * 8191})
    with pytest.raises(R2Error, match=r"^Error: put: Your metadata headers exceed .*size. \(10012\)$"):
        await bucket.put("big", "x", customMetadata={"k": "v" * 8192})
    with pytest.raises(TypeError, match="customMetadata values are strings"):
        await bucket.put("n", "x", customMetadata={"k": 1})
    assert await bucket.head("big") is None


async def test_errors_are_javascript_errors_as_under_pyodide(bucket):
    with pytest.raises(JsException) as caught:
        await bucket.put("k" * 1025, "x")
    assert caught.value.name == "Error"
    assert caught.value.message == "put: The specified object name is not valid. (10020)"


# -- delete ------------------------------------------------------------------------------------------
async def test_delete_one_or_many(bucket):
    for key in ("a", "b", "c"):
        await bucket.put(key, "x")
    assert await bucket.delete("a") is None
    await bucket.delete(["b", "never-there"])
    await bucket.delete(to_js(["c"]))
    assert await keys(bucket) == []
    with pytest.raises(R2Error, match="at most 1000 keys"):
        await bucket.delete([f"k{i}" for i in range(1001)])


# -- list ------------------------------------------------------------------------------------------------
@pytest.fixture
async def tree(bucket):
    for key in ("a/1", "a/2", "a/b/3", "a/b/4", "a/c/5", "b", "é"):
        await bucket.put(key, key, customMetadata={"k": key}, httpMetadata={"contentType": "text/plain"})
    return bucket


async def test_list_prefix_and_order(tree):
    listing = await tree.list()
    assert [o.key for o in listing.objects] == ["a/1", "a/2", "a/b/3", "a/b/4", "a/c/5", "b", "é"]
    assert listing.truncated is False
    assert not listing.hasOwnProperty("cursor")
    assert list(listing.delimitedPrefixes) == []
    assert listing.objects.length == 7
    assert await keys(tree, prefix="a/b") == ["a/b/3", "a/b/4"]
    assert await keys(tree, startAfter="a/b/4") == ["a/c/5", "b", "é"]


async def test_list_delimiter(tree):
    listing = await tree.list(prefix="a/", delimiter="/")
    assert [o.key for o in listing.objects] == ["a/1", "a/2"]
    assert listing.delimitedPrefixes.to_py() == ["a/b/", "a/c/"]
    top = await tree.list({"delimiter": "/"})
    assert [o.key for o in top.objects] == ["b", "é"]
    assert list(top.delimitedPrefixes) == ["a/"]


async def test_list_pages_with_cursors_and_prefixes_count_toward_the_limit(tree):
    seen, prefixes, cursor, pages = [], [], None, 0
    while True:
        page = await tree.list(limit=2, delimiter="/", prefix="a/", cursor=cursor)
        seen += [o.key for o in page.objects]
        prefixes += list(page.delimitedPrefixes)
        pages += 1
        assert len(page.objects) + len(page.delimitedPrefixes) <= 2
        if not page.truncated:
            break
        cursor = page.cursor
    assert (seen, prefixes, pages) == (["a/1", "a/2"], ["a/b/", "a/c/"], 2)


async def test_list_include(tree):
    plain = (await tree.list(prefix="b")).objects[0]
    assert plain.httpMetadata.to_py() == {}
    assert plain.customMetadata.to_py() == {}
    both = (await tree.list(prefix="b", include=["httpMetadata", "customMetadata"])).objects[0]
    assert both.httpMetadata.contentType == "text/plain"
    assert both.customMetadata.k == "b"
    with pytest.raises(JsException, match="Unknown include value 'size'"):
        await tree.list(include=["size"])


async def test_list_limits_and_bad_cursors(tree):
    for limit in (0, 1001):
        with pytest.raises(R2Error, match=r"list: MaxKeys params must be positive integer <= 1000. \(10022\)"):
            await tree.list(limit=limit)
    with pytest.raises(R2Error, match="cursor is not valid"):
        await tree.list(cursor="not-a-cursor")


# -- multipart -------------------------------------------------------------------------------------------
async def test_multipart_upload_complete(bucket):
    upload = await bucket.createMultipartUpload(
        "big", httpMetadata={"contentType": "application/octet-stream"}, customMetadata={"m": "1"}
    )
    assert upload.key == "big"
    first = await upload.uploadPart(1, b"a" * MIN_PART_BYTES)
    resumed = bucket.resumeMultipartUpload("big", upload.uploadId)
    second = await resumed.uploadPart(2, "tail")
    assert (first.partNumber, first.etag) == (1, hashlib.md5(b"a" * MIN_PART_BYTES).hexdigest())
    done = await resumed.complete([second, first])  # any order
    digest = hashlib.md5(bytes.fromhex(first.etag) + bytes.fromhex(second.etag)).hexdigest()
    assert done.etag == f"{digest}-2"
    assert done.size == MIN_PART_BYTES + 4
    assert done.httpMetadata.contentType == "application/octet-stream"
    assert done.customMetadata.m == "1"
    assert done.checksums.toJSON().to_py() == {}
    assert await (await bucket.get("big", range={"suffix": 6})).text() == "aatail"
    with pytest.raises(R2Error, match=r"uploadPart: The specified multipart upload does not exist. \(10024\)"):
        await upload.uploadPart(3, "late")
    await upload.abort()  # aborting a completed upload does nothing


async def test_the_documented_multipart_etag_example(bucket):
    """Cloudflare's example: parts with ETags bce6bf66... and 8165449f... make f77dc0ee...-2."""
    parts = [bytes.fromhex("bce6bf66aeb76c7040fdd5f4eccb78e6"), bytes.fromhex("8165449fc15bbf43d3b674595cbcc406")]
    assert hashlib.md5(b"".join(parts)).hexdigest() == "f77dc0eecdebcd774a2a22cb393ad2ff"


async def test_part_sizes_are_checked_at_complete(bucket):
    upload = await bucket.createMultipartUpload("k")
    parts = [await upload.uploadPart(1, "small"), await upload.uploadPart(2, "x")]
    with pytest.raises(R2Error, match=r"smaller than the minimum allowed object size. \(10011\)"):
        await upload.complete(parts)
    uneven = await bucket.createMultipartUpload("k")
    parts = [await uneven.uploadPart(n, b"a" * size) for n, size in ((1, MIN_PART_BYTES), (2, MIN_PART_BYTES + 1))]
    parts.append(await uneven.uploadPart(3, "end"))
    with pytest.raises(R2Error, match=r"problem with the multipart upload. \(10048\)"):
        await uneven.complete(parts)
    single = await bucket.createMultipartUpload("one")
    assert (await single.complete([await single.uploadPart(1, "tiny")])).size == 4  # the last part may be small


async def test_unknown_parts_numbers_and_aborted_uploads(bucket):
    upload = await bucket.createMultipartUpload("k")
    part = await upload.uploadPart(1, "x")
    with pytest.raises(R2Error, match=r"One or more of the specified parts could not be found. \(10025\)"):
        await upload.complete([{"partNumber": 1, "etag": "wrong"}])
    with pytest.raises(R2Error, match="10025"):
        await upload.complete([part, {"partNumber": 2, "etag": part.etag}])
    for number in (0, 10_001, "1"):
        with pytest.raises(R2Error, match="Part number must be an integer between 1 and 10000"):
            await upload.uploadPart(number, "x")
    await upload.abort()
    await upload.abort()
    with pytest.raises(R2Error, match="10024"):
        await upload.complete([part])
    with pytest.raises(R2Error, match="10024"):
        await bucket.resumeMultipartUpload("other-key", upload.uploadId).uploadPart(1, "x")
    with pytest.raises(R2Error, match="10024"):
        await bucket.resumeMultipartUpload("k", "made-up").abort()
    assert await bucket.head("k") is None


# -- persistence and the binding ------------------------------------------------------------------------
async def test_objects_and_open_uploads_survive_a_new_bucket_on_the_same_file(tmp_path):
    first = R2Bucket(tmp_path / "b.sqlite")
    await first.put("k", "v", customMetadata={"a": "b"})
    upload = await first.createMultipartUpload("m")
    part = await upload.uploadPart(1, "p")
    again = R2Bucket(tmp_path / "b.sqlite")
    assert (await again.head("k")).customMetadata.a == "b"
    assert (await again.resumeMultipartUpload("m", upload.uploadId).complete([part])).size == 1


ENTRY = """
from js import Headers, Object, Response as JsResponse
from pyodide.ffi import to_js
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        key = request.url.split("/", 3)[3]
        if request.method == "PUT":
            options = to_js({"httpMetadata": request.js_object.headers}, dict_converter=Object.fromEntries)
            stored = await self.env.FILES.put(key, request.js_object.body, options)
            return Response.json({"etag": stored.etag, "size": stored.size})
        obj = await self.env.FILES.get(key, onlyIf=request.js_object.headers, range=request.js_object.headers)
        if obj is None:
            return Response("missing", status=404)
        headers = Headers.new()
        obj.writeHttpMetadata(headers)
        headers.set("etag", obj.httpEtag)
        if getattr(obj, "body", None) is None:
            return JsResponse.new(None, to_js({"status": 304, "headers": headers}))
        return JsResponse.new(obj.body, to_js({"status": 200, "headers": headers}))
"""


@pytest.fixture
def files_worker(tmp_path):
    folder = tmp_path / "files"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "r2_files_entry.py").write_text(textwrap.dedent(ENTRY))
    config = {
        "name": "files",
        "main": "src/r2_files_entry.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "r2_buckets": [{"binding": "FILES", "bucket_name": "files-bucket"}],
    }
    (folder / "wrangler.jsonc").write_text(json.dumps(config))
    yield folder
    sys.modules.pop("r2_files_entry", None)
    with contextlib.suppress(ValueError):
        sys.path.remove(str(folder / "src"))


async def test_a_worker_stores_request_bodies_and_serves_objects(files_worker, tmp_path):
    harness = WorkerHarness(files_worker, state_dir=tmp_path / "state")
    assert isinstance(harness.env.FILES, R2Bucket)
    assert harness.env.FILES.path == tmp_path / "state" / "r2" / "files-bucket.sqlite"
    stored = await harness.fetch("/notes/a.txt", method="PUT", body="hello R2", headers={"content-type": "text/plain"})
    etag = (await stored.json())["etag"]
    got = await harness.fetch("/notes/a.txt")
    assert (got.status, await got.text(), got.headers.get("content-type")) == (200, "hello R2", "text/plain")
    assert got.headers.get("etag") == f'"{etag}"'
    part = await harness.fetch("/notes/a.txt", headers={"range": "bytes=0-4"})
    assert await part.text() == "hello"
    unchanged = await harness.fetch("/notes/a.txt", headers={"if-none-match": f'"{etag}"'})
    assert unchanged.status == 304
    assert (await harness.fetch("/nothing")).status == 404
    assert JsResponse is not None
