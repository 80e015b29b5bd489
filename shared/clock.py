"""Timestamps as every service writes them: ISO-8601 in UTC, milliseconds, `Z` (`2026-11-27T01:33:28.123Z`).

Written this way they sort as text in time order, so a database compares them as strings.
"""

from __future__ import annotations

import datetime


def to_iso(moment: datetime.datetime) -> str:
    """`moment` (aware) in the platform's format."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current time in UTC, e.g. `2026-11-27T01:33:28.123Z`."""
    return to_iso(datetime.datetime.now(datetime.UTC))


def iso_in(seconds: float) -> str:
    """The time `seconds` from now (negative: ago), in the platform's format."""
    return to_iso(datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds))


def parse_iso(value: str) -> datetime.datetime:
    """An ISO-8601 timestamp with a zone (`Z` or `+hh:mm`) as an aware datetime; `ValueError` otherwise."""
    moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a timestamp needs a zone (Z or +hh:mm)")
    return moment


def seconds_since(value: str) -> float:
    """Seconds from a stored timestamp until now (negative if it lies ahead)."""
    return (datetime.datetime.now(datetime.UTC) - parse_iso(value)).total_seconds()


def is_past(value: str | None) -> bool:
    """Whether a stored timestamp lies in the past (None never does)."""
    return value is not None and parse_iso(value) <= datetime.datetime.now(datetime.UTC)
