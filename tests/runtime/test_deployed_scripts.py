"""Scripts uploaded to the Cloudflare API stand-in run on the local platform (dotdo_dev/platform.py,
dotdo_dev/deployed.py): the served namespace's scripts answer at `<svc>.do`, an upload that cannot start
is refused as Cloudflare refuses it (10021) while the previous one goes on answering, a deleted script
stops, and a restarted platform runs what was deployed. Real processes; the dispatcher in front."""

import json
import stat
from pathlib import Path

import httpx
import pytest

from dotdo_dev.platform import LocalPlatform
from dotdo_dev.testing import multipart_body

ROOT = Path(__file__).resolve().parents[2]
DISPATCHER = ROOT / "dispatcher" / "wrangler.jsonc"
SERVED = "dotdo-development"  # the local dispatcher's DISPATCHER namespace (its env.development)

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


def entry(text: str) -> bytes:
    return (
        "import os\n\n"
        "from workers import Response, WorkerEntrypoint\n\n"
        "import greeting\n\n\n"
        "class Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n"
        f"        return Response(f'{text} {{greeting.WORD}} {{self.env.COLOR}} {{self.env.TOKEN}}')\n"
    ).encode()


def parts(text: str = "v1", *, extra: str = "", bindings: list | None = None) -> list[tuple[str, str, bytes]]:
    metadata = {
        "main_module": "entry.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "bindings": [
            {"type": "plain_text", "name": "COLOR", "text": "blue"},
            {"type": "secret_text", "name": "TOKEN", "text": "s3cret"},
            *(bindings or []),
        ],
    }
    return [
        ("metadata", "application/json", json.dumps(metadata).encode()),
        ("entry.py", "text/x-python", entry(text) + extra.encode()),
        ("python_modules/greeting/__init__.py", "text/x-python", b"WORD = 'hello'\n"),
    ]


class Account:
    """The stand-in, called as the deploy worker calls it."""

    def __init__(self, platform: LocalPlatform) -> None:
        server = platform.cloudflare_api
        base = f"{server.base_url}/accounts/{server.app.account_id}/workers"
        self.client = httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {server.token}"}, timeout=60)

    async def put(self, name: str, items, namespace: str = SERVED) -> httpx.Response:
        body, content_type = multipart_body(items)
        url = f"/dispatch/namespaces/{namespace}/scripts/{name}"
        return await self.client.put(url, content=body, headers={"content-type": content_type})

    async def delete(self, name: str, namespace: str = SERVED) -> httpx.Response:
        return await self.client.delete(f"/dispatch/namespaces/{namespace}/scripts/{name}")


async def answer(platform: LocalPlatform, host: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        return await client.get("/", headers={"host": host})


async def test_an_upload_runs_at_its_host_with_its_vars_secrets_and_own_packages(tmp_path):
    async with LocalPlatform(
        ROOT, configs=[DISPATCHER], state_dir=tmp_path / "state", port=0, cloudflare_api_port=0
    ) as platform:
        assert platform.namespace == SERVED
        account = Account(platform)
        assert (await answer(platform, "hello.do")).status_code == 404  # nothing deployed yet
        reply = await account.put("hello", parts("v1"))
        assert reply.status_code == 200, reply.text
        got = await answer(platform, "hello.do")
        assert (got.status_code, got.text) == (200, "v1 hello blue s3cret")
        folder = platform.deployed["hello"]
        assert (folder / "lib" / "greeting").is_symlink()  # the upload's own package, first on its path
        assert stat.S_IMODE((folder / ".dev.vars").stat().st_mode) == 0o600
        shown = platform.describe()["workers"]["hello"]
        assert shown["deployed"] == {"namespace": SERVED, "bundle": folder.name}
        assert "deployed" not in platform.describe()["workers"]["dispatcher"]  # from source

        # v2 replaces v1 in place; an upload whose top level raises is refused, v2 goes on answering
        assert (await account.put("hello", parts("v2"))).status_code == 200
        assert (await answer(platform, "hello.do")).text == "v2 hello blue s3cret"
        broken = await account.put("hello", parts("v3", extra="\nraise RuntimeError('v3 cannot start')\n"))
        assert broken.status_code == 400
        (error,) = broken.json()["errors"]
        assert error["code"] == 10021
        assert "v3 cannot start" in error["message"]
        assert "s3cret" not in broken.text
        assert (await answer(platform, "hello.do")).text == "v2 hello blue s3cret"
        listed = (await account.client.get(f"/dispatch/namespaces/{SERVED}/scripts")).json()["result"]
        assert [s["id"] for s in listed] == ["hello"]

        # another namespace is stored as Cloudflare would, and not run here
        other = await account.put("elsewhere", parts("x"), namespace="dotdo-production")
        assert other.status_code == 200
        assert "elsewhere" not in platform.deployed
        assert (await answer(platform, "elsewhere.do")).status_code == 404
        await account.client.aclose()

    # a platform started again runs what its namespace holds
    async with LocalPlatform(
        ROOT, configs=[DISPATCHER], state_dir=tmp_path / "state", port=0, cloudflare_api_port=0
    ) as platform:
        assert (await answer(platform, "hello.do")).text == "v2 hello blue s3cret"
        account = Account(platform)
        assert (await account.delete("hello")).status_code == 200
        gone = await answer(platform, "hello.do")
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")
        assert "hello" not in platform.deployed
        assert "hello" not in platform.describe()["workers"]
        await account.client.aclose()


async def test_a_script_named_like_an_account_level_worker_is_stored_and_not_run(tmp_path):
    async with LocalPlatform(
        ROOT, configs=[DISPATCHER], state_dir=tmp_path / "state", port=0, cloudflare_api_port=0
    ) as platform:
        account = Account(platform)
        reply = await account.put("db", parts("impostor"))
        assert reply.status_code == 200, reply.text
        assert "db" not in platform.deployed
        assert "db" not in platform.processes
        await account.client.aclose()


async def test_an_upload_with_a_binding_the_local_platform_cannot_run_is_refused_and_nothing_runs(tmp_path):
    async with LocalPlatform(
        ROOT, configs=[DISPATCHER], state_dir=tmp_path / "state", port=0, cloudflare_api_port=0
    ) as platform:
        account = Account(platform)
        items = parts("v1", bindings=[{"type": "r2_bucket", "name": "FILES", "bucket_name": "files"}])
        reply = await account.put("files", items)
        assert reply.status_code == 400
        assert "r2_bucket" in reply.json()["errors"][0]["message"]
        assert (await account.client.get(f"/dispatch/namespaces/{SERVED}/scripts")).json()["result"] == []
        assert "files" not in platform.processes
        await account.client.aclose()
