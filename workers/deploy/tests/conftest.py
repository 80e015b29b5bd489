"""The deploy worker in this process, on a D1 database of its own, with Cloudflare's API mocked (respx).

HTTP routes authenticate through `AUTH_SERVICE`: a stand-in (dotdo_dev.pytest_plugin's `auth`) answers
`validate_token` for the tokens below. `CLOUDFLARE_API_TOKEN` is the secret the worker holds; the
account id is given as the var would be. Cloudflare's API is never reached: `cloudflare` mocks its
upload endpoint with respx, answering the v4 envelope as the API documents it.
"""

import io
import json
import tarfile

import httpx
import pytest
import respx

from dotdo_dev.testing import WorkerHarness, bearer, worker_root

ROOT = worker_root(__file__)  # puts workers/deploy/src on sys.path, as Cloudflare's module root

CF_TOKEN = "cf-secret-token-0123456789abcdefghijklmnopqrstuvwxyz"
ACCOUNT = "0123456789abcdef0123456789abcdef"
API = "https://api.cloudflare.com/client/v4"

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "deployer-token": {
        "id": "usr_ci",
        "type": "user",
        "auth": "api_key",
        "key_id": "key_ci",
        "role": "user",
        "permissions": ["deploy"],
    },
    "prod-token": {
        "id": "usr_release",
        "type": "user",
        "auth": "api_key",
        "key_id": "key_release",
        "role": "user",
        "permissions": ["deploy", "deploy:production"],
    },
    "reader-token": {"id": "usr_reader", "type": "user", "role": "user", "permissions": ["db:read"]},
}
ADMIN, DEPLOYER, PROD, READER = (bearer(t) for t in ("admin-token", "deployer-token", "prod-token", "reader-token"))


@pytest.fixture
def principals():
    return PRINCIPALS


@pytest.fixture
def worker(tmp_path, bindings):
    """deploy with the Cloudflare token set and an account id (the var is empty in wrangler.jsonc)."""
    return WorkerHarness(
        ROOT,
        state_dir=tmp_path,
        bindings=bindings | {"CLOUDFLARE_ACCOUNT_ID": ACCOUNT},
        environ={"CLOUDFLARE_API_TOKEN": CF_TOKEN},
    )


def script_url(service: str, environment: str = "staging") -> str:
    return f"{API}/accounts/{ACCOUNT}/workers/dispatch/namespaces/dotdo-{environment}/scripts/{service}"


def cf_success(service: str, etag: str = "etag-1") -> httpx.Response:
    """Cloudflare's answer to a successful upload (script_update_response: `startup_time_ms` is required)."""
    result = {
        "id": service,
        "tag": "a1b2c3d4e5f6",
        "etag": etag,
        "tags": [f"service:{service}", "env:staging"],
        "created_on": "2026-12-02T08:00:00.000000Z",
        "modified_on": "2026-12-02T08:00:00.000000Z",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "handlers": ["fetch"],
        "has_modules": True,
        "startup_time_ms": 120,
        "usage_model": "standard",
    }
    return httpx.Response(200, json={"success": True, "errors": [], "messages": [], "result": result})


def cf_error(code: int, message: str, status: int = 400) -> httpx.Response:
    return httpx.Response(
        status, json={"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None}
    )


@pytest.fixture
def cloudflare():
    """respx mocking Cloudflare's API (only what a test routes answers; nothing reaches the network)."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


METADATA = {
    "main_module": "entry.py",
    "compatibility_date": "2026-11-01",
    "compatibility_flags": ["python_workers"],
    "bindings": [
        {"type": "plain_text", "name": "SERVICE_NAME", "text": "orders"},
        # built for staging (`target()`'s environment): the auth Worker of staging, as wrangler names it
        {"type": "service", "name": "AUTH_SERVICE", "service": "auth-staging"},
        {"type": "d1", "name": "DB", "id": "1f2e3d4c-0000-4000-8000-000000000000"},
    ],
    "modules": [
        {"name": "entry.py", "type": "text/x-python"},
        {"name": "routes.py", "type": "text/x-python"},
        {"name": "python_modules/shared/__init__.py", "type": "application/octet-stream"},
    ],
}


def make_bundle(files: dict[str, bytes | str] | None = None, metadata=METADATA, *, version: str = "1") -> bytes:
    """A tar.gz laid out as `dotdo build` writes its outdir (`tar -czf - -C outdir .`)."""
    if files is None:
        files = {
            "entry.py": f"# version {version}\nfrom workers import WorkerEntrypoint\n",
            "routes.py": "ROUTES = []\n",
            "python_modules/shared/__init__.py": "",
        }
    if metadata is not None:
        files = {**files, "metadata.json": json.dumps(metadata) if not isinstance(metadata, str) else metadata}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def multipart(metadata: dict | str, bundle: bytes, boundary: str = "dotdo-test-boundary-7f3a") -> tuple[bytes, str]:
    """A multipart/form-data body as curl -F sends it: the metadata part, then the bundle file."""
    meta = metadata if isinstance(metadata, str) else json.dumps(metadata)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n'
            f"Content-Type: application/json\r\n\r\n{meta}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; filename="bundle.tgz"\r\n'
            "Content-Type: application/gzip\r\n\r\n"
        ).encode()
        + bundle
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def target(service: str = "orders", environment: str = "staging", **extra) -> dict:
    return {
        "service": service,
        "environment": environment,
        "version": "1.0.0",
        "commit": "abc1234",
        "branch": "main",
        "author": "ci@example.com",
    } | extra


async def post_deploy(worker, headers: dict, meta: dict | str, bundle: bytes):
    body, content_type = multipart(meta, bundle)
    return await worker.fetch("/deploy", method="POST", headers=headers | {"content-type": content_type}, body=body)
