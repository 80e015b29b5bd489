"""auth's key validation under real Pyodide with Cloudflare's SDK (see test_conformance.py for the harness): the
one query it is now (the key joined with its owner, the grants in a `json_group_array` subquery, `?1`/`?2`
placeholders) runs on the D1 stand-in, and the key's first use records `last_used_at`."""

from pathlib import Path

from dotdo_dev.conformance import check

ROOT = Path(__file__).resolve().parents[2]
AUTH = ROOT / "workers" / "auth"
SECRET = "conformance-jwt-secret-0123456789abcdef0123"
KEY = "sk_test_conformance_bootstrap_0123456789abcdefghij"
SECRETS = {"JWT_SECRET": SECRET, "API_KEY_SECRET": SECRET, "BOOTSTRAP_ADMIN_KEY": KEY}


def test_a_key_is_validated_in_one_query_and_its_use_recorded_under_pyodide(bundles):
    result = check(
        ROOT,
        AUTH,
        bundle=bundles(AUTH),
        secrets=SECRETS,
        rpc=("validate_token", [KEY]),
        inspect={"keys": ("AUTH_DB", "SELECT id, permissions, last_used_at FROM api_keys")},
    )
    assert result.ok, result.error
    assert (result.rpc["key_id"], result.rpc["role"], result.rpc["permissions"]) == ("key_bootstrap", "admin", ["*"])
    (row,) = result.raw["inspected"]["keys"]
    assert row["id"] == "key_bootstrap"
    assert row["permissions"] == '["*"]'
    assert row["last_used_at"]
