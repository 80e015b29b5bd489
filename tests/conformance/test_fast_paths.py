"""The workers' own fast paths under real Pyodide give what the SDK's general paths give.

Each test appends a probe method to a copy of a worker's bundle (as `test_conformance` probes the rate
limiter) that builds the answer both ways inside Pyodide and returns both, for the test to compare.
"""

import shutil
from pathlib import Path

from dotdo_dev.conformance import check

ROOT = Path(__file__).resolve().parents[2]
DB = ROOT / "workers" / "db"

ENVELOPE_PROBE = '''

async def _probe_envelope(self):
    """Each case as `envelope.json_response` answers it and as the SDK's `Response.json` does."""
    import sys

    from workers import Response

    from shared import envelope

    cases = [
        ({"success": True, "data": {"a": [1, 2.5, None, "\\u00e9\\u4e2d"]}}, 200, None),
        ({"success": True, "data": None}, 201, {"X-Request-ID": "req_1", "Location": "/things/a"}),
        ({"success": False, "error": {"code": "NOT_FOUND"}}, 404, None),
        ({"success": False}, 429, {"Retry-After": "5", "content-type": "application/problem+json"}),
        ({"success": True, "data": []}, 200, None),  # the init object made for 200 before, used again
    ]

    async def seen(response):
        pairs = sorted([name, value] for name, value in response.headers.items())
        return [response.status, pairs, await response.text()]

    pairs = []
    for body, status, headers in cases:
        fast = envelope.json_response(body, status=status, headers=headers)
        slow = Response.json(body, status=status, headers=envelope._headers(headers))
        pairs.append([await seen(fast), await seen(slow)])
    # The middleware sets headers in place on a response it built: that must not reach the next response.
    first = envelope.json_response({"n": 1})
    first.js_object.headers.set("x-request-id", "req_a")
    second = envelope.json_response({"n": 2})
    return {
        "pyodide": sys.platform == "emscripten" and envelope.js is not None,
        "pairs": pairs,
        "in_place": [first.headers.get("x-request-id"), second.headers.get("x-request-id")],
        "type": type(second).__name__,
    }


async def _probe_storage(self):
    """A checked database opened on the JS binding, found up to date in one batch; a declared table or a
    migration missing left to the general path; the SDK's wrapper read from the env when asked for."""
    import storage
    from migrations import MIGRATIONS

    from shared.records import table, tables
    from shared.storage import D1Storage, Database

    opened = await storage.DATABASE.open(self.env)  # /health checked the schema: a later open
    rows = await opened.all("SELECT count(*) AS n FROM things")
    lazy = opened._db is None and opened.js is not None
    at_once = await opened._ready_at_once()  # up to date: found so in one batch, without the SDK's wrapper
    still_lazy = opened._db is None
    notes = tables(table("probe_notes", "pn", "", body="text"))  # declared, not in the database yet

    def declaring():
        return D1Storage(None, Database("DB", MIGRATIONS, tables=notes), js=opened.js, env=self.env)

    missing = await declaring()._ready_at_once()  # a declared table missing: left to the general path
    version = await declaring().ready()  # which makes it
    made = [row["name"] for row in await opened.all('PRAGMA table_info("probe_notes")')]
    then = await declaring()._ready_at_once()  # and then it is all there
    await opened.run("DELETE FROM _migrations WHERE version = 3")
    behind = await opened._ready_at_once()  # a migration due: left to the general path too
    await opened.run("INSERT INTO _migrations (version, name, applied_at) VALUES (3, 'back', 'x')")
    wrapper = type(opened.db).__name__
    return {
        "lazy": lazy,
        "at_once": at_once,
        "still_lazy": still_lazy,
        "missing": missing is None,
        "version": version,
        "made": made,
        "then": then,
        "behind": behind is None,
        "wrapper": wrapper,
        "rows": rows,
    }


async def _probe_http(self):
    """`new_request` and `merged` as under Pyodide, and as their general paths (the SDK's) make them."""
    import js

    from shared import http

    async def request_seen(request):
        pairs = sorted([name, value] for name, value in request.headers.items())
        return [request.method, request.url, pairs, request.js_object.body is None or str(request.js_object.body)]

    async def response_seen(response):
        pairs = sorted([name, value] for name, value in response.headers.items())
        text = "" if response.status in http.NULL_BODY_STATUSES else await response.text()
        return [response.status, response.status_text, pairs, text, type(response).__name__]

    def fetched(status, status_text, pairs, body):
        headers = js.Headers.new()
        for name, value in pairs:
            headers.append(name, value)
        init = {"status": status, "statusText": status_text, "headers": headers}
        return js.Response.new(body, http._to_js(init, dict_converter=js.Object.fromEntries))

    def both(make):
        fast = make()
        saved, http.js = http.js, None  # the general path, as the local runtime takes it
        try:
            slow = make()
        finally:
            http.js = saved
        return fast, slow

    headers = [("accept", "application/json"), ("x-request-id", "req_1"), ("x-dotdo-principal", '{"id":"u"}')]
    url = "https://db.do/things?ns=a&x=%20"
    requests = []
    for method in ("GET", "HEAD", "DELETE"):
        fast, slow = both(lambda method=method: http.new_request(url, method=method, headers=iter(headers)))
        requests.append([await request_seen(fast), await request_seen(slow), type(fast).__name__])
    responses = []
    ours = {"X-RateLimit-Limit": "60", "x-ratelimit-remaining": "59", "Content-Type": "text/plain"}
    cases = [
        (200, "", [("content-type", "application/json"), ("set-cookie", "a=1"), ("set-cookie", "b=2")], "{}"),
        (201, "Created", [("X-RateLimit-Limit", "1"), ("etag", '"x"')], "made"),
        (204, "", [("x-a", "1")], None),
        (404, "Not Found", [], "no"),
    ]
    for status, status_text, pairs, body in cases:
        fast, slow = both(lambda a=(status, status_text, pairs, body): http.merged(http.Response(fetched(*a)), ours))
        responses.append([await response_seen(fast), await response_seen(slow)])
    return {"requests": requests, "responses": responses}


Default.probe_envelope = _probe_envelope
Default.probe_http = _probe_http
Default.probe_storage = _probe_storage
'''


