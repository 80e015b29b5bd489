"""Timestamps as every service writes them: ISO-8601 in UTC, milliseconds, `Z` (`2026-11-27T01:33:28.123Z`)."""

from __future__ import annotations

import datetime


def now_iso() -> str:
    """The current time in UTC, e.g. `2026-11-27T01:33:28.123Z` (sorts as text in time order)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
