"""dotdo_dev.compat: compatibility flags and the Python a worker gets, as workerd and pywrangler derive them."""

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from dotdo_dev import compat, jsonc, wrangler
from dotdo_dev.compat import PythonRuntime, enabled_flags, python_runtime, requires_python
from dotdo_dev.config import load_worker

ROOT = Path(__file__).resolve().parents[2]
PY = ["python_workers"]


def day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


# (flag, the date it comes on, the flags that must be named for it, its disable flag)
THRESHOLDS = [
    ("python_workers_force_new_vendor_path", "2025-08-11", [], None),
    ("python_no_global_handlers", "2025-08-14", [], "disable_python_no_global_handlers"),
    ("python_workflows", "2025-09-20", PY, "disable_python_workflows"),
    ("python_workers_20250116", "2025-09-29", PY, "no_python_workers_20250116"),
    ("python_dedicated_snapshot", "2025-10-16", PY, "disable_python_dedicated_snapshot"),
    ("python_workflows_implicit_dependencies", "2026-02-25", PY, "no_python_workflows_implicit_dependencies"),
    ("python_workers_314", "2026-09-08", PY, "no_python_workers_314"),
]


@pytest.mark.parametrize(("flag", "day", "needs", "disable"), THRESHOLDS, ids=[t[0] for t in THRESHOLDS])
def test_flag_comes_on_at_its_date(flag, day, needs, disable):
    assert flag not in enabled_flags(day_before(day), needs)
    assert flag in enabled_flags(day, needs)
    assert flag in enabled_flags("2027-01-01", needs)


@pytest.mark.parametrize(
    ("flag", "day", "needs", "disable"), [t for t in THRESHOLDS if t[3]], ids=[t[0] for t in THRESHOLDS if t[3]]
)
def test_disable_flag_wins_over_the_date(flag, day, needs, disable):
    assert flag not in enabled_flags(day, [*needs, disable])
    assert flag not in enabled_flags("2027-01-01", [*needs, disable])


@pytest.mark.parametrize(("flag", "day", "needs", "disable"), THRESHOLDS, ids=[t[0] for t in THRESHOLDS])
def test_explicit_flag_is_on_before_its_date(flag, day, needs, disable):
    assert flag in enabled_flags(day_before(day), [*needs, flag])
    assert flag in enabled_flags("2024-01-01", [flag])


def test_python_workers_is_explicit_only():
    assert "python_workers" not in enabled_flags("2027-01-01", [])
    assert "python_workers" in enabled_flags("2020-01-01", PY)


def test_implied_flags_need_the_flag_that_implies_them():
    # Dated after every threshold, but not a Python Worker: only the plain date-enabled flags are on.
    assert enabled_flags("2027-01-01", []) == {"python_no_global_handlers", "python_workers_force_new_vendor_path"}
    # python_dedicated_snapshot follows python_workers_20250116, also when that is turned off.
    assert "python_dedicated_snapshot" not in enabled_flags("2026-01-01", [*PY, "no_python_workers_20250116"])
    # ... and when named before its own date, after the snapshot's date.
    assert "python_dedicated_snapshot" in enabled_flags("2025-10-16", ["python_workers_20250116"])
    assert "python_dedicated_snapshot" not in enabled_flags("2025-10-15", ["python_workers_20250116"])


def test_unknown_flags_are_ignored():
    assert enabled_flags("2025-01-01", [*PY, "nodejs_compat"]) == {"python_workers"}


def test_a_flag_and_its_opposite_are_refused():
    with pytest.raises(ValueError, match=r"python_workflows.*disable_python_workflows"):
        enabled_flags("2026-01-01", [*PY, "python_workflows", "disable_python_workflows"])


def test_everything_on_for_the_platform_date():
    assert enabled_flags("2026-11-01", PY) == {t[0] for t in THRESHOLDS} | {"python_workers"}


# (date, flags, Python): every version threshold on the day before and the day of, and explicit flags.
VERSIONS = [
    ("2024-04-01", PY, "3.12"),
    ("2025-09-28", PY, "3.12"),
    ("2025-09-29", PY, "3.13"),
    ("2026-09-07", PY, "3.13"),
    ("2026-09-08", PY, "3.14"),
    ("2026-11-01", PY, "3.14"),
    ("2025-01-01", [*PY, "python_workers_20250116"], "3.13"),
    ("2025-01-01", [*PY, "python_workers_314"], "3.14"),
    ("2026-09-07", [*PY, "python_workers_314"], "3.14"),
    ("2025-01-01", [*PY, "python_workers_20250116", "python_workers_314"], "3.14"),
    # An older version's flag does not hold a worker back once the newer date has come (pywrangler).
    ("2026-09-08", [*PY, "python_workers_20250116"], "3.14"),
]