def _probed(bundles, tmp_path: Path) -> Path:
    copy = tmp_path / "db-probe"
    shutil.copytree(bundles(DB), copy)
    with (copy / "entry.py").open("a") as fh:
        fh.write(ENVELOPE_PROBE)
    return copy


def test_json_response_gives_what_the_sdks_response_json_gives_under_pyodide(bundles, tmp_path):
    result = check(ROOT, DB, bundle=_probed(bundles, tmp_path), rpc=("probe_envelope", []))
    assert result.ok, result.error
    probe = result.rpc
    assert probe["pyodide"] is True  # the fast path ran
    assert len(probe["pairs"]) == 5
    for fast, slow in probe["pairs"]:
        assert fast == slow
    assert probe["pairs"][1][0][0] == 201
    assert ["x-request-id", "req_1"] in probe["pairs"][1][0][1]
    assert ["content-type", "application/problem+json"] in probe["pairs"][3][0][1]
    assert probe["in_place"] == ["req_a", None]
    assert probe["type"] == "Response"


def test_a_checked_database_is_opened_on_the_js_binding_under_pyodide(bundles, tmp_path):
    # /health first: the isolate's first open checks the schema; the probe's open is a later one.
    result = check(ROOT, DB, bundle=_probed(bundles, tmp_path), rpc=("probe_storage", []))
    assert result.ok, result.error
    assert result.rpc == {
        "lazy": True,
        "at_once": 3,
        "still_lazy": True,
        "missing": True,
        "version": 3,
        "made": ["id", "body", "created_at", "updated_at"],
        "then": 3,
        "behind": True,
        "wrapper": "_BindingWrapper",
        "rows": [{"n": 0}],
    }


LIMITER_PROBE = '''

async def _probe_both_ways(self, limit, window, calls):
    """The verdicts of `calls` hits on the JS SqlStorage (as the limiter runs), then on the SDK's wrapper of it."""
    kinds, runs = [type(self.sql).__name__], []
    for sql in (self.sql, self.ctx.storage.sql):
        self.ctx.storage.sql.exec("DELETE FROM hits")
        self.sql = sql
        runs.append([await self.hit(limit, window) for _ in range(calls)])
    kinds.append(type(self.sql).__name__)
    self.ctx.storage.sql.exec("DELETE FROM hits")
    old = time.time() - 2 * window  # hits out of the window, more than `limit` of them: deleted together
    for _ in range(limit + 1):
        self.ctx.storage.sql.exec("INSERT INTO hits (at) VALUES (?)", old)
    self.sql = sql_of(self.ctx.storage)
    after = await self.hit(limit, window)
    left = self.ctx.storage.sql.exec("SELECT count(*) AS n FROM hits").one().n
    return {"kinds": kinds, "runs": runs, "after_old": after, "left": left}


RateLimiter.probe_both_ways = _probe_both_ways
'''


