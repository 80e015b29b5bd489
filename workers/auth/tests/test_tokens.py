"""Access tokens: issue/verify round trip, key rotation, and every way a token must be refused."""

import base64
import hashlib
import hmac
import json
from types import SimpleNamespace

import pytest
from jose import jwt

import tokens
from shared.errors import AppError, Unauthorized
from tokens import SigningKeys, issue_access_token, verify_access_token

SECRET = "current-secret-0123456789abcdef0123456789abcdef"
OLD_SECRET = "previous-secret-0123456789abcdef0123456789abcd"
OTHER_SECRET = "someone-elses-secret-0123456789abcdef012345678"
ISS = "https://auth.test"
AUD = "dotdo-test"
NOW = 1_800_000_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def hs256(secret: str, signing_input: str) -> str:
    return b64url(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())


def hand_token(header: dict, payload: dict, secret: str | None = SECRET) -> str:
    """A token built by hand: HS256-signed with `secret` whatever the header says (None: no signature)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    return f"{signing_input}.{hs256(secret, signing_input) if secret else ''}"


def good_payload(**overrides) -> dict:
    payload = {"iss": ISS, "aud": AUD, "sub": "user_1", "sid": "sess_1", "iat": NOW, "nbf": NOW, "exp": NOW + 600}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys.from_env(
        SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k2", JWT_PREVIOUS_KEYS=f"k1:{OLD_SECRET}")
    )


def issue(keys: SigningKeys, **kwargs) -> str:
    args = {"subject": "user_1", "session_id": "sess_1", "issuer": ISS, "audience": AUD, "now": NOW} | kwargs
    return issue_access_token(keys, **args)


def verify(keys: SigningKeys, token: str, **kwargs) -> dict:
    args = {"issuer": ISS, "audience": AUD, "now": NOW + 1} | kwargs
    return verify_access_token(keys, token, **args)


def assert_refused(keys: SigningKeys, token: str, code: str = "INVALID_TOKEN", **kwargs) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        verify(keys, token, **kwargs)
    err = info.value
    assert err.status == 401
    assert err.code == code
    assert err.details is None
    if token:
        assert token not in err.message
    return err


# --- round trip ------------------------------------------------------------------------------------


def test_round_trip(keys):
    token = issue(keys, claims={"role": "admin", "org_id": "org_1"}, ttl=900)
    header = json.loads(unb64url(token.split(".")[0]))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "k2"}

    claims = verify(keys, token)
    assert claims["iss"] == ISS
    assert claims["aud"] == AUD
    assert claims["sub"] == "user_1"
    assert claims["sid"] == "sess_1"
    assert claims["iat"] == NOW
    assert claims["nbf"] == NOW
    assert claims["exp"] == NOW + 900
    assert claims["role"] == "admin"
    assert claims["org_id"] == "org_1"
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16


def test_jti_is_random(keys):
    assert verify(keys, issue(keys))["jti"] != verify(keys, issue(keys))["jti"]


def test_verifies_with_real_clock_by_default(keys):
    token = issue_access_token(keys, subject="u", session_id="s", issuer=ISS, audience=AUD)
    assert verify_access_token(keys, token, issuer=ISS, audience=AUD)["sub"] == "u"


@pytest.mark.parametrize("registered", sorted(tokens.REGISTERED_CLAIMS))
def test_claims_cannot_override_registered(keys, registered):
    with pytest.raises(ValueError, match=registered):
        issue(keys, claims={registered: "x"})


@pytest.mark.parametrize("ttl", [0, -5])
def test_ttl_must_be_positive(keys, ttl):
    with pytest.raises(ValueError, match="ttl"):
        issue(keys, ttl=ttl)


# --- rotation --------------------------------------------------------------------------------------


def test_token_of_previous_key_still_verifies_after_rotation():
    before = SigningKeys.from_env(SimpleNamespace(JWT_SECRET=OLD_SECRET, JWT_KEY_ID="k1"))
    old_token = issue(before)
    after = SigningKeys.from_env(
        SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k2", JWT_PREVIOUS_KEYS=f"k1:{OLD_SECRET}")
    )
    assert verify(after, old_token)["sub"] == "user_1"
    # Once the previous key is dropped, the old token is refused.
    dropped = SigningKeys.from_env(SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k2"))
    assert_refused(dropped, old_token)


def test_previous_keys_never_sign(keys):
    token = issue(keys)
    assert json.loads(unb64url(token.split(".")[0]))["kid"] == "k2"
    signing_input, signature = token.rsplit(".", 1)
    assert signature == hs256(SECRET, signing_input)
    assert signature != hs256(OLD_SECRET, signing_input)


def test_previous_key_cannot_sign_as_current_kid(keys):
    # Signed with the previous secret but labelled with the current kid: the kid's own key must match.
    assert_refused(keys, hand_token({"alg": "HS256", "typ": "JWT", "kid": "k2"}, good_payload(), OLD_SECRET))


@pytest.mark.parametrize("header", [{"alg": "HS256", "typ": "JWT", "kid": "k9"}, {"alg": "HS256", "typ": "JWT"}])
def test_unknown_or_missing_kid_is_refused(keys, header):
    assert_refused(keys, hand_token(header, good_payload(), SECRET))


def test_from_env_defaults_and_previous_keys():
    keys = SigningKeys.from_env(SimpleNamespace(JWT_SECRET=SECRET))
    assert keys.current_kid == "k1"
    assert keys.keys == {"k1": SECRET}
    keys = SigningKeys.from_env(
        SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k3", JWT_PREVIOUS_KEYS=f" k1:{OLD_SECRET} , k2:{OTHER_SECRET} ,")
    )
    assert keys.current_kid == "k3"
    assert keys.keys == {"k3": SECRET, "k1": OLD_SECRET, "k2": OTHER_SECRET}
    assert SECRET not in repr(keys)


# --- refused tokens --------------------------------------------------------------------------------


def test_tampered_payload_is_refused(keys):
    token = issue(keys)
    header, payload, signature = token.split(".")
    claims = json.loads(unb64url(payload))
    claims["sub"] = "user_admin"
    assert_refused(keys, f"{header}.{b64url_json(claims)}.{signature}")


def test_tampered_header_is_refused(keys):
    token = issue(keys)
    _, payload, signature = token.split(".")
    assert_refused(keys, f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{payload}.{signature}")


def test_signed_with_another_secret_is_refused(keys):
    other = SigningKeys.from_env(SimpleNamespace(JWT_SECRET=OTHER_SECRET, JWT_KEY_ID="k2"))
    assert_refused(keys, issue(other))


def test_expired_token(keys):
    token = issue(keys, ttl=60)
    assert verify(keys, token, now=NOW + 60 + 29)["sub"] == "user_1"  # within the leeway
    assert_refused(keys, token, "TOKEN_EXPIRED", now=NOW + 60 + 30)
    assert_refused(keys, token, "TOKEN_EXPIRED", now=NOW + 10_000)
    assert_refused(keys, token, "TOKEN_EXPIRED", now=NOW + 61, leeway=0)


def test_not_yet_valid_token(keys):
    token = issue(keys, now=NOW + 3600)
    assert_refused(keys, token, now=NOW)
    assert verify(keys, token, now=NOW + 3600 - 10)["sub"] == "user_1"  # within the leeway


def test_nbf_in_future_is_refused(keys):
    assert_refused(keys, hand_token({"alg": "HS256", "typ": "JWT", "kid": "k2"}, good_payload(nbf=NOW + 3600)))


def test_wrong_audience(keys):
    assert_refused(keys, issue(keys, audience="another-app"))


def test_wrong_issuer(keys):
    assert_refused(keys, issue(keys, issuer="https://evil.test"))


def test_hand_built_good_token_verifies(keys):
    # The helpers below build tokens right: this one differs from the refused ones only in what they test.
    assert verify(keys, hand_token({"alg": "HS256", "typ": "JWT", "kid": "k2"}, good_payload()))["sub"] == "user_1"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", None])
def test_alg_none_is_refused(keys, alg):
    header = {"alg": alg, "typ": "JWT", "kid": "k2"}
    assert_refused(keys, hand_token(header, good_payload(), secret=None))
    assert_refused(keys, hand_token(header, good_payload(), secret=SECRET))


def test_header_without_alg_is_refused(keys):
    assert_refused(keys, hand_token({"typ": "JWT", "kid": "k2"}, good_payload()))


def test_hs512_token_is_refused(keys):
    token = jwt.encode(good_payload(), SECRET, algorithm="HS512", headers={"kid": "k2"})
    assert json.loads(unb64url(token.split(".")[0]))["alg"] == "HS512"
    assert_refused(keys, token)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "hs256", "HS384"])
def test_other_algorithms_are_refused(keys, alg):
    # Signed with HMAC-SHA256 and the right secret: only the label differs from a good token.
    assert_refused(keys, hand_token({"alg": alg, "typ": "JWT", "kid": "k2"}, good_payload()))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "x.y.z",
        "a.b.c.d",
        "...",
        "not a token",
        "x" * 100_000,
        "eyJ" + "A" * 20_000 + ".eyJ.sig",
        b64url(b"[1,2]") + "." + b64url_json(good_payload()) + ".sig",
        b64url_json({"alg": "HS256", "kid": "k2"}) + ".%%%." + "sig",
    ],
)
def test_garbage_is_refused(keys, token):
    assert_refused(keys, token)


def test_non_string_token_is_refused(keys):
    with pytest.raises(Unauthorized) as info:
        verify_access_token(keys, None, issuer=ISS, audience=AUD)  # type: ignore[arg-type]
    assert info.value.code == "INVALID_TOKEN"


def test_payload_not_an_object_is_refused(keys):
    header = b64url_json({"alg": "HS256", "typ": "JWT", "kid": "k2"})
    signing_input = f"{header}.{b64url(b'[1, 2, 3]')}"
    assert_refused(keys, f"{signing_input}.{hs256(SECRET, signing_input)}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": None},
        {"sid": None},
        {"sub": ""},
        {"sid": 42},
        {"exp": None},
        {"exp": "9999999999"},
        {"exp": True},
        {"iat": None},
        {"iss": None},
        {"aud": None},
    ],
)
def test_missing_or_malformed_claims_are_refused(keys, overrides):
    assert_refused(keys, hand_token({"alg": "HS256", "typ": "JWT", "kid": "k2"}, good_payload(**overrides)))


def test_audience_list_containing_ours_is_accepted(keys):
    token = hand_token({"alg": "HS256", "typ": "JWT", "kid": "k2"}, good_payload(aud=["other", AUD]))
    assert verify(keys, token)["sub"] == "user_1"
    assert_refused(keys, hand_token({"alg": "HS256", "typ": "JWT", "kid": "k2"}, good_payload(aud=["other"])))


def test_unauthorized_carries_bearer_challenge(keys):
    err = assert_refused(keys, "x.y.z")
    assert "invalid_token" in err.headers()["www-authenticate"]


# --- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        SimpleNamespace(),
        SimpleNamespace(JWT_SECRET=None),
        SimpleNamespace(JWT_SECRET=""),
        SimpleNamespace(JWT_SECRET="short-secret-value-abc"),
        SimpleNamespace(JWT_SECRET="x" * 31),
        SimpleNamespace(JWT_SECRET=SECRET, JWT_PREVIOUS_KEYS="no-colon-here-0123456789abcdef0123456789"),
        SimpleNamespace(JWT_SECRET=SECRET, JWT_PREVIOUS_KEYS="k0:tooshort-oldsecret"),
        SimpleNamespace(JWT_SECRET=SECRET, JWT_PREVIOUS_KEYS=f":{OLD_SECRET}"),
        SimpleNamespace(JWT_SECRET=SECRET, JWT_PREVIOUS_KEYS=f"k1:{OLD_SECRET}"),  # kid clashes with the current one
    ],
)
def test_from_env_not_configured(env):
    with pytest.raises(AppError) as info:
        SigningKeys.from_env(env)
    err = info.value
    assert err.status == 503
    assert err.code == "AUTH_NOT_CONFIGURED"
    text = f"{err.message} {err.details} {err!r}"
    for name in ("JWT_SECRET", "JWT_PREVIOUS_KEYS"):
        value = getattr(env, name, None)
        if value:
            assert value not in text
    assert "short-secret-value-abc" not in text
    assert "tooshort-oldsecret" not in text


def test_signing_keys_must_contain_current_kid():
    with pytest.raises(AppError) as info:
        SigningKeys(current_kid="k9", keys={"k1": SECRET})
    assert info.value.code == "AUTH_NOT_CONFIGURED"


# --- numbers, lifetimes, sizes -------------------------------------------------------------------------

HEADER = {"alg": "HS256", "typ": "JWT", "kid": "k2"}


@pytest.mark.parametrize(
    "exp",
    [float("inf"), float("-inf"), float("nan"), 10**400, "Infinity", [NOW + 600], {"n": NOW + 600}, 1e400],
    ids=["Infinity", "-Infinity", "NaN", "int-1e400", "string", "list", "object", "float-1e400"],
)
def test_exp_must_be_a_finite_number(keys, exp):
    assert_refused(keys, hand_token(HEADER, good_payload(exp=exp)))


@pytest.mark.parametrize("claim", ["iat", "nbf"])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400, "1800000000"])
def test_iat_and_nbf_must_be_finite_numbers(keys, claim, value):
    assert_refused(keys, hand_token(HEADER, good_payload(**{claim: value})))


@pytest.mark.parametrize("exp", [NOW + tokens.MAX_LIFETIME + 60, NOW + 10**12, 1e300, 2**63])
def test_exp_too_far_ahead_is_refused(keys, exp):
    # Signed with the right key: only the lifetime is wrong. Were it accepted, it would never expire.
    assert_refused(keys, hand_token(HEADER, good_payload(exp=exp)))


def test_exp_up_to_the_maximum_lifetime_is_accepted(keys):
    token = hand_token(HEADER, good_payload(exp=NOW + 1 + tokens.MAX_LIFETIME))
    assert verify(keys, token, now=NOW + 1)["sub"] == "user_1"


def test_ttl_beyond_the_maximum_lifetime_cannot_be_issued(keys):
    with pytest.raises(ValueError, match="ttl"):
        issue(keys, ttl=tokens.MAX_LIFETIME + 1)
    assert verify(keys, issue(keys, ttl=tokens.MAX_LIFETIME))["sub"] == "user_1"


def test_a_good_token_over_the_length_cap_is_refused(keys):
    fits = issue(keys, claims={"pad": "x" * (tokens.MAX_TOKEN_LENGTH * 3 // 4 - 400)})
    assert len(fits) <= tokens.MAX_TOKEN_LENGTH
    assert verify(keys, fits)["sub"] == "user_1"  # the control: a long token within the cap
    too_long = issue(keys, claims={"pad": "x" * (tokens.MAX_TOKEN_LENGTH * 3 // 4)})
    assert len(too_long) > tokens.MAX_TOKEN_LENGTH
    assert_refused(keys, too_long)


def test_signing_keys_need_secrets_of_32_characters():
    assert SigningKeys(current_kid="k1", keys={"k1": "s" * 32}).current_secret == "s" * 32
    assert SigningKeys.from_env(SimpleNamespace(JWT_SECRET="s" * 32)).current_kid == "k1"
    for keys in ({"k1": "s" * 31}, {"k1": SECRET, "k0": "s" * 31}, {"k1": SECRET, "": SECRET}):
        with pytest.raises(AppError) as info:
            SigningKeys(current_kid="k1", keys=keys)
        assert info.value.code == "AUTH_NOT_CONFIGURED"
    with pytest.raises(AppError):
        SigningKeys.from_env(SimpleNamespace(JWT_SECRET=SECRET, JWT_PREVIOUS_KEYS="k0:" + "s" * 31))
    assert SigningKeys.from_env(SimpleNamespace(JWT_SECRET=SECRET, JWT_PREVIOUS_KEYS="k0:" + "s" * 32)).keys["k0"]


@pytest.mark.parametrize("alg", ["none", "HS384", "HS512", "RS256", "hs256", None, 256])
def test_signed_header_pins_the_algorithm_itself(alg):
    # jose's verify would refuse these too; the header check must not rely on it (sso.py fetches
    # WorkOS's keys only after it).
    token = hand_token({"alg": alg, "typ": "JWT", "kid": "k2"}, good_payload())
    with pytest.raises(Unauthorized) as info:
        tokens.signed_header(token, "HS256")
    assert info.value.code == "INVALID_TOKEN"
    assert tokens.signed_header(hand_token(HEADER, good_payload()), "HS256") == HEADER
