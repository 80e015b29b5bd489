"""A stand-in for WorkOS's API (respx routes shaped as WorkOS documents them) and a key to sign with."""

import base64
import time

import rsa
from jose import jwt

API = "https://api.workos.com"
CLIENT_ID = "client_01HTESTCLIENT"


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


class Signer:
    """An RSA key pair: its public JWK (as WorkOS's JWKS serves it) and RS256 tokens signed by it."""

    def __init__(self, kid: str = "sso_oidc_key_pair_01", bits: int = 2048) -> None:
        self.kid = kid
        self.public, self.private = rsa.newkeys(bits)
        self.pem = self.private.save_pkcs1().decode()

    @property
    def jwk(self) -> dict:
        public = {"n": _b64(self.public.n), "e": _b64(self.public.e)}
        return {"alg": "RS256", "kty": "RSA", "use": "sig", "kid": self.kid, **public, "x5c": [], "x5t#S256": ""}

    def access_token(self, user_id: str, **claims) -> str:
        now = int(time.time())
        payload = {"iss": API, "sub": user_id, "sid": "session_01", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(payload, self.pem, algorithm="RS256", headers={"kid": self.kid})


def mock_workos(router, signer: Signer, user: dict, *, organization_id: str | None = None, token: str | None = None):
    """Routes for the code exchange and the JWKS; returns the exchange route (to count calls)."""
    router.get(f"{API}/sso/jwks/{CLIENT_ID}").respond(json={"keys": [signer.jwk]})
    body = {
        "user": user,
        "organization_id": organization_id,
        "access_token": token or signer.access_token(user["id"]),
        "refresh_token": "workos_refresh_01",
        "authentication_method": "SSO",
    }
    return router.post(f"{API}/user_management/authenticate").respond(json=body)


def workos_user(user_id: str, email: str) -> dict:
    return {
        "object": "user",
        "id": user_id,
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email_verified": True,
        "profile_picture_url": None,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
    }
