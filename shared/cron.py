"""Cron expressions as Cloudflare evaluates them (its parser is cloudflare/saffron), always in UTC.

The one implementation in the repo: the local runtime fires cron triggers with it
(`dotdo_dev/runtime/cron.py`, its scheduler loop) and workers bundle it (the schedule service shows
each task's next run times with it). Pure standard library, no I/O, no threads, no clock of its own:
it runs alike under CPython and Pyodide.

    CronSchedule.parse("0 4 * * SUN").next_after(datetime.now(UTC))   # the next Sunday, 04:00 UTC

Five fields, separated by spaces:

    minute        0-59
    hour          0-23
    day of month  1-31
    month         1-12 or JAN-DEC
    day of week   1-7 with **Sunday = 1** (Saturday = 7), or SUN-SAT

Each field takes `*`, a value, a range `a-b`, a step `*/n`, `a/n` (from a to the end) or `a-b/n`,
and lists of those separated by `,`. A range or step whose start is after its end wraps around
(`FRI-MON`, `22-2` hours). Month and weekday names are case-insensitive. Besides, as Quartz:

    day of month  `L` last day, `LW` last weekday (Mon-Fri), `L-n` n days before the last day,
                  `L-nW` the weekday nearest that day, `nW` the weekday nearest day n
                  (never crossing into another month)
    day of week   `L` Saturday, `xL` the last x of the month (`6L`, `FRIL`: last Friday),
                  `x#k` the k-th x of the month (`MON#2`, k = 1-5)

`L`, `W` and `#` forms stand alone in their field (no lists). When both day fields are
restricted (not `*`), a day matches if either matches. `?` is not accepted (saffron refuses it),
and neither is an expression that can never fire (`0 0 31 11 *`).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

MONTHS = {
    name: i
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
# How far `next_after` looks: the Gregorian calendar repeats every 400 years.
_SEARCH_YEARS = 401

DayRule = Callable[[dt.date], bool]


class CronError(ValueError):
    """An expression Cloudflare would reject; the message names the field at fault."""


# -- parsing ----------------------------------------------------------------------------------------


def _number(text: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isascii() or not text.isdigit():
        choices = f" or one of {'/'.join(names)}" if names else ""
        raise CronError(f"{field}: {text!r} is not a number{choices}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _values(spec: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values of a plain field: `*`, values, ranges, steps and lists of them."""
    if spec == "*":
        return frozenset(range(low, high + 1))
    result: set[int] = set()
    for part in spec.split(","):
        if not part:
            raise CronError(f"{field}: empty item in the list {spec!r}")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isascii() or not step_text.isdigit() or not 1 <= int(step_text) <= high - low:
                raise CronError(f"{field}: the step in {part!r} must be a number from 1 to {high - low}")
            step = int(step_text)
        if base == "*":
            if not slash:
                raise CronError(f"{field}: '*' cannot be an item of a list ({spec!r})")
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field, low, high, names), _number(last, field, low, high, names)
        else:
            start = _number(base, field, low, high, names)
            end = high if slash else start
        span = list(range(start, end + 1)) if start <= end else [*range(start, high + 1), *range(low, end + 1)]
        result.update(span[::step])
    return frozenset(result)


def _weekday(day: dt.date) -> int:
    """Cloudflare's numbering: Sunday = 1 ... Saturday = 7."""
    return day.isoweekday() % 7 + 1


def _last_day(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: dt.date, target: int) -> bool:
    """Whether `day` is the weekday (Mon-Fri) nearest day `target` of its month, within the month."""
    last = _last_day(day)
    if not 1 <= target <= last:
        return False
    weekday = dt.date(day.year, day.month, target).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd when the 1st is a Saturday
        target = target - 1 if target > 1 else target + 2
    elif weekday == 6:  # Sunday: the Monday after, or the Friday before when it is the last day
        target = target + 1 if target < last else target - 2
    return day.day == target


def _day_of_month(spec: str) -> DayRule:
    field = "day-of-month"
    last = re.fullmatch(r"L(?:-(\d+))?(W?)", spec)
    if last:
        offset = int(last.group(1) or 0)
        if last.group(1) is not None and not 1 <= offset <= 30:
            raise CronError(f"{field}: the offset in {spec!r} must be 1-30")
        if last.group(2):
            return lambda day: _nearest_weekday(day, _last_day(day) - offset)
        return lambda day: day.day + offset == _last_day(day)
    nearest = re.fullmatch(r"(\d+)W", spec)
    if nearest:
        target = _number(nearest.group(1), field, 1, 31)
        return lambda day: _nearest_weekday(day, target)
    if "L" in spec or "W" in spec:
        raise CronError(f"{field}: {spec!r}: use L, LW, L-n, L-nW or nW on their own (L and W are upper case)")
    values = _values(spec, field, 1, 31)
    return lambda day: day.day in values


