"""Workflow durations as Cloudflare's engine reads them: numbers are milliseconds, strings name a unit.

    to_ms(250)              # 250.0  (a number is milliseconds, as the engine's `ms()` takes it)
    to_ms("10 seconds")     # 10000.0
    to_ms("1.5 hours")      # 5400000.0

Units: millisecond(s)/ms, second(s)/sec(s)/s, minute(s)/min(s)/m, hour(s)/hr(s)/h, day(s)/d, week(s)/w,
month(s) (30 days), year(s)/y (365 days). Python's SDK passes a number straight to the engine, so
`step.sleep("x", 10)` sleeps 10 ms on Cloudflare too, whatever the Python docs' "seconds" suggests.
"""

from __future__ import annotations

import math
import re

__all__ = ["to_ms"]

_SECOND = 1000.0
_UNITS = {
    "ms": 1.0,
    "millisecond": 1.0,
    "s": _SECOND,
    "sec": _SECOND,
    "second": _SECOND,
    "m": 60 * _SECOND,
    "min": 60 * _SECOND,
    "minute": 60 * _SECOND,
    "h": 3600 * _SECOND,
    "hr": 3600 * _SECOND,
    "hour": 3600 * _SECOND,
    "d": 86400 * _SECOND,
    "day": 86400 * _SECOND,
    "w": 7 * 86400 * _SECOND,
    "week": 7 * 86400 * _SECOND,
    "month": 30 * 86400 * _SECOND,
    "y": 365 * 86400 * _SECOND,
    "year": 365 * 86400 * _SECOND,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]+)\s*$")


def to_ms(duration: object, *, what: str = "duration") -> float:
    """Milliseconds in `duration` (a non-negative number of milliseconds, or a string such as "10 seconds").

    Raises `TypeError` for another type and `ValueError` for a string with no known unit or a negative
    or non-finite number, naming `what` (the argument it came from)."""
    if isinstance(duration, bool) or not isinstance(duration, int | float | str):
        raise TypeError(f"{what} must be a number of milliseconds or a string like '10 seconds', not {duration!r}")
    if isinstance(duration, str):
        match = _DURATION.match(duration)
        unit = match and match.group(2).lower()
        if unit and unit not in _UNITS and unit.endswith("s"):
            unit = unit[:-1]
        if not match or unit not in _UNITS:
            raise ValueError(
                f"{what} {duration!r} is not a duration: write a number and a unit "
                "(ms, second, minute, hour, day, week, month, year), e.g. '10 seconds'"
            )
        return float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"{what} must be a non-negative number of milliseconds, not {duration!r}")
    return float(duration)
