"""The SQLite connections behind local D1, KV, Queues, R2, Workflows and Durable Objects (runtime/sqlite.py)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from dotdo_dev.runtime.sqlite import connect

ROOT = Path(__file__).resolve().parents[2]


def test_connections_use_wal_without_an_fsync_per_commit(tmp_path):
    conn = connect(tmp_path / "nested" / "db.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_a_commit_survives_the_process_being_killed_at_once(tmp_path):
    """What NORMAL gives up is only a power loss's last commits: a worker process killed outright right after
    its write (SIGKILL: no cleanup, no checkpoint, the WAL never merged) loses nothing."""
    path = tmp_path / "db.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal
        from dotdo_dev.runtime.sqlite import connect
        conn = connect({str(path)!r})
        conn.execute("CREATE TABLE hits (n INTEGER)")
        for n in range(500):
            conn.execute("INSERT INTO hits VALUES (?)", (n,))
        print("written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.strip() == "written"
    assert (tmp_path / "db.sqlite-wal").exists()  # the commits were still in the log, not checkpointed
    with sqlite3.connect(path) as reopened:
        assert reopened.execute("SELECT COUNT(*), SUM(n) FROM hits").fetchone() == (500, sum(range(500)))
