"""The dispatcher runs inside the platform's own process (runtime/resident.py): what a process of its own gave
it still holds (routing, isolation of its modules, reloads, a failure answered with an envelope, its output
tagged), and no socket of its own exists."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx

from dotdo_dev.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]
CALLEE = ROOT / "tests" / "fixtures" / "workers" / "callee" / "wrangler.jsonc"


def _dispatcher_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "dispatcher"
    shutil.copytree(ROOT / "dispatcher", copy, ignore=shutil.ignore_patterns("python_modules", "tests", ".state"))
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


async def test_the_dispatcher_has_no_process_or_socket_of_its_own_and_leaves_no_modules_behind(tmp_path):
    async with (
        LocalPlatform(ROOT, configs=[ROOT / "dispatcher" / "wrangler.jsonc", CALLEE], state_dir=tmp_path, port=0) as p,
        httpx.AsyncClient(base_url=p.url, timeout=10) as client,
    ):
        reply = await client.get("/health", headers={"Host": "callee.do"})
        assert reply.status_code == 200, reply.text
        described = p.describe()["workers"]["dispatcher"]
        assert described["status"] == "running"
        assert described["process"] == "platform"
        assert described["pid"] == os.getpid()
        assert "dispatcher" not in p.processes
        assert sorted(path.stem for path in p.sockets.glob("*.sock")) == ["callee"]
        # Its modules live in its isolate: no module named as one of its own is left for other code to find.
        assert not {"entry", "dispatch", "routing", "client_limit"} & set(sys.modules)
        assert str(ROOT / "dispatcher" / "src") not in sys.path


async def test_an_edit_reloads_it_a_broken_one_answers_502_envelopes_until_fixed(tmp_path, capsys):
    dispatcher = _dispatcher_copy(tmp_path)
    config = dispatcher / "wrangler.jsonc"
    dispatch = dispatcher / "src" / "dispatch.py"
    async with (
        LocalPlatform(ROOT, configs=[config, CALLEE], state_dir=tmp_path / "state", port=0) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=10) as client,
    ):
        assert (await client.get("/health", headers={"Host": "nowhere.do"})).json()["error"]["code"] == (
            "SERVICE_NOT_DEPLOYED"
        )
        _edit(dispatch, '"SERVICE_NOT_DEPLOYED",', '"NOT_DEPLOYED_HERE",')
        assert await platform.restart(config)
        assert (await client.get("/health", headers={"Host": "nowhere.do"})).json()["error"]["code"] == (
            "NOT_DEPLOYED_HERE"
        )

        _edit(dispatch, "from shared.logs import log\n", "from shared.logs import log\nimport not_a_module_anywhere\n")
        assert not await platform.restart(config)
        described = platform.describe()["workers"]["dispatcher"]
        assert described["status"] == "crashed-on-start"
        assert any("not_a_module_anywhere" in line for line in described["output"])
        broken = await client.get("/health", headers={"Host": "callee.do"})
        assert broken.status_code == 502
        assert broken.json()["error"]["code"] == "DISPATCHER_ERROR"
        assert "not_a_module_anywhere" not in broken.text  # nothing of the failure reaches the client

        _edit(dispatch, "import not_a_module_anywhere\n", "")
        assert await platform.restart(config)
        assert platform.describe()["workers"]["dispatcher"]["status"] == "running"
        assert (await client.get("/health", headers={"Host": "callee.do"})).status_code == 200


async def test_an_exception_in_its_fetch_is_a_502_envelope_and_what_it_prints_is_tagged(tmp_path, capsys):
    dispatcher = _dispatcher_copy(tmp_path)
    _edit(
        dispatcher / "src" / "dispatch.py",
        "    url = urlsplit(request.url)\n",
        "    url = urlsplit(request.url)\n"
        "    print('dispatching', url.path)\n"
        "    if url.path == '/boom':\n"
        "        raise RuntimeError('secret detail')\n",
    )
    configs = [dispatcher / "wrangler.jsonc", CALLEE]
    async with (
        LocalPlatform(ROOT, configs=configs, state_dir=tmp_path / "state", port=0) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=10) as client,
    ):
        boom = await client.get("/boom", headers={"Host": "callee.do"})
        assert boom.status_code == 502
        assert boom.json()["error"]["code"] == "DISPATCHER_ERROR"
        assert "secret detail" not in boom.text
        assert (await client.get("/health", headers={"Host": "callee.do"})).status_code == 200  # still serving
        assert "[dispatcher] dispatching /boom" in capsys.readouterr().err
        assert platform.resident is not None
        assert platform.resident.output[-1] == "dispatching /health"


def test_a_reload_forgets_its_own_and_shareds_modules_and_only_those(tmp_path):
    import types

    from dotdo_dev.config import load_local
    from dotdo_dev.runtime.peers import Peers
    from dotdo_dev.runtime.resident import ResidentWorker
    from dotdo_dev.runtime.state import StateDir

    shared = tmp_path / "shared"
    shared.mkdir()
    config = load_local(ROOT / "dispatcher" / "wrangler.jsonc")
    resident = ResidentWorker(config, state=StateDir(tmp_path / "s"), peers=Peers(tmp_path, "t"), shared=shared)
    planted = {
        "dotdo_test_shared_part": shared / "part.py",  # under shared/: dropped on a reload only
        "dotdo_test_elsewhere": tmp_path / "elsewhere.py",  # anything else: kept
        "entry": tmp_path / "other_worker" / "entry.py",  # a module named as one of its own: dropped
    }
    saved = {name: sys.modules.get(name) for name in planted}
    try:
        for name, path in planted.items():
            module = types.ModuleType(name)
            module.__file__ = str(path)
            sys.modules[name] = module
        resident._forget_modules(with_shared=False)
        assert "entry" not in sys.modules
        assert {"dotdo_test_shared_part", "dotdo_test_elsewhere"} <= set(sys.modules)
        resident._forget_modules(with_shared=True)
        assert "dotdo_test_shared_part" not in sys.modules
        assert "dotdo_test_elsewhere" in sys.modules
    finally:
        for name, module in saved.items():
            sys.modules.pop(name, None)
            if module is not None:
                sys.modules[name] = module
