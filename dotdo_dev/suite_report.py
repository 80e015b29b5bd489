"""A pytest plugin for `dotdo test` (`-p dotdo_dev.suite_report`): the session's counts as JSON.

Written to the file `$DOTDO_TEST_REPORT` names, if set: `{"counts": {"passed": 12, "skipped": 1, ...},
"exitstatus": 0}`, the same counts as pytest's last line, so the runner need not parse that line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPORT_ENV = "DOTDO_TEST_REPORT"


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {}) if reporter is not None else {}
    counts = {}
    for key, reports in stats.items():
        if key and key != "warnings":
            counts[key] = sum(1 for r in reports if getattr(r, "count_towards_summary", True))
    Path(target).write_text(json.dumps({"counts": counts, "exitstatus": int(exitstatus)}))
