"""Access tokens: short-lived JWTs signed with HS256, each naming its key (`kid`) so keys can rotate.

    keys = SigningKeys.from_env(env)                 # JWT_SECRET, JWT_KEY_ID, JWT_PREVIOUS_KEYS
    token = issue_access_token(keys, subject=user_id, session_id=sid, issuer=iss, audience=aud)
    claims = verify_access_token(keys, token, issuer=iss, audience=aud)

Rotation: JWT_SECRET (id JWT_KEY_ID) signs; JWT_PREVIOUS_KEYS ("kid:secret,kid2:secret2") only
verifies, so tokens signed before a rotation stay valid until they expire.

Verification trusts nothing in the token before its signature is checked: the header must say
`alg: HS256` (never `none`, never another algorithm) and name a known `kid`; then the signature is
checked with that key alone, and the time claims against `now` (so tests can move the clock): each
a finite number (never Infinity, NaN, a string or an integer past a float's range), `exp` at most
`MAX_LIFETIME` (a day) ahead. Every failure is a 401 `INVALID_TOKEN` (or `TOKEN_EXPIRED`) whose
message carries no token text.

Our HS256 tokens are signed and verified with the standard library alone (`hmac`, `hashlib`, `base64`,
`json`; the signature compared in constant time). python-jose is for WorkOS's RS256 tokens only
(`verified_claims`, called by `sso.py`). It is imported at the top level all the same: on Cloudflare the
top level runs once at deploy and is kept in the memory snapshot, so no isolate imports it on a request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from jose import jwk, jws
from jose.exceptions import JOSEError

from shared.errors import AppError, Unauthorized
from shared.macs import hmac_sha256
from shared.settings import setting

ALGORITHM = "HS256"
MIN_SECRET_LENGTH = 32
DEFAULT_KEY_ID = "k1"
#: Claims this module sets itself; callers' extra claims may not replace them.
REGISTERED_CLAIMS = frozenset({"iss", "aud", "sub", "sid", "iat", "nbf", "exp", "jti"})
#: Longest token worth looking at (a real one is a few hundred bytes).
MAX_TOKEN_LENGTH = 8192
#: How far ahead an `exp` may lie (seconds): a token claiming to live longer is refused, not trusted for ever.
MAX_LIFETIME = 86400
#: One segment of a compact JWS: unpadded base64url (RFC 7515), nothing else.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


def _not_configured() -> AppError:
    return AppError("JWT signing is not configured", code="AUTH_NOT_CONFIGURED", status=503)


def invalid_token() -> Unauthorized:
    """The 401 for a token that fails any check (one message for all: no oracle for an attacker)."""
    return Unauthorized("Invalid token", code="INVALID_TOKEN")


def expired_token() -> Unauthorized:
    return Unauthorized("Token expired", code="TOKEN_EXPIRED")


@dataclass(frozen=True)
class SigningKeys:
    """The key that signs (`current_kid`) and every key that verifies (`keys`: kid -> secret)."""

    current_kid: str
    keys: dict[str, str] = field(repr=False)  # secrets: never in a repr or a log line

    def __post_init__(self) -> None:
        if not self.current_kid or self.current_kid not in self.keys:
            raise _not_configured()
        if any(not kid or len(secret) < MIN_SECRET_LENGTH for kid, secret in self.keys.items()):
            raise _not_configured()

    @property
    def current_secret(self) -> str:
        return self.keys[self.current_kid]

    @classmethod
    def from_env(cls, env: Any) -> SigningKeys:
        """Keys from `JWT_SECRET` (+ `JWT_KEY_ID`, default "k1") and `JWT_PREVIOUS_KEYS`.

        A missing or short secret, or a malformed previous-keys list, is a 503
        `AUTH_NOT_CONFIGURED` whose message names no value.
        """
        secret = setting(env, "JWT_SECRET")
        if secret is None or len(secret) < MIN_SECRET_LENGTH:
            raise _not_configured()
        current_kid = setting(env, "JWT_KEY_ID") or DEFAULT_KEY_ID
        keys = {current_kid: secret}
        for entry in (setting(env, "JWT_PREVIOUS_KEYS") or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            kid, sep, old_secret = entry.partition(":")
            kid, old_secret = kid.strip(), old_secret.strip()
            if not sep or not kid or kid in keys or len(old_secret) < MIN_SECRET_LENGTH:
                raise _not_configured()
            keys[kid] = old_secret
        return cls(current_kid=current_kid, keys=keys)


def issue_access_token(
    keys: SigningKeys,
    *,
    subject: str,
    session_id: str,
    issuer: str,
    audience: str,
    claims: dict | None = None,
    ttl: int = 3600,
    now: float | None = None,
) -> str:
    """A signed JWT for `subject` in session `session_id`, valid for `ttl` seconds from `now`.

    Raises ValueError if `claims` tries to set a registered claim, or on an empty subject/session
    or a non-positive ttl.
    """
    if not subject or not isinstance(subject, str):
        raise ValueError("subject must be a non-empty string")
    if not session_id or not isinstance(session_id, str):
        raise ValueError("session_id must be a non-empty string")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 < ttl <= MAX_LIFETIME:
        raise ValueError(f"ttl must be a positive number of seconds, at most {MAX_LIFETIME}")
    extra = dict(claims or {})
    overridden = sorted(REGISTERED_CLAIMS & extra.keys())
    if overridden:
        raise ValueError(f"claims may not override registered claims: {', '.join(overridden)}")

    iat = int(time.time() if now is None else now)
    payload = {
        **extra,
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "sid": session_id,
        "iat": iat,
        "nbf": iat,
        "exp": iat + ttl,
        "jti": secrets.token_urlsafe(16),
    }
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": keys.current_kid}
    signing_input = f"{_b64_json(header)}.{_b64_json(payload)}"
    return f"{signing_input}.{_b64encode(_hs256(keys.current_secret, signing_input))}"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_json(value: dict) -> str:
    return _b64encode(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())


def _b64decode(segment: str) -> bytes:
    """The bytes of an unpadded base64url segment, or 401 (any other character, or an impossible length)."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise invalid_token()
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise invalid_token() from None


