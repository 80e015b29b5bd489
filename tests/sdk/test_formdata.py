"""`workers.FormData` behaves as the SDK's, and forms cross request and response bodies."""

import pytest
from workers import Blob, File, FormData, Request, Response


def test_values_keep_their_order_and_keys_may_repeat():
    form = FormData({"a": "1"})
    form.append("b", "2")
    form.append("a", "3")
    assert list(form.keys()) == ["a", "b", "a"]
    assert list(form.items()) == [("a", "1"), ("b", "2"), ("a", "3")]
    assert list(form.values()) == ["1", "2", "3"]
    assert form["a"] == "1"
    assert form.get_all("a") == ["1", "3"]
    assert "a" in form
    assert "z" not in form
    assert list(form) == ["a", "b", "a"]


def test_a_missing_key_reads_as_none_as_in_the_sdk():
    form = FormData()
    assert form["missing"] is None
    assert form.get("missing") is None
    assert form.get_all("missing") == []


def test_setting_a_key_replaces_every_value_in_the_place_of_the_first():
    form = FormData()
    for key, value in [("a", "1"), ("b", "2"), ("a", "3")]:
        form.append(key, value)
    form["a"] = "x"
    assert list(form.items()) == [("a", "x"), ("b", "2")]
    form["c"] = "y"
    assert list(form.items())[-1] == ("c", "y")
    del form["a"]
    form.delete("nothing")  # no error, as in the web API
    assert list(form.keys()) == ["b", "c"]


async def test_a_blob_value_is_stored_as_a_file():
    form = FormData()
    form.append("blob", Blob("x", "text/plain"))
    form.append("named", Blob("y"), "y.bin")
    form.append("file", File("z", "z.txt", "text/plain", last_modified=7))
    blob, named, file = form["blob"], form["named"], form["file"]
    assert isinstance(blob, File)
    assert (blob.name, blob.content_type) == ("blob", "text/plain")
    assert isinstance(named, File)
    assert named.name == "y.bin"
    assert (file.name, file.last_modified, await file.text()) == ("z.txt", 7, "z")


def test_bad_values_are_refused():
    form = FormData()
    with pytest.raises(TypeError, match="single item"):
        form["a"] = ["1", "2"]  # type: ignore[assignment]
    with pytest.raises(TypeError, match="a filename can only be given with a Blob"):
        form.append("a", "text", "name.txt")
    with pytest.raises(TypeError, match="must be str, Blob or File, not int"):
        form.append("a", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected form_data to be a dict"):
        FormData([("a", "1")])  # type: ignore[arg-type]


def test_len_fails_as_in_the_sdk():
    # The SDK 1.9.5 takes len() of a generator: len(form) is a TypeError on Cloudflare, so here too.
    with pytest.raises(TypeError, match="has no len"):
        len(FormData({"a": "1"}))


async def test_a_form_body_crosses_a_request_as_multipart():
    form = FormData({"name": "Ada", "note": 'quote " and\r\nbreak'})
    form.append("upload", File(b"\x00\x01binary", "a b.bin", "application/octet-stream"))
    request = Request("https://x.do/upload", method="POST", body=form)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parsed = await request.clone().form_data()
    assert parsed["name"] == "Ada"
    assert parsed["note"] == 'quote " and\r\nbreak'
    upload = parsed["upload"]
    assert isinstance(upload, File)
    assert (upload.name, upload.content_type, await upload.bytes()) == (
        "a b.bin",
        "application/octet-stream",
        b"\x00\x01binary",
    )
    assert (await request.blob()).content_type.startswith("multipart/form-data")


async def test_a_urlencoded_body_parses_as_a_form():
    request = Request(
        "https://x.do/",
        method="POST",
        body="a=1&b=two+words&a=%C3%A9&empty=",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    form = await request.form_data()
    assert list(form.items()) == [("a", "1"), ("b", "two words"), ("a", "é"), ("empty", "")]


async def test_a_body_that_is_not_a_form_is_a_type_error():
    request = Request("https://x.do/", method="POST", body='{"a": 1}', headers={"content-type": "application/json"})
    with pytest.raises(TypeError, match="multipart/form-data"):
        await request.form_data()
    no_boundary = Request("https://x.do/", method="POST", body="x", headers={"content-type": "multipart/form-data"})
    with pytest.raises(TypeError, match="with a boundary"):
        await no_boundary.form_data()


async def test_a_response_carries_and_parses_forms_and_blobs():
    response = Response(FormData({"k": "v"}))
    assert response.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert (await response.clone().form_data())["k"] == "v"
    assert (await response.formData())["k"] == "v"
    typed = Response(Blob("<p>", "text/html"))
    assert typed.headers["content-type"] == "text/html"
    blob = await typed.blob()
    assert (blob.content_type, await blob.text()) == ("text/html", "<p>")
    replaced = Response("old", headers={"content-type": "text/plain", "x-keep": "1"}).replace_body(FormData({"a": "b"}))
    assert replaced.headers["x-keep"] == "1"
    assert (await replaced.form_data())["a"] == "b"


async def test_other_response_readers_of_the_sdk():
    response = Response("text")
    assert await response.clone().string() == "text"
    assert bytes(await response.clone().memoryview()) == b"text"
    assert response.type == "default"
    assert response.redirected is False
    await response.text()
    with pytest.raises(OSError, match="Body already used"):
        await response.blob()
