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


Default.probe_envelope = _probe_envelope
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