def _json_object(segment: str) -> dict:
    """The JSON object a segment encodes, or 401."""
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, an integer of too many digits, nesting too deep
        raise invalid_token() from None
    if not isinstance(value, dict):
        raise invalid_token()
    return value


def _hs256(secret: str, signing_input: str) -> bytes:
    return hmac_sha256(secret.encode(), signing_input.encode("ascii"))


def _is_number(value: Any) -> bool:
    """A finite JSON number (not a bool, not Infinity/NaN, not an integer beyond a float's range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (JSON allows 1e400 written out)
        return False


# -- the checks every JWT we accept goes through (ours here, WorkOS's in sso.py) ----------------------


def signed_header(token: Any, algorithm: str, *, max_length: int = MAX_TOKEN_LENGTH) -> dict:
    """The (not yet verified) header of a compact JWS whose `alg` is exactly `algorithm`, or 401.

    Pinning the algorithm refuses `none` (no signature) and algorithm confusion (an RSA public
    key used as an HMAC secret).
    """
    if not isinstance(token, str) or not token or len(token) > max_length or token.count(".") != 2:
        raise invalid_token()
    header = _json_object(token.partition(".")[0])
    if header.get("alg") != algorithm or "crit" in header:  # no extension we would have to understand
        raise invalid_token()
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise invalid_token()
    return header


def verified_claims(token: str, key_material: Any, algorithm: str) -> dict:
    """The claims of `token` once its signature checks out with `key_material` under `algorithm`, or 401.

    python-jose: for WorkOS's RS256 tokens (`sso.py`); our HS256 tokens never come here.
    """
    try:
        key = jwk.construct(key_material, algorithm)  # the algorithm is ours, never the key's or the token's
        claims = json.loads(jws.verify(token, key, algorithms=[algorithm]))
    except (JOSEError, ValueError, TypeError, UnicodeError):
        raise invalid_token() from None
    if not isinstance(claims, dict):
        raise invalid_token()
    return claims


def check_times(
    claims: dict, *, now: float | None, leeway: int, iat_required: bool = True, max_lifetime: int = MAX_LIFETIME
) -> None:
    """401 unless `exp` (required, `TOKEN_EXPIRED` once past, at most `max_lifetime` ahead), `nbf` and `iat`
    allow `now`."""
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    if not _is_number(exp) or any(v is not None and not _is_number(v) for v in (iat, nbf)):
        raise invalid_token()
    if iat_required and iat is None:
        raise invalid_token()
    current = time.time() if now is None else now
    if current >= exp + leeway:
        raise expired_token()
    if exp > current + max_lifetime + leeway:
        raise invalid_token()
    if (nbf is not None and current + leeway < nbf) or (iat is not None and current + leeway < iat):
        raise invalid_token()


def verify_access_token(
    keys: SigningKeys, token: str, *, issuer: str, audience: str, now: float | None = None, leeway: int = 30
) -> dict:
    """The claims of `token` if it is a valid access token of ours; else a 401 (`INVALID_TOKEN`/`TOKEN_EXPIRED`)."""
    kid = signed_header(token, ALGORITHM)["kid"]  # HS256 exactly: never `none`, never another algorithm
    if kid not in keys.keys:
        raise invalid_token()
    header, payload, signature = token.split(".")
    if not (_SEGMENT.fullmatch(payload) and _SEGMENT.fullmatch(signature)):
        raise invalid_token()
    expected = _b64encode(_hs256(keys.keys[kid], f"{header}.{payload}"))  # only this kid's key
    if not hmac.compare_digest(expected.encode(), signature.encode()):  # constant time; one spelling only
        raise invalid_token()
    claims = _json_object(payload)
    for name in ("sub", "sid"):
        value = claims.get(name)
        if not isinstance(value, str) or not value:
            raise invalid_token()
    check_times(claims, now=now, leeway=leeway)
    if claims.get("iss") != issuer:
        raise invalid_token()
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise invalid_token()
    return claims
