"""A worker that is not one of the platform's services, at the front door: alone (`dotdo dev` in its folder) and
beside the services (`make dev`). It gets Cloudflare's request body limit (100 MB, not the services' 1 MiB), the
Content-Length its HEAD answers name, and its own uncaught exception is a 500 that does not show what it raised."""

from pathlib import Path

import httpx
import pytest

from dotdo_dev.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]

ENTRY = """from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/boom"):
            raise RuntimeError("the secret detail of a failure")
        if request.method == "HEAD":
            return Response(None, headers={"content-length": "1234", "x-kind": "head"})
        if request.method == "POST":
            return Response(str(len(await request.bytes())))
        return Response("x" * 1234)
"""

CONFIG = """name = "outsider"
main = "src/entry.py"
compatibility_date = "2025-11-02"
compatibility_flags = ["python_workers"]
"""

TWO_MIB = b"y" * (2 * 1024 * 1024)


@pytest.fixture
def outsider(tmp_path):
    folder = tmp_path / "outsider"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "entry.py").write_text(ENTRY)
    (folder / "wrangler.toml").write_text(CONFIG)
    return folder / "wrangler.toml"


async def test_alone_at_the_front(outsider, tmp_path):
    platform = LocalPlatform(
        ROOT,
        configs=[outsider],
        state_dir=tmp_path / "state",
        port=0,
        front_worker="outsider",
        cloudflare_api_port=None,
    )
    async with platform, httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        boom = await client.get("/boom")
        head = await client.head("/")
        posted = await client.post("/", content=TWO_MIB)
        got = await client.get("/")
    assert boom.status_code == 500
    assert boom.json()["error"]["code"] == "WORKER_EXCEPTION"
    assert "secret detail" not in boom.text
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1234", b"")
    assert head.headers["x-kind"] == "head"
    assert (posted.status_code, posted.text) == (200, str(len(TWO_MIB)))  # Cloudflare's limit, not 1 MiB
    assert (got.headers["content-length"], len(got.content)) == ("1234", 1234)


async def test_beside_the_services(outsider, tmp_path):
    configs = [ROOT / "dispatcher" / "wrangler.jsonc", ROOT / "workers" / "db" / "wrangler.jsonc", outsider]
    platform = LocalPlatform(ROOT, configs=configs, state_dir=tmp_path / "state", port=0, cloudflare_api_port=None)
    async with platform, httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        head = await client.head("/", headers={"host": "outsider.do"})
        posted = await client.post("/", content=TWO_MIB, headers={"host": "outsider.do"})
        refused = await client.post("/things", content=TWO_MIB, headers={"host": "db.do"})
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1234", b"")
    assert (posted.status_code, posted.text) == (200, str(len(TWO_MIB)))
    assert refused.status_code == 413  # a platform service keeps its own 1 MiB limit
    assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
