"""`dotdo test` itself (dotdo_dev.suites), on tiny fake repos: every suite a temporary folder of tests.

Each fake test is real pytest in a process of its own, as the real suites are; the ones that check
concurrency note when they start and end in a shared folder.
"""

import io
import json
import os
import textwrap
from pathlib import Path

import pytest

from dotdo_dev import cli
from dotdo_dev.suites import SelectionError, discover, longest_first, parse_counts, run, select

PYPROJECT = """\
[tool.pytest.ini_options]
addopts = "-ra --strict-markers"
markers = ["slow: takes long"]
"""

#: A test that notes its start and end in $RUNNER_LOG, waiting at the start until $RUNNER_BARRIER
#: suites have started (so that two suites allowed to run together are seen together).
TIMED = """\
import os, time, uuid
from pathlib import Path

def test_timed():
    log = Path(os.environ["RUNNER_LOG"])
    me = "{name}"
    (log / f"start-{{me}}").write_text(repr(time.time()))
    deadline = time.time() + 20
    while len(list(log.glob("start-*"))) < int(os.environ["RUNNER_BARRIER"]) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    (log / f"end-{{me}}").write_text(repr(time.time()))
"""


@pytest.fixture(autouse=True)
def _lean_pytest(monkeypatch):
    # The fake suites need none of the installed plugins (asyncio, anyio, ...): a third of the start-up.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def fake_repo(root: Path, suites: dict[str, str]) -> Path:
    """A repo with pyproject.toml, workers/, and `suites`: {test file path: its source}.

    A folder holding `tests/` outside `tests/` is a worker: it gets a wrangler.jsonc.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "workers").mkdir(exist_ok=True)
    for path, source in suites.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(source))
        parts = Path(path).parts
        if parts[0] != "tests" and "tests" in parts:
            (root / Path(*parts[: parts.index("tests")]) / "wrangler.jsonc").write_text("{}\n")
    return root


def run_fake(root: Path, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    kwargs.setdefault("durations_file", root / "durations.json")
    status = run(root, out=out, **kwargs)
    return status, out.getvalue()


def table(output: str) -> dict[str, list[str]]:
    """The summary table's rows: {suite: [result, passed, failed, skipped, errors, seconds]}."""
    lines = output.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("suite "))
    rows = {}
    for line in lines[start + 1 : -1]:
        name, rest = line.split(None, 1)
        result = "no tests" if rest.startswith("no tests") else rest.split()[0]
        rows[name] = [result, *rest.removeprefix(result).split()]
    return rows


GREEN = {
    "tests/alpha/test_a.py": """
        import pytest

        def test_one(): pass
        def test_two(): pass

        @pytest.mark.skip(reason="not today")
        def test_skipped(): pass
    """,
    "tests/beta/test_b.py": "def test_b(): pass\n",
    "workers/one/tests/test_one.py": """
        import pytest

        def test_one(): pass

        @pytest.mark.slow
        def test_slow_one(): pass
    """,
    "dispatcher/tests/test_routes.py": "def test_route(): pass\n",
}


def test_suites_are_each_folder_of_tests_the_dispatcher_and_each_worker(tmp_path):
    root = fake_repo(tmp_path / "repo", GREEN | {"tests/fixtures/x/test_not_a_suite.py": "def test_x(): pass\n"})
    (root / "tests" / "empty").mkdir()
    names = [s.name for s in discover(root)]
    assert names == ["tests/alpha", "tests/beta", "dispatcher", "workers/one"]


@pytest.mark.slow
def test_the_summary_adds_up_every_suite(tmp_path):
    root = fake_repo(tmp_path / "repo", GREEN)
    status, output = run_fake(root, jobs=2)
    assert status == 0
    last = output.splitlines()[-1]
    assert last.startswith("total: 6 passed, 0 failed, 1 skipped, 0 errors in ")
    assert last.endswith("(4 suites, 2 at a time)")
    rows = table(output)
    assert rows["tests/alpha"][:5] == ["passed", "2", "0", "1", "0"]
    assert rows["workers/one"][:5] == ["passed", "2", "0", "0", "0"]
    assert set(rows) == {"tests/alpha", "tests/beta", "dispatcher", "workers/one"}
    # a passing suite's block is its header and pytest's skip reasons, not its whole output
    assert "=== tests/alpha: passed (2 passed, 1 skipped) in " in output
    assert "SKIPPED [1] tests/alpha/test_a.py:7: not today" in output
    assert "test session starts" not in output


