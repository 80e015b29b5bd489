"""Which Python a worker runs: compatibility flags and the Pyodide release, from its wrangler config.

    runtime = python_runtime("2026-11-01", ["python_workers"])   # PythonRuntime(python="3.14", ...)
    "python_dedicated_snapshot" in enabled_flags("2026-11-01", ["python_workers"])   # True

A worker's `compatibility_date` and `compatibility_flags` decide which runtime behaviour it gets. The
Python-relevant flags are derived the way workerd derives them (its `compatibility-date.capnp`):

- an enable date turns a flag on for every worker dated on or after it;
- "implied by <flag> after <date>" turns it on when <flag> is on and the date is on or after <date>;
- a flag named in `compatibility_flags` is on whatever the date; its disable flag turns it off
  whatever the date or implication (naming both is a contradiction workerd refuses, and so do we).

The Python version (and with it the Pyodide release, the wheel platform and the interpreter uv
resolves for) is chosen the way workers-py 1.17.9's pywrangler chooses it (`metadata.py`,
`utils.get_python_version`): the newest version whose flag is named or whose date has come; a
Python Worker must name `python_workers`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

PYTHON_WORKERS = "python_workers"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class _Flag:
    """One of workerd's compatibility flags, with what turns it on and off."""

    name: str
    disable: str | None = None
    #: On for every worker dated on or after this (workerd's `compatEnableDate`).
    enable_date: str | None = None
    #: On when `implied_by` is on and the date is on or after `implied_after` (`impliedByAfterDate`).
    implied_by: str | None = None
    implied_after: str | None = None

    def on_by_date(self, day: str, on: set[str]) -> bool:
        """On without being named: by its enable date, or implied by a flag in `on` after its date."""
        if self.enable_date is not None and day >= self.enable_date:
            return True
        return self.implied_by in on and self.implied_after is not None and day >= self.implied_after


# In dependency order: a flag is listed after the flag that implies it.
FLAGS: tuple[_Flag, ...] = (
    # Explicit only: what makes a worker a Python Worker.
    _Flag(PYTHON_WORKERS),
    _Flag("python_no_global_handlers", disable="disable_python_no_global_handlers", enable_date="2025-08-14"),
    _Flag("python_workers_force_new_vendor_path", enable_date="2025-08-11"),
    _Flag(
        "python_workflows",
        disable="disable_python_workflows",
        implied_by=PYTHON_WORKERS,
        implied_after="2025-09-20",
    ),
    # Pyodide 0.28 (Python 3.13).
    _Flag(
        "python_workers_20250116",
        disable="no_python_workers_20250116",
        implied_by=PYTHON_WORKERS,
        implied_after="2025-09-29",
    ),
    _Flag(
        "python_dedicated_snapshot",
        disable="disable_python_dedicated_snapshot",
        implied_by="python_workers_20250116",
        implied_after="2025-10-16",
    ),
    _Flag(
        "python_workflows_implicit_dependencies",
        disable="no_python_workflows_implicit_dependencies",
        implied_by=PYTHON_WORKERS,
        implied_after="2026-02-25",
    ),
    # Pyodide 314 (Python 3.14): the date is pywrangler's; the opt-out is the name other tooling gives
    # workerd's (the capnp revision read for this module predates the flag).
    _Flag(
        "python_workers_314",
        disable="no_python_workers_314",
        implied_by=PYTHON_WORKERS,
        implied_after="2026-09-08",
    ),
)


@dataclass(frozen=True)
class PythonRuntime:
    """The Python a worker runs on Cloudflare, and what packaging for it needs.

    `python` is the minor version (`"3.14"`); `pyodide` the Pyodide release whose package index
    pywrangler resolves against (and the version of npm's `pyodide` package that matches it);
    `wheel_platform` the platform tag of compiled wheels built for it (pip's `--platform`);
    `uv_interpreter` the interpreter name pywrangler hands to `uv pip compile --python`.
    """

    python: str
    pyodide: str
    wheel_platform: str
    uv_interpreter: str


PYTHON_314 = PythonRuntime("3.14", "314.0.7", "pyemscripten_2026_0_wasm32", "cpython-3.14.2-emscripten-wasm32-musl")
PYTHON_313 = PythonRuntime("3.13", "0.28.3", "pyodide_2025_0_wasm32", "cpython-3.13.2-emscripten-wasm32-musl")
PYTHON_312 = PythonRuntime("3.12", "0.27.7", "pyodide_2024_0_wasm32", "cpython-3.12.7-emscripten-wasm32-musl")