def test_the_limiters_statements_on_the_js_sql_storage_give_the_sdk_wrappers_verdicts(bundles, tmp_path):
    copy = tmp_path / "gateway-probe"
    shutil.copytree(bundles(ROOT / "workers" / "gateway"), copy)
    with (copy / "rate_limiter.py").open("a") as fh:
        fh.write(LIMITER_PROBE)
    calls = {"class": "RateLimiter", "method": "probe_both_ways", "args": [3, 60, 5]}  # limit, window, calls
    result = check(ROOT, ROOT / "workers" / "gateway", bundle=copy, durable_object=calls)
    assert result.ok, result.error
    probe = result.raw["durable_object"][0]
    assert probe["kinds"] == ["JsProxy", "_BindingWrapper"]  # the fast path ran, then the SDK's
    fast, sdk = probe["runs"]
    assert [v["allowed"] for v in fast] == [v["allowed"] for v in sdk] == [True, True, True, False, False]
    assert [v["remaining"] for v in fast] == [v["remaining"] for v in sdk] == [2, 1, 0, 0, 0]
    for one, other in zip(fast, sdk, strict=True):
        assert one["limit"] == other["limit"] == 3
        assert abs(one["reset"] - other["reset"]) <= 1
        assert abs(one["retry_after"] - other["retry_after"]) <= 1
        assert isinstance(one["reset"], int)
        assert isinstance(one["retry_after"], int)
    assert probe["after_old"]["allowed"] is True
    assert probe["after_old"]["remaining"] == 2
    assert probe["left"] == 1  # the old hits deleted, this one kept


def test_new_request_and_merged_give_what_the_sdks_request_and_response_give_under_pyodide(bundles, tmp_path):
    result = check(ROOT, DB, bundle=_probed(bundles, tmp_path), rpc=("probe_http", []))
    assert result.ok, result.error
    probe = result.rpc
    assert len(probe["requests"]) == 3
    for fast, slow, kind in probe["requests"]:
        assert fast == slow
        assert kind == "Request"
    assert probe["requests"][0][0][2] == sorted(
        [["accept", "application/json"], ["x-dotdo-principal", '{"id":"u"}'], ["x-request-id", "req_1"]]
    )
    assert len(probe["responses"]) == 4
    for fast, slow in probe["responses"]:
        assert fast == slow
    first = probe["responses"][0][0]
    assert ["set-cookie", "a=1"] in first[2]
    assert ["x-ratelimit-limit", "60"] in first[2]
    assert ["content-type", "text/plain"] in first[2]
    assert probe["responses"][1][0][:2] == [201, "Created"]
    assert probe["responses"][2][0][0] == 204


LIMIT_PROBE = '''

async def _probe_limit(self):
    """`address_limit.admitted` on the JS Ratelimit binding, then through the SDK's wrappers, three calls each."""
    from shared import address_limit

    fast_kind = type(address_limit._js_limiter(self.env, "FRONT_DOOR_LIMITER")).__name__
    fast = [await address_limit.admitted(self.env, "FRONT_DOOR_LIMITER", "ip:fast", worker="w", request_id=None)]
    fast += [await address_limit.admitted(self.env, "FRONT_DOOR_LIMITER", "ip:fast", worker="w", request_id=None)]
    fast += [await address_limit.admitted(self.env, "FRONT_DOOR_LIMITER", "ip:fast", worker="w", request_id=None)]
    saved, address_limit.js = address_limit.js, None  # the general path: the SDK's wrappers
    try:
        sdk = [await address_limit.admitted(self.env, "FRONT_DOOR_LIMITER", "ip:sdk", worker="w", request_id=None)]
        sdk += [await address_limit.admitted(self.env, "FRONT_DOOR_LIMITER", "ip:sdk", worker="w", request_id=None)]
        sdk += [await address_limit.admitted(self.env, "FRONT_DOOR_LIMITER", "ip:sdk", worker="w", request_id=None)]
        missing = await address_limit.admitted(self.env, "NO_SUCH_LIMITER", "ip:x", worker="w", request_id=None)
    finally:
        address_limit.js = saved
    absent = await address_limit.admitted(self.env, "NO_SUCH_LIMITER", "ip:x", worker="w", request_id=None)
    return {"kind": fast_kind, "fast": fast, "sdk": sdk, "missing": missing is None, "absent": absent is None}


Default.probe_limit = _probe_limit
'''


def test_the_address_limit_on_the_js_ratelimit_binding_gives_the_sdk_wrappers_verdicts(bundles, tmp_path):
    copy = tmp_path / "dispatcher-probe"
    shutil.copytree(bundles(ROOT / "dispatcher"), copy)
    with (copy / "entry.py").open("a") as fh:
        fh.write(LIMIT_PROBE)
    limiter = {"FRONT_DOOR_LIMITER": {"kind": "ratelimit", "namespace_id": "1009", "limit": 2, "period": 60}}
    result = check(ROOT, ROOT / "dispatcher", bundle=copy, bindings=limiter, rpc=("probe_limit", []))
    assert result.ok, result.error
    probe = result.rpc
    assert probe["kind"] == "JsProxy"  # the fast path ran first
    assert probe["fast"] == probe["sdk"] == [True, True, False]
    assert probe["missing"] is True
    assert probe["absent"] is True
    keys = [c["key"] for c in result.raw["calls"] if c["method"] == "limit"]
    assert keys == ["unknown"] + ["ip:fast"] * 3 + ["ip:sdk"] * 3  # the /health request before the probe
