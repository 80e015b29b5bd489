"""`dotdo dev` that cannot start says why in one line, exits 1 and leaves nothing running (issue #10).

Each case runs the real command (`python -m dotdo_dev dev`) in a subprocess with its own state folder,
then looks for any worker process started on that state folder: there must be none.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dotdo_dev.preflight import StartError, check_state_folder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repo to run `dotdo dev` in: it writes each worker's missing `.dev.vars`, which the
    other suites, running at the same time, read (auth's secrets)."""
    from dotdo_dev.testing import copy_repo

    return copy_repo(ROOT, tmp_path_factory.mktemp("repo"))


def dotdo_dev(repo: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOTDO_STATE_DIR": str(state)}
    env.pop("PORT", None)
    return subprocess.run(  # our own interpreter running our own CLI
        [sys.executable, "-m", "dotdo_dev", "dev", "--no-reload", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def workers_started_on(state: Path) -> list[str]:
    """Command lines of live worker host processes whose state folder is `state`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = [a.decode(errors="replace") for a in argv]
        if "dotdo_dev.runtime.host" in text and str(state) in text:
            found.append(" ".join(text))
    return found


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dotdo dev: ")
    for text in expected:
        assert text in last
    return last


def test_a_port_in_use_is_one_line_and_starts_no_worker(repo, tmp_path):
    state = tmp_path / "state"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = dotdo_dev(repo, state, "--port", str(port))
    assert_one_line_failure(result, f"127.0.0.1:{port}", "port in use")
    assert workers_started_on(state) == []
    assert "[dispatcher]" not in result.stderr  # no worker said a word: none was started


def test_a_state_folder_under_a_file_is_one_line(repo, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    state = tmp_path / "file" / "state"
    result = dotdo_dev(repo, state, "--port", "0")
    assert_one_line_failure(result, f"state folder {state}", "cannot be created", "Not a directory")
    assert workers_started_on(state) == []


def test_a_file_in_place_of_the_state_folder_is_one_line(repo, tmp_path):
    state = tmp_path / "state"
    state.write_text("a file")
    result = dotdo_dev(repo, state, "--port", "0")
    assert_one_line_failure(result, f"state folder {state}", "a file is in its place")
    assert workers_started_on(state) == []


@pytest.fixture
def immutable_folder(tmp_path):
    """A folder no one can write, root included (`chattr +i`; chmod does not stop root)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], check=False).returncode != 0:
        pytest.skip("chattr +i is not available on this file system")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_a_read_only_state_folder_is_one_line(repo, immutable_folder):
    result = dotdo_dev(repo, immutable_folder, "--port", "0")
    assert_one_line_failure(result, f"state folder {immutable_folder}", "is not writable")
    assert workers_started_on(immutable_folder) == []
    assert list(immutable_folder.iterdir()) == []


def test_check_state_folder_creates_a_missing_folder(tmp_path):
    check_state_folder(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the write check leaves nothing behind
    (tmp_path / "f").write_text("")
    with pytest.raises(StartError, match="a file is in its place"):
        check_state_folder(tmp_path / "f")


def test_the_state_folder_is_private_to_this_account(tmp_path):
    # It holds every worker's data: no other local account may read the SQLite files inside.
    fresh = tmp_path / "fresh"
    check_state_folder(fresh)
    assert fresh.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    (shared / "kept.sqlite").write_text("data")
    check_state_folder(shared)
    assert shared.stat().st_mode & 0o777 == 0o700
    assert (shared / "kept.sqlite").read_text() == "data"