@pytest.mark.slow
def test_a_failing_suite_fails_the_run_and_shows_its_whole_output(tmp_path):
    failing = {
        "workers/bad/tests/test_bad.py": """
            def test_fine(): pass

            def test_broken():
                print("the broken test's own output")
                assert 1 + 1 == 3, "arithmetic is off"
        """,
    }
    root = fake_repo(tmp_path / "repo", GREEN | failing)
    status, output = run_fake(root, jobs=2)
    assert status == 1
    assert "=== workers/bad: FAILED (1 passed, 1 failed, exit status 1) in " in output
    assert "test session starts" in output  # its whole output, from pytest's first line
    assert "the broken test's own output" in output
    assert "AssertionError: arithmetic is off" in output
    assert "=== end of workers/bad " in output
    assert table(output)["workers/bad"][:5] == ["FAILED", "1", "1", "0", "0"]
    last = output.splitlines()[-1]
    assert last.startswith("total: 7 passed, 1 failed, 1 skipped, 0 errors in ")
    assert last.endswith("; failing: workers/bad")


@pytest.mark.slow
def test_a_suite_that_cannot_start_counts_as_an_error(tmp_path):
    root = fake_repo(
        tmp_path / "repo",
        {"tests/good/test_ok.py": "def test_ok(): pass\n", "tests/broken/conftest.py": "raise ImportError('gone')\n"}
        | {"tests/broken/test_never.py": "def test_never(): pass\n"},
    )
    status, output = run_fake(root, jobs=2)
    assert status == 1
    assert "ImportError: gone" in output
    assert table(output)["tests/broken"][0] == "FAILED"
    assert output.splitlines()[-1].startswith("total: 1 passed, 0 failed, 0 skipped, 1 errors in ")


def timed_repo(tmp_path: Path, names: list[str]) -> Path:
    return fake_repo(tmp_path / "repo", {f"tests/{n}/test_{n}.py": TIMED.format(name=n) for n in names})


def intervals(log: Path) -> dict[str, tuple[float, float]]:
    return {
        p.name.removeprefix("start-"): (float(p.read_text()), float((log / p.name.replace("start", "end")).read_text()))
        for p in log.glob("start-*")
    }


def most_at_once(spans: dict[str, tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


@pytest.mark.slow
def test_no_more_suites_run_at_once_than_jobs(tmp_path, monkeypatch):
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("RUNNER_LOG", str(log))
    monkeypatch.setenv("RUNNER_BARRIER", "2")
    root = timed_repo(tmp_path, ["a", "b", "c", "d"])
    status, output = run_fake(root, jobs=2)
    assert status == 0, output
    spans = intervals(log)
    assert len(spans) == 4
    assert most_at_once(spans) == 2  # never more, and (the barrier) as many as allowed
    assert output.splitlines()[-1].endswith("(4 suites, 2 at a time)")


@pytest.mark.slow
def test_the_longest_suite_starts_first_and_durations_are_remembered(tmp_path, monkeypatch):
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv("RUNNER_LOG", str(log))
    monkeypatch.setenv("RUNNER_BARRIER", "1")
    root = timed_repo(tmp_path, ["a", "b", "c"])
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"tests/b": 90.0, "tests/c": 30.0, "tests/a": 1.0}))
    status, output = run_fake(root, jobs=1, durations_file=durations)
    assert status == 0, output
    spans = intervals(log)
    assert most_at_once(spans) == 1
    assert sorted(spans, key=lambda name: spans[name][0]) == ["b", "c", "a"]
    # this run's durations replace the old ones (each about 0.3 s of sleep plus pytest's start)
    remembered = json.loads(durations.read_text())
    assert set(remembered) == {"tests/a", "tests/b", "tests/c"}
    assert all(0.3 <= seconds < 30 for seconds in remembered.values()), remembered


def test_longest_first_uses_the_static_weight_when_nothing_was_measured(tmp_path):
    root = fake_repo(tmp_path / "repo", {f"tests/{n}/test_{n}.py": "" for n in ("sdk", "e2e", "zz")})
    order = longest_first(discover(root), {})
    assert [s.name for s in order] == ["tests/e2e", "tests/sdk", "tests/zz"]


def test_selecting_suites(tmp_path):
    root = fake_repo(tmp_path / "repo", GREEN | {"workers/two/tests/test_two.py": "def test_two(): pass\n"})
    suites = discover(root)

    def names(*patterns):
        return [(s.name, s.args(root)) for s in select(root, suites, patterns, cwd=tmp_path)]

    assert names("workers/one") == [("workers/one", ["workers/one/tests"])]
    assert names("one") == [("workers/one", ["workers/one/tests"])]
    assert names("workers") == [("workers/one", ["workers/one/tests"]), ("workers/two", ["workers/two/tests"])]
    assert names("tests") == [("tests/alpha", ["tests/alpha"]), ("tests/beta", ["tests/beta"])]
    assert names("repo/workers/one/tests") == [("workers/one", ["workers/one/tests"])]  # a path from cwd
    assert names("tests/alpha/test_a.py::test_one") == [("tests/alpha", ["tests/alpha/test_a.py::test_one"])]
    # one file and then the whole suite: the whole suite
    assert names("tests/alpha/test_a.py", "alpha") == [("tests/alpha", ["tests/alpha"])]
    with pytest.raises(SelectionError, match=r"no test suite matches 'nope' \(the suites: tests/alpha, "):
        names("nope")


