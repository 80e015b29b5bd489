"""Cron triggers as Cloudflare evaluates them (its parser is cloudflare/saffron), in UTC.

Five fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of week
(1-7 with **Sunday = 1**, or SUN-SAT). Each field takes `*`, values, ranges `a-b`, steps `*/n`,
`a/n`, `a-b/n`, and lists `,`. Day of month also takes `L` (last day), `LW` (last weekday), `L-n`
(n days before the last), `L-nW` and `nW` (weekday nearest day n). Day of week also takes `nL`
(last such weekday of the month) and `n#k` (k-th such weekday, k = 1-5). When both day fields
are restricted, a day matches if either matches.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("dotdo.cron")

MONTHS = {
    name: i
    for i, name in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
WEEKDAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


class CronError(ValueError):
    """An expression Cloudflare would reject; the message names the field."""


def _number(text: str, names: dict[str, int], field: str, low: int, high: int) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise CronError(f"{field}: {text!r} is not a number" + (f" or one of {list(names)}" if names else ""))
        value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _values(spec: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    names = names or {}
    result: set[int] = set()
    for part in spec.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in {spec!r}")
        step = 1
        if "/" in part:
            part, _, step_text = part.partition("/")
            if not step_text.isdigit() or not 1 <= int(step_text) <= high - low:
                raise CronError(f"{field}: step {step_text!r} must be 1-{high - low}")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, _, b = part.partition("-")
            start, end = _number(a, names, field, low, high), _number(b, names, field, low, high)
            if start > end:
                raise CronError(f"{field}: range {part!r} runs backwards")
        else:
            start = _number(part, names, field, low, high)
            end = high if step > 1 else start
        result.update(range(start, end + 1, step))
    return frozenset(result)


def _weekday(day: dt.date) -> int:
    """Cloudflare's numbering: Sunday = 1 ... Saturday = 7."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int:
    last = calendar.monthrange(year, month)[1]
    day = min(day, last)
    weekday = dt.date(year, month, day).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    dom: Callable[[dt.date], bool]
    dow: Callable[[dt.date], bool]
    dom_star: bool
    dow_star: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) != 5:
            raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
        minute, hour, dom, month, dow = fields
        return cls(
            expression=expression,
            minutes=_values(minute, "minute", 0, 59),
            hours=_values(hour, "hour", 0, 23),
            months=_values(month, "month", 1, 12, MONTHS),
            dom=_day_of_month(dom),
            dow=_day_of_week(dow),
            dom_star=dom in ("*", "?"),
            dow_star=dow in ("*", "?"),
        )

    def _day_matches(self, day: dt.date) -> bool:
        if self.dom_star and self.dow_star:
            return True
        if self.dom_star:
            return self.dow(day)
        if self.dow_star:
            return self.dom(day)
        return self.dom(day) or self.dow(day)

    def matches(self, moment: dt.datetime) -> bool:
        moment = _utc(moment)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and self._day_matches(moment.date())
        )

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after `moment` (UTC, seconds zero)."""
        current = _utc(moment).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = current + dt.timedelta(days=366 * 8)  # enough for any valid expression (leap days)
        while current < limit:
            if current.month not in self.months or not self._day_matches(current.date()):
                current = (current + dt.timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if current.hour not in self.hours:
                current = (current + dt.timedelta(hours=1)).replace(minute=0)
                continue
            if current.minute in self.minutes:
                return current
            current += dt.timedelta(minutes=1)
        raise CronError(f"{self.expression!r} never fires")


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _day_of_month(spec: str) -> Callable[[dt.date], bool]:
    upper = spec.upper()
    if upper in ("*", "?"):
        return lambda day: True
    last = re.fullmatch(r"L(?:-(\d{1,2}))?(W?)", upper)
    if last:
        offset = int(last.group(1) or 0)
        if offset > 30:
            raise CronError(f"day-of-month: offset in {spec!r} must be 1-30")

        def last_day(day: dt.date) -> bool:
            target = calendar.monthrange(day.year, day.month)[1] - offset
            if target < 1:
                return False
            if last.group(2):
                target = _nearest_weekday(day.year, day.month, target)
            return day.day == target

        return last_day
    nearest = re.fullmatch(r"(\d{1,2})W", upper)
    if nearest:
        wanted = _number(nearest.group(1), {}, "day-of-month", 1, 31)
        return lambda day: day.day == _nearest_weekday(day.year, day.month, wanted)
    values = _values(spec, "day-of-month", 1, 31)
    return lambda day: day.day in values


def _day_of_week(spec: str) -> Callable[[dt.date], bool]:
    upper = spec.upper()
    if upper in ("*", "?"):
        return lambda day: True
    last = re.fullmatch(r"(\w+)L", upper)
    if last and upper != "L":
        wanted = _number(last.group(1), WEEKDAYS, "day-of-week", 1, 7)

        def last_weekday(day: dt.date) -> bool:
            return _weekday(day) == wanted and day.day + 7 > calendar.monthrange(day.year, day.month)[1]

        return last_weekday
    nth = re.fullmatch(r"(\w+)#(\d)", upper)
    if nth:
        wanted = _number(nth.group(1), WEEKDAYS, "day-of-week", 1, 7)
        k = int(nth.group(2))
        if not 1 <= k <= 5:
            raise CronError(f"day-of-week: {spec!r}: the week number after # must be 1-5")
        return lambda day: _weekday(day) == wanted and (day.day - 1) // 7 + 1 == k
    if "0" in re.split(r"[,\-/]", upper):
        raise CronError("day-of-week: Cloudflare numbers days 1-7 with Sunday = 1 (or SUN-SAT); 0 is not valid")
    values = _values(spec, "day-of-week", 1, 7, WEEKDAYS)
    return lambda day: _weekday(day) in values


class CronScheduler:
    """Fire `fire(cron, scheduled_time)` for each cron when it is due, until cancelled."""

    def __init__(
        self,
        crons: list[str],
        fire: Callable[[str, dt.datetime], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.schedules = [CronSchedule.parse(c) for c in crons]
        self.fire = fire
        self.clock = clock
        self.sleep = sleep

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    async def tick(self, now: dt.datetime) -> list[str]:
        """Fire every cron due in `now`'s minute; a failing handler is logged and does not stop the rest."""
        minute = _utc(now).replace(second=0, microsecond=0)
        fired = []
        for schedule in self.schedules:
            if schedule.matches(minute):
                fired.append(schedule.expression)
                try:
                    await self.fire(schedule.expression, minute)
                except Exception:
                    log.exception("cron %r: scheduled handler failed", schedule.expression)
        return fired

    async def run(self) -> None:
        if not self.schedules:
            return
        while True:
            now = self._now()
            due = min(s.next_after(now) for s in self.schedules)
            await self.sleep(max(0.0, (due - self._now()).total_seconds()))
            await self.tick(due)