def _day_of_week(spec: str) -> DayRule:
    field = "day-of-week"
    if spec == "L":
        return lambda day: _weekday(day) == 7
    last = re.fullmatch(r"(\w+)L", spec)
    if last:
        wanted = _number(last.group(1), field, 1, 7, WEEKDAYS)
        return lambda day: _weekday(day) == wanted and day.day + 7 > _last_day(day)
    nth = re.fullmatch(r"(\w+)#(\d+)", spec)
    if nth:
        wanted = _number(nth.group(1), field, 1, 7, WEEKDAYS)
        k = int(nth.group(2))
        if not 1 <= k <= 5:
            raise CronError(f"{field}: in {spec!r} the number after # must be 1-5")
        return lambda day: _weekday(day) == wanted and (day.day - 1) // 7 + 1 == k
    if "#" in spec or re.search(r"\dL|L$", spec):
        raise CronError(f"{field}: {spec!r}: use xL or x#k on their own (and L in upper case)")
    if any("0" in part.partition("/")[0].split("-") for part in spec.split(",")):
        raise CronError(f"{field}: Cloudflare numbers days 1-7 with Sunday = 1 (or SUN-SAT); 0 is not a day")
    values = _values(spec, field, 1, 7, WEEKDAYS)
    return lambda day: _weekday(day) in values


def as_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# -- schedules --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression. Build one with `CronSchedule.parse(expression)`."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    day_of_month: DayRule
    day_of_week: DayRule
    any_day_of_month: bool
    any_day_of_week: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse a 5-field expression; `CronError` (a `ValueError`) names the field at fault. A schedule is
        immutable, so each expression is parsed once per isolate (the schedule service lists eleven tasks'
        next runs on every `GET /tasks`)."""
        if not isinstance(expression, str):
            raise CronError(f"a cron expression is a string, not {type(expression).__name__}")
        return _parsed(expression)

    @classmethod
    def _parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 5:
            raise CronError(
                f"{expression!r}: expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
            )
        minute, hour, dom, month, dow = fields
        schedule = cls(
            expression=expression,
            minutes=_values(minute, "minute", 0, 59),
            hours=_values(hour, "hour", 0, 23),
            months=_values(month, "month", 1, 12, MONTHS),
            day_of_month=_day_of_month(dom),
            day_of_week=_day_of_week(dow),
            any_day_of_month=dom == "*",
            any_day_of_week=dow == "*",
        )
        if schedule._next_day(dt.date(2000, 1, 1)) is None:
            raise CronError(
                f"{expression!r}: the day-of-month, month and day-of-week fields never meet: it never fires"
            )
        return schedule

    def __str__(self) -> str:
        return self.expression

    def day_matches(self, day: dt.date) -> bool:
        """Whether the expression fires on `day` at all (month and both day fields; the OR rule)."""
        if day.month not in self.months:
            return False
        if self.any_day_of_month and self.any_day_of_week:
            return True
        if self.any_day_of_month:
            return self.day_of_week(day)
        if self.any_day_of_week:
            return self.day_of_month(day)
        return self.day_of_month(day) or self.day_of_week(day)

    def matches(self, moment: dt.datetime) -> bool:
        """Whether the expression fires in `moment`'s minute (UTC; naive means UTC)."""
        moment = as_utc(moment)
        return moment.minute in self.minutes and moment.hour in self.hours and self.day_matches(moment.date())

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first minute strictly after `moment` at which the expression fires (UTC, seconds zero)."""
        start = as_utc(moment).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        day, earliest = start.date(), (start.hour, start.minute)
        while (found := self._next_day(day)) is not None:
            at = self._first_time(earliest if found == day else (0, 0))
            if at is not None:
                return dt.datetime(found.year, found.month, found.day, *at, tzinfo=dt.UTC)
            day, earliest = found + dt.timedelta(days=1), (0, 0)
        raise CronError(f"{self.expression!r} never fires")

    def next_times(self, moment: dt.datetime, count: int) -> list[dt.datetime]:
        """The first `count` minutes strictly after `moment` at which the expression fires (UTC). They depend on
        `moment`'s minute only: the answer is kept per (expression, minute, count)."""
        minute = as_utc(moment).replace(second=0, microsecond=0)
        return list(_next_times(self.expression, minute, count))

    def _next_times(self, moment: dt.datetime, count: int) -> tuple[dt.datetime, ...]:
        times: list[dt.datetime] = []
        while len(times) < count:
            moment = self.next_after(moment)
            times.append(moment)
        return tuple(times)

    def _next_day(self, day: dt.date) -> dt.date | None:
        """The first day on or after `day` on which the expression fires (None if none for centuries)."""
        limit = day.year + _SEARCH_YEARS
        while day.year < limit:
            if day.month not in self.months:
                year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
                day = dt.date(year, month, 1)
            elif self.day_matches(day):
                return day
            else:
                day += dt.timedelta(days=1)
        return None

    def _first_time(self, after: tuple[int, int]) -> tuple[int, int] | None:
        """The first (hour, minute) at or after `after` within one day."""
        hour, minute = after
        for h in sorted(x for x in self.hours if x >= hour):
            m = min((x for x in self.minutes if h > hour or x >= minute), default=None)
            if m is not None:
                return h, m
        return None


@lru_cache(maxsize=256)
def _parsed(expression: str) -> CronSchedule:
    return CronSchedule._parse(expression)  # a CronError is raised each time, never kept


@lru_cache(maxsize=1024)
def _next_times(expression: str, minute: dt.datetime, count: int) -> tuple[dt.datetime, ...]:
    return _parsed(expression)._next_times(minute, count)
