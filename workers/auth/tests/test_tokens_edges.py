"""Access tokens at their edges: each limit to the second or the character, the inputs issuing refuses,
tokens of more than three segments, and the options that are keyword-only."""

import dataclasses
from types import SimpleNamespace

import pytest
from jose import jws
from test_tokens import (
    AUD,
    HEADER,
    ISS,
    NOW,
    OLD_SECRET,
    OTHER_SECRET,
    SECRET,
    assert_refused,
    b64url_json,
    good_payload,
    hand_token,
    hs256,
    issue,
    unb64url,
    verify,
)

import tokens
from shared.errors import Unauthorized
from tokens import SigningKeys, issue_access_token, verify_access_token


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys.from_env(SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k2"))


def signed(header_extra: str, payload: dict) -> str:
    """A good token (HEADER plus a `pad` of `header_extra`), HS256-signed with SECRET."""
    return hand_token(HEADER | {"pad": header_extra}, payload)


def token_of_length(length: int) -> str:
    """A good, correctly signed token exactly `length` characters long (padded in its header and payload)."""
    for header_pad in range(4):
        for payload_pad in range(max(0, length * 3 // 4 - 400), length):
            token = signed("h" * header_pad, good_payload(pad="p" * payload_pad))
            if len(token) == length:
                return token
            if len(token) > length:
                break
    raise AssertionError(f"no token of {length} characters")


# --- the length cap, to the character --------------------------------------------------------------


def test_a_token_of_exactly_8192_characters_is_read_and_one_of_8193_is_refused(keys):
    fits = token_of_length(8192)
    assert verify(keys, fits)["sub"] == "user_1"
    assert_refused(keys, token_of_length(8193))


def test_signed_header_takes_a_token_as_long_as_its_max_length_and_no_longer():
    token = hand_token(HEADER, good_payload())
    assert tokens.signed_header(token, "HS256", max_length=len(token)) == HEADER
    with pytest.raises(Unauthorized) as info:
        tokens.signed_header(token, "HS256", max_length=len(token) - 1)
    assert info.value.code == "INVALID_TOKEN"


# --- segments ----------------------------------------------------------------------------------------


def test_a_fourth_segment_is_refused_even_where_jose_would_read_the_token(keys):
    # jose splits off the signature at the last dot and the header at the first, and its base64 decoder
    # skips a stray "." in the payload: this token, signed over all of it, would verify there.
    header = b64url_json(HEADER)
    payload = next(p for n in range(4) if len(p := b64url_json(good_payload(pad="p" * n))) % 4 == 0)
    signing_input = f"{header}.{payload[:8]}.{payload[8:]}"
    token = f"{signing_input}.{hs256(SECRET, signing_input)}"
    assert token.count(".") == 3
    assert b'"sub":"user_1"' in jws.verify(token, SECRET, algorithms=["HS256"])  # the control
    assert_refused(keys, token)


# --- the time claims, to the second --------------------------------------------------------------------


def test_nbf_may_lie_up_to_the_leeway_ahead_and_not_a_second_more(keys):
    current = NOW + 1  # verify's clock
    assert verify(keys, hand_token(HEADER, good_payload(nbf=current + 30)))["sub"] == "user_1"
    assert_refused(keys, hand_token(HEADER, good_payload(nbf=current + 31)))
    assert verify(keys, hand_token(HEADER, good_payload(nbf=current + 5)), leeway=5)["sub"] == "user_1"
    assert_refused(keys, hand_token(HEADER, good_payload(nbf=current + 6)), leeway=5)


def test_iat_may_lie_up_to_the_leeway_ahead_and_not_a_second_more(keys):
    # No nbf: iat is the only claim that says when the token began.
    current = NOW + 1
    assert verify(keys, hand_token(HEADER, good_payload(nbf=None, iat=current + 30)))["sub"] == "user_1"
    assert_refused(keys, hand_token(HEADER, good_payload(nbf=None, iat=current + 31)))
    assert_refused(keys, hand_token(HEADER, good_payload(nbf=None, iat=NOW + 3600)))
    assert_refused(keys, hand_token(HEADER, good_payload(nbf=NOW, iat=NOW + 3600)))  # a good nbf does not excuse it


def test_exp_may_lie_a_day_and_the_leeway_ahead_and_not_a_second_more(keys):
    current = NOW + 1
    assert verify(keys, hand_token(HEADER, good_payload(exp=current + 86400 + 30)))["sub"] == "user_1"
    assert_refused(keys, hand_token(HEADER, good_payload(exp=current + 86400 + 31)))
    assert verify(keys, hand_token(HEADER, good_payload(exp=current + 86400)), leeway=0)["sub"] == "user_1"
    assert_refused(keys, hand_token(HEADER, good_payload(exp=current + 86401)), leeway=0)


@pytest.mark.parametrize("claim", ["iat", "nbf", "exp"])
def test_a_time_claim_below_a_floats_range_is_refused_as_invalid(keys, claim):
    # JSON may write -1e400 out as an integer; it is not a number a token's time can be.
    assert_refused(keys, hand_token(HEADER, good_payload(**{claim: -(10**400)})))


# --- issuing -------------------------------------------------------------------------------------------


def test_a_token_lives_an_hour_by_default(keys):
    claims = verify(keys, issue(keys))
    assert claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize("ttl", [1, 86400])
def test_a_ttl_of_one_second_to_a_day_can_be_issued(keys, ttl):
    token = issue(keys, ttl=ttl)
    assert verify(keys, token, now=NOW, leeway=0)["exp"] == NOW + ttl
    assert_refused(keys, token, "TOKEN_EXPIRED", now=NOW + ttl, leeway=0)


@pytest.mark.parametrize("ttl", [86401, True, 600.0, 0.5])
def test_a_ttl_beyond_a_day_or_not_a_whole_number_of_seconds_cannot_be_issued(keys, ttl):
    with pytest.raises(ValueError, match="ttl"):
        issue(keys, ttl=ttl)


@pytest.mark.parametrize("name", ["subject", "session_id"])
@pytest.mark.parametrize("value", ["", 42, ["user_1"]])
def test_subject_and_session_must_be_non_empty_strings(keys, name, value):
    with pytest.raises(ValueError, match=name):
        issue(keys, **{name: value})


def test_a_jti_carries_at_least_128_random_bits(keys):
    jtis = {verify(keys, issue(keys))["jti"] for _ in range(5)}
    assert len(jtis) == 5
    assert all(len(unb64url(jti)) >= 16 for jti in jtis)


# --- inputs that are not tokens, headers without a usable kid -------------------------------------------


@pytest.mark.parametrize("token", [42, b"x.y.z", ["a", "b", "c"]])
def test_a_token_that_is_not_a_string_is_a_401_not_a_crash(keys, token):
    with pytest.raises(Unauthorized) as info:
        verify_access_token(keys, token, issuer=ISS, audience=AUD, now=NOW + 1)
    assert (info.value.status, info.value.code) == (401, "INVALID_TOKEN")


@pytest.mark.parametrize("kid", ["", 5, ["k2"], {"k": "k2"}, True])
def test_signed_header_refuses_a_kid_that_is_not_a_non_empty_string(kid):
    # sso.py looks a kid up in WorkOS's key set (and refetches it for an unknown one) once this check passes.
    token = hand_token({"alg": "HS256", "typ": "JWT", "kid": kid}, good_payload())
    with pytest.raises(Unauthorized) as info:
        tokens.signed_header(token, "HS256")
    assert info.value.code == "INVALID_TOKEN"


# --- configuration -------------------------------------------------------------------------------------


def test_an_empty_entry_among_the_previous_keys_is_skipped_not_the_end_of_the_list():
    env = SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k3", JWT_PREVIOUS_KEYS=f"k1:{OLD_SECRET},, ,k2:{OTHER_SECRET}")
    keys = SigningKeys.from_env(env)
    assert keys.keys == {"k3": SECRET, "k1": OLD_SECRET, "k2": OTHER_SECRET}
    signed_before = issue(SigningKeys.from_env(SimpleNamespace(JWT_SECRET=OTHER_SECRET, JWT_KEY_ID="k2")))
    assert verify(keys, signed_before)["sub"] == "user_1"


def test_signing_keys_cannot_be_changed_once_checked(keys):
    with pytest.raises(dataclasses.FrozenInstanceError):
        keys.current_kid = "k9"  # a kid with no key: issuing would fail with a KeyError
    with pytest.raises(dataclasses.FrozenInstanceError):
        keys.keys = {}
    assert keys.current_kid == "k2"
    assert verify(keys, issue(keys))["sub"] == "user_1"


# --- keyword-only options ------------------------------------------------------------------------------


def test_the_options_are_keyword_only(keys):
    token = issue_access_token(keys, subject="user_1", session_id="sess_1", issuer=ISS, audience=AUD)  # real clock
    assert verify_access_token(keys, token, issuer=ISS, audience=AUD)["sub"] == "user_1"
    with pytest.raises(TypeError):
        issue_access_token(keys, "user_1", "sess_1", ISS, AUD)
    with pytest.raises(TypeError):
        verify_access_token(keys, token, ISS, AUD)
    with pytest.raises(TypeError):
        tokens.signed_header(token, "HS256", 10_000)
    with pytest.raises(TypeError):
        tokens.check_times(good_payload(), NOW, 30)
