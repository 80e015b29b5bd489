"""Workers static assets (`assets` in a worker's config), as Cloudflare documents them
(developers.cloudflare.com/workers/static-assets/): served before the worker, `run_worker_first`,
`not_found_handling`, `html_handling`, content types, ETags, HEAD, `.assetsignore`, the 25 MiB limit,
`env.ASSETS.fetch`, an assets-only worker, and requests that try to leave the directory.

Most tests send HTTP through the worker's host app (`host.WorkerApp`, the code every request to a worker
process passes) in this process; the last ones start `make dev`'s platform and `dotdo dev`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dotdo_dev.config import NOT_PROVIDED_LOCALLY, ConfigError, load_local
from dotdo_dev.platform import LocalPlatform
from dotdo_dev.runtime.bindings.assets import ASSETS_RESOURCE, IgnoreRules, content_type, normalise_path
from dotdo_dev.runtime.host import WorkerApp
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.state import StateDir
from dotdo_dev.testing import start_dev, stop_dev

ROOT = Path(__file__).resolve().parents[2]

# One main module for every worker of this file (each config points at it), so it is imported once.
ENTRY = """from urllib.parse import urlsplit

from workers import Request, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path.startswith("/via-binding/"):
            return await self.env.ASSETS.fetch(request.url.replace("/via-binding/", "/", 1))
        if path == "/binding-request":
            return await self.env.ASSETS.fetch(Request(request.url.replace("/binding-request", "/style.css")))
        if path == "/binding-head":
            return await self.env.ASSETS.fetch("https://assets.local/style.css", method="HEAD")
        if path == "/binding-post":
            return await self.env.ASSETS.fetch("https://assets.local/style.css", method="POST", body="x")
        if path.startswith("/svc/"):  # through a service binding to another worker with assets
            return await self.env.SITE.fetch("http://assetsite.do/" + path.removeprefix("/svc/"))
        if path.startswith("/svc-direct/"):  # the same worker's named entrypoint
            return await self.env.SITE_DIRECT.fetch("http://assetsite.do/" + path.removeprefix("/svc-direct/"))
        if path.startswith("/wrapped/"):
            asset = await self.env.ASSETS.fetch(request.url.replace("/wrapped/", "/", 1))
            return Response("wrapped: " + await asset.text(), status=asset.status)
        return Response(f"worker {request.method} {path}", headers={"x-from": "worker"})