@pytest.mark.slow
def test_only_the_selected_suites_run(tmp_path):
    root = fake_repo(tmp_path / "repo", GREEN)
    status, output = run_fake(root, jobs=2, patterns=["one", "tests/alpha/test_a.py::test_two"])
    assert status == 0
    assert set(table(output)) == {"tests/alpha", "workers/one"}
    assert output.splitlines()[-1].startswith("total: 3 passed, 0 failed, 0 skipped, 0 errors in ")


@pytest.mark.slow
def test_k_runs_matching_tests_and_a_suite_without_any_is_not_a_failure(tmp_path):
    root = fake_repo(tmp_path / "repo", GREEN)
    status, output = run_fake(root, jobs=2, pytest_args=["-k", "one"])
    assert status == 0
    rows = table(output)
    assert rows["tests/beta"][0] == "no tests"
    assert rows["workers/one"][:2] == ["passed", "2"]  # -k matches the folder's name: the whole suite
    assert rows["tests/alpha"][:2] == ["passed", "1"]
    # and nothing matching anywhere is exit status 5, as pytest's own
    assert run_fake(root, jobs=2, pytest_args=["-k", "no_such_test"])[0] == 5


@pytest.mark.slow
def test_fast_leaves_out_the_slow_suites_and_the_tests_marked_slow(tmp_path):
    root = fake_repo(tmp_path / "repo", GREEN | {"tests/e2e/test_e2e.py": "def test_e2e(): assert False\n"})
    status, output = run_fake(root, jobs=2, fast=True)
    assert status == 0, output
    assert "left out (slow): tests/e2e" in output.splitlines()[0]
    assert "tests/e2e" not in table(output)
    assert table(output)["workers/one"][:2] == ["passed", "1"]  # test_slow_one deselected
    # named alone, a slow suite runs even with --fast
    assert run_fake(root, jobs=2, fast=True, patterns=["e2e"])[0] == 1


def test_an_unknown_suite_is_exit_status_2(tmp_path, capsys):
    root = fake_repo(tmp_path / "repo", GREEN)
    assert run_fake(root, patterns=["nope"])[0] == 2
    assert "no test suite matches 'nope'" in capsys.readouterr().err


def test_the_command_line(tmp_path, monkeypatch):
    root = fake_repo(tmp_path / "repo", GREEN)
    monkeypatch.chdir(root)
    seen = {}

    def fake_run(root, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("dotdo_dev.suites.run", fake_run)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["test", "-x", "--jobs", "3", "--suite", "one,beta", "-k", "b", "--lf", "tests/alpha/test_a.py"])
    assert exit_.value.code == 0
    assert seen["jobs"] == 3
    assert seen["patterns"] == ["one", "beta", "tests/alpha/test_a.py"]
    assert seen["pytest_args"] == ["-x", "--lf", "-k", "b"]
    with pytest.raises(SystemExit):
        cli.main(["test", "-m", "not slow", "--suite", "alpha", "--deselect", "tests/alpha/test_a.py::test_one"])
    assert seen["patterns"] == ["alpha"]
    assert seen["pytest_args"] == ["-m", "not slow", "--deselect", "tests/alpha/test_a.py::test_one"]
    with pytest.raises(SystemExit):
        cli.main(["test", "--fast", "--", "-m", "smoke", "--suite", "x"])
    assert seen["fast"] is True
    assert seen["pytest_args"] == ["-m", "smoke", "--suite", "x"]


def test_parse_counts_reads_pytests_last_line():
    output = "...\n\x1b[32m===== 3 passed, 1 skipped, 2 deselected, 1 xfailed in 0.12s =====\x1b[0m\n"
    assert parse_counts(output) == {"passed": 3, "skipped": 1, "deselected": 2, "xfailed": 1}
    assert parse_counts("1 failed, 2 errors in 3.0s") == {"failed": 1, "errors": 2}
    assert parse_counts("Traceback ...\nImportError: gone") == {}


def test_jobs_default_to_one_more_than_the_cpu_count(monkeypatch):
    from dotdo_dev.suites import default_jobs

    monkeypatch.delenv("DOTDO_TEST_JOBS", raising=False)
    assert default_jobs() == (os.cpu_count() or 1) + 1
    monkeypatch.setenv("DOTDO_TEST_JOBS", "7")
    assert default_jobs() == 7


def test_the_repo_itself_splits_into_suites_that_cover_every_test_file():
    root = Path(__file__).resolve().parents[2]
    suites = discover(root)
    assert {"tests/conformance", "tests/e2e", "workers/db", "dispatcher"} <= {s.name for s in suites}
    folders = [s.folder for s in suites]
    places = [root / "tests", root / "dispatcher", root / "deploy", *(root / "workers").glob("*/tests")]
    for test_file in (f for place in places for f in place.rglob("test_*.py")):
        if not {"python_modules", "fixtures"}.intersection(test_file.relative_to(root).parts):
            assert any(f in test_file.parents for f in folders), f"{test_file} is in no suite"
