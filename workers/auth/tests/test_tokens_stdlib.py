"""Our HS256 tokens are made and checked with the standard library: python-jose is not called on that path
(it stays for WorkOS's RS256), tokens interoperate with jose both ways, and the checks jose would have
done loosely are strict here (one spelling of a signature, unpadded base64url only, no `crit`)."""

from types import SimpleNamespace

import pytest
from jose import jws, jwt
from test_tokens import (
    AUD,
    HEADER,
    ISS,
    NOW,
    SECRET,
    assert_refused,
    b64url,
    b64url_json,
    good_payload,
    hand_token,
    hs256,
    issue,
    verify,
)

import tokens
from tokens import SigningKeys


@pytest.fixture
def keys() -> SigningKeys:
    return SigningKeys.from_env(SimpleNamespace(JWT_SECRET=SECRET, JWT_KEY_ID="k2"))


class _NoJose:
    def __getattr__(self, name):
        raise AssertionError(f"python-jose called on the HS256 path ({name})")


def test_hs256_tokens_are_issued_and_verified_without_jose(keys, monkeypatch):
    monkeypatch.setattr(tokens, "jws", _NoJose())
    monkeypatch.setattr(tokens, "jwk", _NoJose())
    token = issue(keys, claims={"role": "user"})
    assert verify(keys, token)["role"] == "user"
    assert_refused(keys, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_our_tokens_and_joses_verify_each_other(keys):
    ours = issue(keys)
    assert b'"sub":"user_1"' in jws.verify(ours, SECRET, algorithms=["HS256"])
    theirs = jwt.encode(good_payload(), SECRET, algorithm="HS256", headers={"kid": "k2"})
    assert verify(keys, theirs)["sub"] == "user_1"


def test_a_signature_in_another_spelling_of_the_same_bytes_is_refused(keys):
    # 32 bytes take 43 base64url characters, whose last carries 2 bits unused: flipping them gives the same
    # bytes (jose's decoder accepts it); a token has one spelling here.
    token = hand_token(HEADER, good_payload())
    assert verify(keys, token)["sub"] == "user_1"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    respelled = token[:-1] + alphabet[last ^ 1]
    assert jws.verify(respelled, SECRET, algorithms=["HS256"])  # the control: the same signature to jose
    assert_refused(keys, respelled)


@pytest.mark.parametrize("where", ["header", "payload", "signature"])
def test_padding_or_characters_outside_base64url_are_refused(keys, where):
    header, payload, signature = hand_token(HEADER, good_payload()).split(".")
    parts = {"header": header, "payload": payload, "signature": signature}
    for bad in (parts[where] + "=", parts[where][:-1] + "+", parts[where][:-1] + "é"):
        token = ".".join(bad if name == where else part for name, part in parts.items())
        assert_refused(keys, token)


def test_a_header_with_crit_is_refused(keys):
    assert_refused(keys, hand_token(HEADER | {"crit": ["exp"]}, good_payload()))


@pytest.mark.parametrize("payload", [b'{"sub":', b"\xff\xfe", b"[" * 2000 + b"]" * 2000, b'{"n":' + b"9" * 5000 + b"}"])
def test_a_signed_payload_that_is_not_a_json_object_is_a_401(keys, payload):
    signing_input = f"{b64url_json(HEADER)}.{b64url(payload)}"
    assert_refused(keys, f"{signing_input}.{hs256(SECRET, signing_input)}")


def test_verification_refuses_before_reading_claims_when_the_signature_is_wrong(keys):
    # The payload is never parsed before the signature checks out (a huge or hostile payload costs nothing).
    signing_input = f"{b64url_json(HEADER)}.{b64url(b'not json at all')}"
    assert_refused(keys, f"{signing_input}.{hs256('another-secret-0123456789abcdef01234', signing_input)}")


def test_issued_tokens_name_the_algorithm_and_key(keys):
    token = issue(keys)
    assert tokens.signed_header(token, "HS256") == {"alg": "HS256", "typ": "JWT", "kid": "k2"}
    assert verify(keys, token, now=NOW)["iss"] == ISS
    assert verify(keys, token, now=NOW)["aud"] == AUD