class Direct(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("direct entrypoint " + urlsplit(request.url).path)
"""

FILES = {
    "index.html": "<h1>home</h1>",
    "about.html": "<h1>about</h1>",
    "docs/index.html": "<h1>docs</h1>",
    "docs/404.html": "<h1>docs 404</h1>",
    "404.html": "<h1>root 404</h1>",
    "style.css": "body{}",
    "app.js": "console.log(1)",
    "data.json": "{}",
    "logo.svg": "<svg/>",
    "img/photo.jpg": "jpeg",
    "fonts/a.woff2": "font",
    "blob.unknownext": "?",
    "api/docs/page.txt": "api docs",
    "secret.txt": "not uploaded",
    "drafts/one.html": "draft",
    ".assetsignore": "secret.txt\ndrafts/\n",
    "_headers": "/*\n  X-Test: 1\n",
}


def write_app(base: Path) -> Path:
    app = base / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "assets_fixture_entry.py").write_text(ENTRY)
    public = base / "public"
    for name, text in FILES.items():
        (public / name).parent.mkdir(parents=True, exist_ok=True)
        (public / name).write_text(text)
    (base / "outside.txt").write_text("outside the directory")
    (public / "leak.txt").symlink_to(base / "outside.txt")
    (public / "docs" / "loop").symlink_to(public, target_is_directory=True)  # walked once, not forever
    return public


def write_worker(
    base: Path, name: str, assets: dict, *, main: bool = True, date: str = "2025-11-02", **more: object
) -> Path:
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    config: dict = {"name": name, "compatibility_date": date, "assets": {"directory": "../public", **assets}, **more}
    if main:
        config |= {"main": "../app/assets_fixture_entry.py", "compatibility_flags": ["python_workers"]}
    (folder / "wrangler.jsonc").write_text(json.dumps(config))
    return folder / "wrangler.jsonc"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("assets")
    write_app(base)
    return base


def client_for(base: Path, name: str, assets: dict, **options) -> httpx.AsyncClient:
    """An HTTP client to the worker's host app, as the platform reaches a worker's process."""
    config = load_local(write_worker(base, name, assets, **options))
    isolate = Isolate(config, state=StateDir(base / "state"))
    transport = httpx.ASGITransport(app=WorkerApp(isolate, token=None))
    return httpx.AsyncClient(transport=transport, base_url="http://site.test")


@pytest.fixture
async def http(site):
    async with client_for(site, "default", {"binding": "ASSETS"}) as client:
        yield client


# -- serving ------------------------------------------------------------------------------------------


async def test_a_matching_file_is_served_before_the_worker(http):
    reply = await http.get("/style.css")
    assert reply.status_code == 200
    assert reply.text == "body{}"
    assert "x-from" not in reply.headers
    assert reply.headers["cache-control"] == "public, max-age=0, must-revalidate"


async def test_a_miss_runs_the_worker(http):
    reply = await http.get("/api/things")
    assert reply.status_code == 200
    assert reply.text == "worker GET /api/things"


async def test_nested_files_and_the_root_index(http):
    assert (await http.get("/img/photo.jpg")).text == "jpeg"
    assert (await http.get("/")).text == "<h1>home</h1>"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/logo.svg", "image/svg+xml"),
        ("/img/photo.jpg", "image/jpeg"),
        ("/fonts/a.woff2", "font/woff2"),
        ("/blob.unknownext", "application/octet-stream"),
    ],
)
async def test_content_type_by_extension(http, path, expected):
    reply = await http.get(path)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == expected


def test_content_types_of_the_standard_library_and_overrides():
    assert content_type("favicon.ico") == "image/vnd.microsoft.icon"
    assert content_type("a.TXT") == "text/plain; charset=utf-8"
    assert content_type("module.mjs") == "text/javascript; charset=utf-8"
    assert content_type("site.webmanifest") == "application/manifest+json"
    assert content_type("x.wasm") == "application/wasm"


async def test_etag_and_if_none_match_give_304(http):
    first = await http.get("/style.css")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = await http.get("/style.css", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert (await http.get("/style.css", headers={"if-none-match": f'"other", W/{etag}'})).status_code == 304
    assert (await http.get("/style.css", headers={"if-none-match": '"other"'})).status_code == 200
    assert (await http.get("/app.js")).headers["etag"] != etag


async def test_cache_control_is_left_out_with_authorization_or_range(http):
    assert "cache-control" not in (await http.get("/style.css", headers={"authorization": "Bearer x"})).headers
    assert "cache-control" not in (await http.get("/style.css", headers={"range": "bytes=0-1"})).headers


async def test_head_has_the_headers_and_no_body(http):
    reply = await http.head("/style.css")
    assert reply.status_code == 200
    assert reply.content == b""
    assert reply.headers["content-type"] == "text/css; charset=utf-8"
    assert reply.headers["etag"] == (await http.get("/style.css")).headers["etag"]


async def test_other_methods_on_an_asset_get_405_and_elsewhere_reach_the_worker(http):
    reply = await http.post("/style.css", content=b"x")
    assert reply.status_code == 405
    assert reply.content == b""
    assert (await http.post("/api/things", content=b"x")).text == "worker POST /api/things"


async def test_assetsignore_and_wrangler_config_files_are_not_served(http):
    for path in ("/secret.txt", "/drafts/one.html", "/drafts/one", "/.assetsignore", "/_headers"):
        reply = await http.get(path)
        assert reply.text.startswith("worker GET"), path


def test_ignore_rules_follow_gitignore():
    rules = IgnoreRules("# comment\n*.map\n/build/\n!keep.map\ndocs/**/draft-*\n\\#hash\n")
    assert rules.ignores("a.map")
    assert rules.ignores("deep/b.map")
    assert not rules.ignores("keep.map")
    assert rules.ignores("build/x.js")
    assert not rules.ignores("src/build/x.js")
    assert rules.ignores("docs/a/b/draft-1.html")
    assert rules.ignores("docs/draft-2.html")
    assert rules.ignores("#hash")
    assert not rules.ignores("comment")


# -- html_handling ----------------------------------------------------------------------------------------

AUTO = {
    "/about": (200, "<h1>about</h1>"),
    "/about.html": (307, "/about"),
    "/about/": (307, "/about"),
    "/about/index": (307, "/about"),
    "/about/index.html": (307, "/about"),
    "/docs": (307, "/docs/"),
    "/docs.html": (307, "/docs/"),
    "/docs/": (200, "<h1>docs</h1>"),
    "/docs/index": (307, "/docs/"),
    "/docs/index.html": (307, "/docs/"),
    "/index.html": (307, "/"),
    "/index": (307, "/"),
}
FORCE = {
    "/about": (307, "/about/"),
    "/about.html": (307, "/about/"),
    "/about/": (200, "<h1>about</h1>"),
    "/about/index.html": (307, "/about/"),
    "/docs": (307, "/docs/"),
    "/docs/": (200, "<h1>docs</h1>"),
    "/docs/index.html": (307, "/docs/"),
    "/index.html": (307, "/"),
}
DROP = {
    "/about": (200, "<h1>about</h1>"),
    "/about/": (307, "/about"),
    "/about.html": (307, "/about"),
    "/docs": (200, "<h1>docs</h1>"),
    "/docs/": (307, "/docs"),
    "/docs/index.html": (307, "/docs"),
    "/index.html": (307, "/"),
    "/": (200, "<h1>home</h1>"),
}
NONE = {
    "/about.html": (200, "<h1>about</h1>"),
    "/docs/index.html": (200, "<h1>docs</h1>"),
    "/about": (404, ""),
    "/docs/": (404, ""),
    "/": (404, ""),
}


@pytest.mark.parametrize(
    ("mode", "table"),
    [("auto-trailing-slash", AUTO), ("force-trailing-slash", FORCE), ("drop-trailing-slash", DROP), ("none", NONE)],
)
async def test_html_handling_as_documented(site, mode, table):
    async with client_for(site, f"html-{mode}", {"html_handling": mode}, main=False) as client:
        for path, (status, expected) in table.items():
            reply = await client.get(path)
            assert reply.status_code == status, (mode, path)
            if status == 307:
                assert reply.headers["location"] == expected, (mode, path)
            else:
                assert reply.text == expected, (mode, path)


async def test_a_redirect_keeps_the_query(http):
    reply = await http.get("/about.html?x=1&y=2")
    assert reply.status_code == 307
    assert reply.headers["location"] == "/about?x=1&y=2"


# -- not_found_handling -------------------------------------------------------------------------------------


async def test_not_found_none_is_a_null_body_404(site):
    async with client_for(site, "nf-none", {}, main=False) as client:
        reply = await client.get("/missing")
        assert reply.status_code == 404
        assert reply.content == b""


async def test_not_found_404_page_serves_the_nearest_404_html(site):
    async with client_for(site, "nf-404", {"not_found_handling": "404-page"}, main=False) as client:
        reply = await client.get("/missing/page")
        assert (reply.status_code, reply.text) == (404, "<h1>root 404</h1>")
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
        assert (await client.get("/docs/missing")).text == "<h1>docs 404</h1>"
        assert (await client.get("/docs/deeper/still/missing")).text == "<h1>docs 404</h1>"


async def test_not_found_single_page_application_serves_the_index_with_200(site):
    async with client_for(site, "nf-spa", {"not_found_handling": "single-page-application"}, main=False) as client:
        reply = await client.get("/any/client/route")
        assert (reply.status_code, reply.text) == (200, "<h1>home</h1>")
        assert (await client.get("/style.css")).text == "body{}"


async def test_with_a_worker_a_miss_runs_it_whatever_not_found_handling_says(site):
    async with client_for(site, "nf-spa-main", {"not_found_handling": "single-page-application"}) as client:
        assert (await client.get("/api/x")).text == "worker GET /api/x"


async def test_navigation_requests_get_not_found_handling_instead_of_the_worker(site):
    navigate = {"sec-fetch-mode": "navigate"}
    async with client_for(site, "nav", {"not_found_handling": "single-page-application"}) as client:
        assert (await client.get("/route", headers=navigate)).text == "<h1>home</h1>"
    # before 2025-04-01 (without assets_navigation_prefers_asset_serving) the worker runs
    async with client_for(
        site, "nav-old", {"not_found_handling": "single-page-application"}, date="2025-03-01"
    ) as client:
        assert (await client.get("/route", headers=navigate)).text == "worker GET /route"


# -- run_worker_first ---------------------------------------------------------------------------------------


async def test_run_worker_first_true_runs_the_worker_for_every_request(site):
    async with client_for(site, "rwf", {"binding": "ASSETS", "run_worker_first": True}) as client:
        assert (await client.get("/style.css")).text == "worker GET /style.css"
        assert (await client.get("/wrapped/style.css")).text == "wrapped: body{}"


async def test_run_worker_first_patterns_and_negative_patterns(site):
    rules = {"run_worker_first": ["/api/*", "/style.css", "!/api/docs/*"], "not_found_handling": "404-page"}
    async with client_for(site, "rwf-list", rules) as client:
        assert (await client.get("/style.css")).text == "worker GET /style.css"
        assert (await client.get("/api/anything/deep")).text == "worker GET /api/anything/deep"
        assert (await client.get("/api/docs/page.txt")).text == "api docs"
        missing = await client.get("/api/docs/missing")
        assert (missing.status_code, missing.text) == (404, "<h1>root 404</h1>")
        assert (await client.get("/app.js")).text == "console.log(1)"
        assert (await client.get("/other")).text == "worker GET /other"
        navigate = {"sec-fetch-mode": "navigate"}  # patterns turn the navigation rule off
        assert (await client.get("/other", headers=navigate)).text == "worker GET /other"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "at least one route pattern"),
        (["!/a/*"], "non-negative"),
        (["api/*"], "starting with /"),
        ("yes", "true, false or a list"),
    ],
)
def test_run_worker_first_refusals(site, value, message):
    with pytest.raises(ConfigError, match=message):
        load_local(write_worker(site, "bad-rwf", {"run_worker_first": value}))


# -- env.ASSETS.fetch ---------------------------------------------------------------------------------------


async def test_binding_fetch_with_a_url_string(http):
    reply = await http.get("/via-binding/img/photo.jpg")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.text == "jpeg"


async def test_binding_fetch_with_a_request_and_the_js_object_form(http):
    assert (await http.get("/binding-request")).text == "body{}"


async def test_binding_fetch_applies_html_handling_and_answers_404_for_a_miss(http):
    redirect = await http.get("/via-binding/about.html")
    assert (redirect.status_code, redirect.headers["location"]) == (307, "/about")
    missing = await http.get("/via-binding/no/such/file")
    assert (missing.status_code, missing.content) == (404, b"")


async def test_binding_fetch_applies_not_found_handling(site):
    options = {"binding": "ASSETS", "not_found_handling": "404-page", "run_worker_first": ["/via-binding/*"]}
    async with client_for(site, "binding-404", options) as client:
        reply = await client.get("/via-binding/docs/nothing")
        assert (reply.status_code, reply.text) == (404, "<h1>docs 404</h1>")


async def test_binding_fetch_head_and_other_methods(http):
    head = await http.get("/binding-head")
    assert (head.status_code, head.content) == (200, b"")
    assert (await http.get("/binding-post")).status_code == 405


async def test_binding_fetch_in_process(site):
    config = load_local(write_worker(site, "in-process", {"binding": "ASSETS"}))
    isolate = Isolate(config, state=StateDir(site / "state"))
    reply = await isolate.env.ASSETS.fetch("https://anything.example/style.css")
    assert (reply.status, await reply.text()) == (200, "body{}")
    assert reply.headers["etag"]
    assert ASSETS_RESOURCE in isolate.resources


# -- paths that try to leave the directory --------------------------------------------------------------------

ESCAPES = [
    "/../outside.txt",
    "/%2e%2e/outside.txt",
    "/%2E%2E/%2e%2e/outside.txt",
    "/docs/..%2f..%2foutside.txt",
    "/..%5c..%5coutside.txt",
    "/docs/%2e%2e/%2e%2e/outside.txt",
    "/.%2e/outside.txt",
    "/leak.txt",
    "/%2fetc%2fpasswd",
    "/..\\outside.txt",
    "/etc/passwd%00.css",
    "/%ff/../outside.txt",
]


@pytest.mark.parametrize("path", ESCAPES)
async def test_no_path_serves_a_file_outside_the_directory(site, path):
    async with client_for(site, "escape", {"not_found_handling": "404-page"}, main=False) as client:
        reply = await client.get(path)
        assert "outside the directory" not in reply.text
        assert reply.status_code == 404


def test_dot_segments_are_removed_as_a_url_parser_removes_them():
    assert normalise_path("/a/../style.css") == ["style.css"]
    assert normalise_path("/a/%2e%2e/b/./c") == ["b", "c"]
    assert normalise_path("/../../x") == ["x"]
    assert normalise_path("/a%2fb") is None
    assert normalise_path("/a%00") is None
    assert normalise_path("/%ff%fe") is None
    assert normalise_path("/sp%20ace.txt") == ["sp ace.txt"]


async def test_dot_segments_inside_the_directory_still_find_the_file(site):
    async with client_for(site, "dots", {}, main=False) as client:
        assert (await client.get("/docs/%2e%2e/style.css")).text == "body{}"


# -- config -------------------------------------------------------------------------------------------------


def test_assets_is_provided_locally():
    assert "assets" not in NOT_PROVIDED_LOCALLY


def test_a_file_over_25_mib_refuses_the_config_naming_it(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    with (public / "huge.bin").open("wb") as fh:
        fh.truncate(25 * 1024 * 1024 + 1)
    (public / "ok.bin").write_bytes(b"1")
    config = tmp_path / "w" / "wrangler.jsonc"
    config.parent.mkdir()
    config.write_text(
        json.dumps({"name": "w", "compatibility_date": "2025-11-02", "assets": {"directory": "../public"}})
    )
    with pytest.raises(ConfigError, match=r"assets.directory: huge.bin is 25.0 MiB; .* at most 25 MiB"):
        load_local(config)
    (public / ".assetsignore").write_text("huge.bin\n")
    assert load_local(config).assets[0].directory == public.resolve()


def test_config_refusals(tmp_path):
    def config(assets, main=True):
        path = tmp_path / "c" / "wrangler.jsonc"
        path.parent.mkdir(exist_ok=True)
        body = {"name": "c", "compatibility_date": "2025-11-02", "assets": assets}
        if main:
            body |= {"main": "x.py", "compatibility_flags": ["python_workers"]}
        path.write_text(json.dumps(body))
        return path

    (tmp_path / "public").mkdir()
    cases = [
        ({"directory": "../nowhere"}, True, "assets.directory: ../nowhere does not exist"),
        ({}, True, "assets.directory: is required"),
        ({"directory": "../public", "not_found_handling": "spa"}, True, "not_found_handling: must be one of"),
        ({"directory": "../public", "html_handling": "auto"}, True, "html_handling: must be one of"),
        ({"directory": "../public", "binding": "ASSETS"}, False, "assets-only Worker"),
        ({"directory": "../public", "run_worker_first": True}, False, "needs a Worker script"),
    ]
    for assets, main, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_local(config(assets, main))


# -- through the platform -------------------------------------------------------------------------------------


async def test_through_make_dev_s_platform(site, tmp_path):
    workers = [
        ROOT / "dispatcher" / "wrangler.jsonc",
        write_worker(site, "assetsite", {"binding": "ASSETS", "not_found_handling": "404-page"}),
        write_worker(site, "staticonly", {"not_found_handling": "single-page-application"}, main=False),
        write_worker(
            site,
            "assetcaller",
            {},
            services=[
                {"binding": "SITE", "service": "assetsite"},
                {"binding": "SITE_DIRECT", "service": "assetsite", "entrypoint": "Direct"},
            ],
        ),
    ]
    async with (
        LocalPlatform(ROOT, configs=workers, state_dir=tmp_path / "state", port=0) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=10) as http,
    ):
        site_host = {"Host": "assetsite.do"}
        css = await http.get("/style.css", headers=site_host)
        assert (css.status_code, css.text) == (200, "body{}")
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        assert (
            await http.get("/style.css", headers={**site_host, "if-none-match": css.headers["etag"]})
        ).status_code == 304
        assert (await http.get("/api/x", headers=site_host)).text == "worker GET /api/x"
        assert (await http.get("/via-binding/docs/", headers=site_host)).text == "<h1>docs</h1>"
        redirect = await http.get("/about.html", headers=site_host)
        assert (redirect.status_code, redirect.headers["location"]) == (307, "/about")
        static_host = {"Host": "staticonly.do"}
        assert (await http.get("/", headers=static_host)).text == "<h1>home</h1>"
        assert (await http.get("/client/route", headers=static_host)).text == "<h1>home</h1>"
        assert (await http.post("/client/route", headers=static_host)).status_code == 405
        # a service binding's fetch reaches the other worker's assets first; a named entrypoint its code
        caller = {"Host": "assetcaller.do"}
        assert (await http.get("/svc/style.css", headers=caller)).text == "body{}"
        assert (await http.get("/svc/api/y", headers=caller)).text == "worker GET /api/y"
        assert (await http.get("/svc-direct/style.css", headers=caller)).text == "direct entrypoint /style.css"


def test_dotdo_dev_serves_an_assets_only_worker_and_refuses_a_huge_file(tmp_path):
    folder = tmp_path / "static-site"
    (folder / "public").mkdir(parents=True)
    (folder / "public" / "index.html").write_text("<p>static</p>")
    (folder / "wrangler.jsonc").write_text(
        json.dumps({"name": "static-site", "compatibility_date": "2025-11-02", "assets": {"directory": "./public"}})
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc, url = start_dev(folder, env)
    try:
        assert httpx.get(url + "/").text == "<p>static</p>"
        assert httpx.get(url + "/index.html").status_code == 307
        assert httpx.get(url + "/nothing").status_code == 404
    finally:
        stop_dev(proc)
    with (folder / "public" / "big.bin").open("wb") as fh:
        fh.truncate(26 * 1024 * 1024)
    done = subprocess.run(
        [sys.executable, "-m", "dotdo_dev", "dev", "--port", "0"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "big.bin is 26.0 MiB" in lines[0]
    assert lines[0].startswith("dotdo dev: ")
