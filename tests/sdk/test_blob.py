"""`workers.Blob` and `workers.File` follow the File API as the SDK exposes it, in pure Python."""

import time

import pytest
from workers import Blob, BlobEnding, File


async def test_a_blob_joins_its_parts():
    blob = Blob(["héllo ", b"world", memoryview(b"!"), Blob("?")], content_type="Text/Plain")
    assert await blob.bytes() == "héllo world!?".encode()
    assert await blob.text() == "héllo world!?"
    assert blob.size == len("héllo world!?".encode())
    assert blob.content_type == "text/plain"
    assert blob.js_object is blob


async def test_a_single_str_bytes_or_blob_is_one_part():
    assert await Blob("abc").bytes() == b"abc"
    assert await Blob(b"abc").bytes() == b"abc"
    inner = Blob("x", "image/png")
    assert Blob(inner).content_type == "image/png"  # one blob: its type is inherited
    assert Blob([inner]).content_type == ""  # a list: not inherited
    assert Blob(inner, "text/plain").content_type == "text/plain"


def test_a_content_type_that_is_not_printable_ascii_is_dropped():
    assert Blob("x", "text/plaïn").content_type == ""
    assert Blob("x", "a\nb").content_type == ""
    assert Blob("x").content_type == ""


async def test_native_endings_normalise_line_breaks_of_text_parts_only():
    blob = Blob(["a\r\nb\rc\n", b"d\r\n"], endings=BlobEnding.NATIVE)
    assert await blob.bytes() == b"a\nb\nc\nd\r\n"
    assert await Blob(["a\r\n"], endings="transparent").bytes() == b"a\r\n"


def test_unknown_endings_and_parts_are_refused():
    with pytest.raises(TypeError, match="endings must be 'transparent' or 'native'"):
        Blob("x", endings="windows")
    with pytest.raises(TypeError, match="Don't know how to handle <class 'int'> for Blob"):
        Blob([1, 2])
    with pytest.raises(TypeError, match="for Blob"):
        Blob([None])


async def test_slice_counts_negative_indices_from_the_end_and_clamps():
    blob = Blob("0123456789", "text/plain")
    assert await blob.slice(2, 5).text() == "234"
    assert await blob.slice(-3).text() == "789"
    assert await blob.slice(-100, 2).text() == "01"
    assert await blob.slice(8, 3).text() == ""
    assert await blob.slice(5, 100).text() == "56789"
    # As the SDK 1.9.5 does (it re-wraps the JS slice without a type), a slice has no content type.
    assert blob.slice(0, 1, "text/html").content_type == ""


async def test_a_file_has_a_name_and_a_modification_time():
    before = int(time.time() * 1000)
    file = File(["a,b\n"], "data.csv", content_type="text/csv")
    assert file.name == "data.csv"
    assert file.content_type == "text/csv"
    assert before <= file.last_modified <= int(time.time() * 1000)
    assert await file.text() == "a,b\n"
    assert File("x", "f", last_modified=1234).last_modified == 1234


def test_a_file_made_from_one_file_inherits_its_type_and_date():
    original = File("x", "a.txt", "text/plain", last_modified=42)
    copy = File(original, "b.txt")
    assert (copy.name, copy.content_type, copy.last_modified) == ("b.txt", "text/plain", 42)
    assert File(Blob("x", "image/gif"), "g.gif").content_type == "image/gif"


def test_a_file_needs_a_string_name():
    with pytest.raises(TypeError, match="File name must be a string"):
        File("x", None)  # type: ignore[arg-type]