# Newest first: the first whose flag is named, or whose date has come, is the worker's (pywrangler's
# order); a Python Worker matching neither runs PYTHON_312.
_NEWER_RUNTIMES: tuple[tuple[str, str, PythonRuntime], ...] = (
    ("python_workers_314", "2026-09-08", PYTHON_314),
    ("python_workers_20250116", "2025-09-29", PYTHON_313),
)

# Disable flags of the version flags. workerd honours them, pywrangler 1.17.9 ignores them (it looks at
# the enable flag and the date only), so with one of them the two would disagree on the Python.
_VERSION_OPT_OUTS = ("no_python_workers_20250116", "no_python_workers_314")


def _check_date(compatibility_date: str) -> str:
    if not isinstance(compatibility_date, str) or not _ISO_DATE.fullmatch(compatibility_date):
        raise ValueError(f"compatibility_date {compatibility_date!r} is not a date of the form YYYY-MM-DD")
    try:
        date.fromisoformat(compatibility_date)
    except ValueError:
        raise ValueError(f"compatibility_date {compatibility_date!r} is not a calendar date") from None
    return compatibility_date


def _check_flags(flags: Iterable[str]) -> frozenset[str]:
    if isinstance(flags, str):
        raise TypeError(f"compatibility_flags must be a list of flag names, not the string {flags!r}")
    named = frozenset(flags)
    for flag in FLAGS:
        if flag.disable and flag.name in named and flag.disable in named:
            raise ValueError(f"compatibility_flags name both {flag.name!r} and its opposite {flag.disable!r}; keep one")
    return named


def enabled_flags(compatibility_date: str, flags: Iterable[str]) -> frozenset[str]:
    """The Python-relevant compatibility flags that are on for this date and these explicit flags.

    Only the flags this module knows (`FLAGS`) are reported; other names in `flags` are ignored.
    Raises ValueError for a malformed date or a flag named together with its disable flag.
    """
    day = _check_date(compatibility_date)
    named = _check_flags(flags)
    on: set[str] = set()
    for flag in FLAGS:
        if flag.name in named or (flag.disable not in named and flag.on_by_date(day, on)):
            on.add(flag.name)
    return frozenset(on)


def python_runtime(compatibility_date: str, flags: Iterable[str]) -> PythonRuntime:
    """The Python (and Pyodide) a worker with this date and these flags runs, as pywrangler decides it.

    Raises ValueError when `python_workers` is not among the flags (not a Python Worker), for a
    malformed date, and for a version opt-out flag (`no_python_workers_20250116`,
    `no_python_workers_314`): workerd honours those but pywrangler 1.17.9 does not, so the packages it
    vendors would be built for another Python than the one the worker gets.
    """
    day = _check_date(compatibility_date)
    named = _check_flags(flags)
    if PYTHON_WORKERS not in named:
        raise ValueError(
            f"not a Python Worker: compatibility_flags {sorted(named)} lack {PYTHON_WORKERS!r}, "
            "which every Python Worker must name"
        )
    for opt_out in _VERSION_OPT_OUTS:
        if opt_out in named:
            raise ValueError(
                f"compatibility flag {opt_out!r} is not supported: pywrangler ignores it and would "
                "package for a different Python than the worker runs; use an earlier compatibility_date instead"
            )
    for flag, since, runtime in _NEWER_RUNTIMES:
        if flag in named or day >= since:
            return runtime
    return PYTHON_312


def requires_python(runtime: PythonRuntime) -> str:
    """The `requires-python` a worker's `pyproject.toml` declares for this runtime: `"==3.14.*"`.

    Cloudflare's examples write a floor (`">=3.14"`) because they are templates meant to outlive a
    runtime. A worker here runs exactly one Python, fixed by its wrangler config, so its pyproject
    pins that minor version:

    - pywrangler resolves with `uv pip compile --python <runtime.uv_interpreter>` (cpython-3.14.2 for
      3.14), which `==3.14.*` admits;
    - `uv run pywrangler ...` / `uv lock` resolve for the whole `requires-python` range: with a floor
      uv would also solve for Pythons the worker never runs (3.15+), and could fail or fork on
      packages that do not support them yet; `==3.14.*` keeps the resolution to the runtime's Python;
    - a compatibility date that moves the worker to another Python makes this value change, and the
      tests comparing every worker's pyproject with it fail until the pyproject follows.

    The pin does not stop the local CPython 3.11 dev venv: it installs the repo's root
    `pyproject.toml` only, never a worker's (`dotdo_dev.vendor` reads their `[project.dependencies]`
    as data and pip never checks their `requires-python`).
    """
    return f"=={runtime.python}.*"