@pytest.mark.parametrize(("day", "flags", "python"), VERSIONS)
def test_python_version(day, flags, python):
    assert python_runtime(day, flags).python == python


def test_runtimes():
    assert python_runtime("2025-01-01", PY) == PythonRuntime(
        "3.12", "0.27.7", "pyodide_2024_0_wasm32", "cpython-3.12.7-emscripten-wasm32-musl"
    )
    assert python_runtime("2025-09-29", PY) == PythonRuntime(
        "3.13", "0.28.3", "pyodide_2025_0_wasm32", "cpython-3.13.2-emscripten-wasm32-musl"
    )
    assert python_runtime("2026-09-08", PY) == PythonRuntime(
        "3.14", "314.0.7", "pyemscripten_2026_0_wasm32", "cpython-3.14.2-emscripten-wasm32-musl"
    )


def test_runtime_is_frozen():
    runtime = python_runtime("2026-11-01", PY)
    with pytest.raises(AttributeError):
        runtime.python = "3.15"  # type: ignore[misc]


@pytest.mark.parametrize("flags", [[], ["python_workers_314"], ["nodejs_compat"]])
def test_not_a_python_worker_is_refused(flags):
    with pytest.raises(ValueError, match="not a Python Worker"):
        python_runtime("2026-11-01", flags)


@pytest.mark.parametrize("opt_out", ["no_python_workers_20250116", "no_python_workers_314"])
def test_version_opt_outs_pywrangler_ignores_are_refused(opt_out):
    with pytest.raises(ValueError, match=opt_out):
        python_runtime("2026-11-01", [*PY, opt_out])


BAD_DATES = ["2026-13-01", "2026-02-30", "20261101", "2026-11-1", "26-11-01", "", " 2026-11-01", "2026-11-01\n", "x"]


@pytest.mark.parametrize("bad", BAD_DATES)
def test_bad_dates_are_refused(bad):
    named = re.escape(f"compatibility_date {bad!r}")
    with pytest.raises(ValueError, match=named):
        python_runtime(bad, PY)
    with pytest.raises(ValueError, match=named):
        enabled_flags(bad, PY)


def test_a_string_of_flags_is_refused():
    with pytest.raises(TypeError, match="list of flag names"):
        enabled_flags("2026-11-01", "python_workers")


@pytest.mark.parametrize(
    ("python", "spec"), [("3.12", "==3.12.*"), ("3.13", "==3.13.*"), ("3.14", "==3.14.*")], ids=lambda v: v
)
def test_requires_python_pins_the_minor_version(python, spec):
    runtime = next(r for r in (compat.PYTHON_312, compat.PYTHON_313, compat.PYTHON_314) if r.python == python)
    assert requires_python(runtime) == spec


# Every wrangler.jsonc in the repo, in every environment it declares.
CASES = [(cfg, env) for cfg in wrangler.repo_configs(ROOT) for env in wrangler.environments(cfg)]


def _id(case):
    cfg, env = case
    return f"{cfg.parent.relative_to(ROOT)}[{env or 'top'}]"


def _npm_pyodide() -> str:
    return json.loads((ROOT / "package.json").read_text())["devDependencies"]["pyodide"]


def test_the_repo_has_configs():
    assert any(cfg.parent.name == "dispatcher" for cfg, _ in CASES)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_every_worker_runs_python_314_on_the_pyodide_npm_pins(case):
    cfg, env = case
    config = load_worker(cfg, environment=env)
    runtime = python_runtime(config.compatibility_date, config.compatibility_flags)
    assert runtime.python == "3.14"
    assert runtime.pyodide == "314.0.7"
    # package.json's `pyodide` is what the conformance runner runs workers under: the one Cloudflare runs.
    assert runtime.pyodide == _npm_pyodide()


def test_platform_settings_give_the_npm_pyodide():
    platform = jsonc.load(ROOT / "wrangler" / "platform.jsonc")
    runtime = python_runtime(platform["compatibility_date"], platform["compatibility_flags"])
    assert runtime.pyodide == _npm_pyodide()
