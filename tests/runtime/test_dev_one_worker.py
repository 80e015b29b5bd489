"""`dotdo dev` in a worker's folder (outside this repository): that worker alone, as `pywrangler dev` serves
it, with its own pyproject.toml dependencies installed for it (cached per set), `Ready on <url>` printed
once it answers, the scheduled dev URL running its `scheduled`, and requires-python checked."""

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from dotdo_dev.testing import start_dev, stop_dev

ROOT = Path(__file__).resolve().parents[2]

ENTRY = """from workers import Response, WorkerEntrypoint

import tinydep


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(f"{tinydep.GREETING} {self.env.WHO}")

    async def scheduled(self, controller, env, ctx):
        print(f"scheduled {controller.cron}")
"""

TOML = """name = "solo"
main = "src/entry.py"
compatibility_date = "2026-11-01"
compatibility_flags = ["python_workers"]

[vars]
WHO = "from solo"
"""


def tiny_wheel(folder: Path) -> Path:
    """A wheel of `tinydep` 1.0 (made by hand: no build backend, no network)."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinydep-1.0-py3-none-any.whl"
    files = {
        "tinydep/__init__.py": b'GREETING = "hello"\n',
        "tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinydep-1.0.dist-info/RECORD,,")
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("tinydep-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture
def solo(tmp_path):
    folder = tmp_path / "solo"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "entry.py").write_text(ENTRY)
    (folder / "wrangler.toml").write_text(TOML)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "solo"\nversion = "0.1.0"\nrequires-python = ">=3.12"\n'
        'dependencies = ["workers-py", "tinydep==1.0"]\n'
    )
    return folder


def environment(tmp_path: Path) -> dict[str, str]:
    """pip offline from a folder holding tinydep's wheel; a cache of our own; the repo's tooling importable."""
    return {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tiny_wheel(tmp_path / "wheels").parent),
        "DOTDO_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(ROOT),
    }


def test_a_worker_alone_with_its_own_dependencies(solo, tmp_path):
    env = environment(tmp_path)
    proc, url = start_dev(solo, env)
    try:
        answer = httpx.get(f"{url}/anything", headers={"host": "whatever.example"}, timeout=10)
        assert (answer.status_code, answer.text) == (200, "hello from solo")
        scheduled = httpx.get(f"{url}/cdn-cgi/handler/scheduled", params={"cron": "5 * * * *"}, timeout=10)
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["data"]["worker"] == "solo"
    finally:
        output = stop_dev(proc)
    assert "scheduled 5 * * * *" in output
    installed = list((tmp_path / "cache" / "worker-deps").glob("*/tinydep/__init__.py"))
    assert len(installed) == 1  # the set's folder, kept for the next run
    assert (solo / ".state").is_dir()  # outside the repository: its own state folder
    # a second run needs no index at all: the set's folder is reused as it is
    env["PIP_FIND_LINKS"] = str(tmp_path / "no-such-folder")
    proc, url = start_dev(solo, env)
    try:
        assert httpx.get(url, timeout=10).text == "hello from solo"
    finally:
        stop_dev(proc)


def refused(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`dotdo dev` in `folder`, expected to stop before serving: what it said."""
    return subprocess.run(
        [sys.executable, "-m", "dotdo_dev", "dev", "--port", "0", "--no-reload"],
        cwd=folder,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_requires_python_that_excludes_the_workers_python_is_refused(solo, tmp_path):
    pyproject = solo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(">=3.12", "<3.12"))
    result = refused(solo, tmp_path)
    assert result.returncode == 1
    assert "requires-python '<3.12' excludes Python 3.14" in result.stderr


def test_a_dependency_that_cannot_be_installed_is_named(solo, tmp_path):
    pyproject = solo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("tinydep==1.0", "tinydep==9.9"))
    result = refused(solo, tmp_path)
    assert result.returncode == 1
    assert "cannot install tinydep==9.9" in result.stderr
    assert not list((tmp_path / "cache" / "worker-deps").glob("*/tinydep"))  # nothing half-made is kept
