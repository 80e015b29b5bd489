"""Builds shared between the suites of a test run (dotdo_dev.build_cache): a hit is the build it stands for,
byte for byte; any input changed is a new build; a failed build is never kept; no cache outside a test run."""

import shutil
import threading
from pathlib import Path

import pytest

from dotdo_dev import build_cache, wrangler
from dotdo_dev.build import BuildError, build
from dotdo_dev.build_cache import CACHE_ENV, key_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path, build_copy):
    return build_copy(tmp_path / "repo")


@pytest.fixture
def wrangler_runs(monkeypatch):
    """How many times wrangler ran (the expensive part a hit skips)."""
    runs = []
    original = wrangler.dry_run

    def counting(*args, **kwargs):
        runs.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(wrangler, "dry_run", counting)
    return runs


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_hit_is_the_build_byte_for_byte_and_a_changed_source_builds_again(repo, tmp_path, monkeypatch, wrangler_runs):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    worker = repo / "dispatcher"
    built = build(repo, worker, tmp_path / "one")
    laid_out = files(worker / "python_modules")
    shutil.rmtree(worker / "python_modules")
    reused = build(repo, worker, tmp_path / "two")
    assert len(wrangler_runs) == 1
    assert files(tmp_path / "one") == files(tmp_path / "two")
    assert (reused.modules, reused.gzip_bytes, reused.metadata) == (built.modules, built.gzip_bytes, built.metadata)
    assert files(worker / "python_modules") == laid_out  # a later wrangler run on the folder reads it
    entry = worker / "src" / "entry.py"
    entry.write_text(entry.read_text() + "\n# changed\n")
    again = build(repo, worker, tmp_path / "three")
    assert len(wrangler_runs) == 2  # built again, and carrying the change
    assert (again.outdir / "entry.py").read_text().endswith("# changed\n")


def test_every_input_of_a_build_is_in_its_key(repo):
    worker = repo / "workers" / "db"
    shared = repo / "shared"
    base = key_of(repo, worker, [shared], None)
    assert key_of(repo, worker, [shared], None) == base
    assert key_of(repo, worker, [shared], "staging") != base
    (shared / "errors.py").write_text((shared / "errors.py").read_text() + "\n")  # a path source
    assert key_of(repo, worker, [shared], None) != base
    base = key_of(repo, worker, [shared], None)
    (repo / "constraints.txt").write_text((repo / "constraints.txt").read_text() + "\n")
    assert key_of(repo, worker, [shared], None) != base
    base = key_of(repo, worker, [shared], None)
    (worker / "wrangler.jsonc").write_text((worker / "wrangler.jsonc").read_text() + "\n")
    assert key_of(repo, worker, [shared], None) != base
    base = key_of(repo, worker, [shared], None)
    # what a build leaves or the platform keeps in the folder is not an input
    (worker / "python_modules" / "stray.py").parent.mkdir(exist_ok=True)
    (worker / "python_modules" / "stray.py").write_text("x = 1\n")
    (worker / ".state").mkdir(exist_ok=True)
    (worker / ".state" / "d1.sqlite").write_bytes(b"x")
    assert key_of(repo, worker, [shared], None) == base


@pytest.fixture
def bundled(monkeypatch):
    """Stand in for vendoring and wrangler (what a hit skips): each call recorded, a one-module outdir made
    after `bundled.delay` seconds, or (`bundled.refuse`) wrangler's refusal."""
    import time

    from dotdo_dev import build as build_module

    calls = []

    def fake(repo_root, worker_dir, config, outdir, environment, cache, wheels_lock=None):
        calls.append(outdir)
        time.sleep(fake.delay)
        if fake.refuse:
            raise BuildError("wrangler refused it")
        (outdir / "entry.py").write_text("x = 1\n")
        (worker_dir / "python_modules").mkdir(exist_ok=True)
        return "Total Upload: 1.00 KiB / gzip: 0.50 KiB"

    fake.delay = 0.0
    fake.refuse = False
    fake.calls = calls
    monkeypatch.setattr(build_module, "_bundle", fake)
    return fake


def test_a_failed_build_is_not_kept(repo, tmp_path, monkeypatch, bundled):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    bundled.refuse = True
    for outdir in ("one", "two"):
        with pytest.raises(BuildError, match="wrangler refused"):
            build(repo, repo / "dispatcher", tmp_path / outdir)
    assert len(bundled.calls) == 2  # tried again: nothing was kept
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]


def test_without_a_test_run_every_build_runs(repo, tmp_path, monkeypatch, bundled):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    build(repo, repo / "dispatcher", tmp_path / "one")
    build(repo, repo / "dispatcher", tmp_path / "two")
    assert len(bundled.calls) == 2


def test_two_builds_of_one_worker_at_once_build_it_once(repo, tmp_path, monkeypatch, bundled):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    bundled.delay = 0.5  # the second asks while the first is building
    results, errors = {}, []

    def run(name: str) -> None:
        try:
            results[name] = build(repo, repo / "dispatcher", tmp_path / name)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(bundled.calls) == 1
    assert files(tmp_path / "one") == files(tmp_path / "two")
    assert results["one"].modules == results["two"].modules == ["entry.py"]


def test_an_entry_is_whole_or_absent(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    modules, outdir = tmp_path / "python_modules", tmp_path / "outdir"
    modules.mkdir()
    outdir.mkdir()
    (outdir / "entry.py").write_text("x = 1\n")
    assert build_cache.lookup(root, "k") is None
    build_cache.keep(root, "k", modules, outdir, "Total Upload: 1.00 KiB / gzip: 0.50 KiB")
    build_cache.keep(root, "k", modules, outdir, "another")  # kept already: the first stays
    entry = build_cache.lookup(root, "k")
    assert entry is not None
    assert entry.output == "Total Upload: 1.00 KiB / gzip: 0.50 KiB"
    assert not list(root.glob("*.partial"))
