"""Cron triggers in Cloudflare's syntax (day of week 1-7 with Sunday = 1), evaluated in UTC."""

import datetime as dt

import pytest

from dotdo_dev.runtime.cron import CronError, CronSchedule, CronScheduler

UTC = dt.UTC


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "moment", "expected"),
    [
        ("* * * * *", at(2026, 11, 26, 13, 7), True),
        ("*/15 * * * *", at(2026, 11, 26, 13, 45), True),
        ("*/15 * * * *", at(2026, 11, 26, 13, 46), False),
        ("5-10/2 * * * *", at(2026, 11, 26, 13, 9), True),
        ("5-10/2 * * * *", at(2026, 11, 26, 13, 8), False),
        ("0 9 * * MON-FRI", at(2026, 11, 27, 9, 0), True),  # a Friday
        ("0 9 * * MON-FRI", at(2026, 11, 28, 9, 0), False),  # a Saturday
        ("0 0 * * 1", at(2026, 11, 29, 0, 0), True),  # 1 is Sunday on Cloudflare
        ("0 0 * * 1", at(2026, 11, 30, 0, 0), False),  # Monday
        ("0 0 * * 2-6", at(2026, 11, 30, 0, 0), True),  # Mon-Fri
        ("0 0 * * SUN,SAT", at(2026, 11, 28, 0, 0), True),
        ("0 0 1 JAN *", at(2027, 1, 1, 0, 0), True),
        ("0 0 1,15 * *", at(2026, 11, 15, 0, 0), True),
        ("0 0 13 * 6", at(2026, 11, 13, 0, 0), True),  # day 13 OR Friday: the 13th matches
        ("0 0 13 * 6", at(2026, 11, 20, 0, 0), True),  # ... and so does any Friday
        ("0 0 13 * 6", at(2026, 11, 21, 0, 0), False),
        ("0 0 L * *", at(2026, 2, 28, 0, 0), True),
        ("0 0 L * *", at(2028, 2, 29, 0, 0), True),
        ("0 0 L * *", at(2028, 2, 28, 0, 0), False),
        ("0 0 L-2 * *", at(2026, 11, 28, 0, 0), True),
        ("0 0 LW * *", at(2026, 5, 29, 0, 0), True),  # May 31 2026 is a Sunday -> Friday 29th
        ("0 0 15W * *", at(2026, 11, 16, 0, 0), True),  # Nov 15 2026 is a Sunday -> Monday 16th
        ("0 0 1W * *", at(2026, 8, 3, 0, 0), True),  # Aug 1 2026 is a Saturday -> Monday 3rd (stays in month)
        ("0 0 * * 6L", at(2026, 11, 27, 0, 0), True),  # last Friday of November 2026
        ("0 0 * * 6L", at(2026, 11, 20, 0, 0), False),
        ("0 0 * * 2#1", at(2026, 11, 2, 0, 0), True),  # first Monday
        ("0 0 * * MON#2", at(2026, 11, 9, 0, 0), True),
        ("0 0 * * MON#2", at(2026, 11, 2, 0, 0), False),
    ],
)
def test_matches(expr, moment, expected):
    assert CronSchedule.parse(expr).matches(moment) is expected


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("* * * *", "5 fields"),
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"),
        ("* * * 13 *", "month"),
        ("* * * * 0", "Sunday = 1"),
        ("* * * * 8", "day-of-week"),
        ("* * * FOO *", "month"),
        ("*/0 * * * *", "step"),
        ("10-5 * * * *", "backwards"),
        ("* * * * MON#6", "1-5"),
        ("1,,2 * * * *", "empty"),
    ],
)
def test_invalid_expressions_name_the_field(expr, field):
    with pytest.raises(CronError, match=field):
        CronSchedule.parse(expr)


def test_next_after_crosses_month_and_year():
    schedule = CronSchedule.parse("30 6 1 1 *")
    assert schedule.next_after(at(2026, 11, 26, 13, 7)) == at(2027, 1, 1, 6, 30)
    assert CronSchedule.parse("0 0 29 2 *").next_after(at(2026, 3, 1)) == at(2028, 2, 29)
    assert CronSchedule.parse("*/5 * * * *").next_after(at(2026, 12, 31, 23, 58, 30)) == at(2027, 1, 1, 0, 0)


def test_next_after_is_strictly_later():
    schedule = CronSchedule.parse("0 * * * *")
    assert schedule.next_after(at(2026, 1, 1, 10, 0)) == at(2026, 1, 1, 11, 0)


async def test_scheduler_tick_fires_due_crons_and_survives_a_failure():
    fired = []

    async def fire(cron, when):
        fired.append((cron, when))
        if cron == "* * * * *":
            raise RuntimeError("handler failed")

    scheduler = CronScheduler(["* * * * *", "0 * * * *", "30 * * * *"], fire)
    assert await scheduler.tick(at(2026, 1, 1, 10, 0, 42)) == ["* * * * *", "0 * * * *"]
    assert fired == [("* * * * *", at(2026, 1, 1, 10, 0)), ("0 * * * *", at(2026, 1, 1, 10, 0))]


async def test_scheduler_run_sleeps_until_the_next_minute():
    now = [at(2026, 1, 1, 10, 0, 30).timestamp()]
    fired, sleeps = [], []

    async def fake_sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds
        if len(sleeps) > 2:
            raise StopAsyncIteration

    async def fire(cron, when):
        fired.append(when)

    scheduler = CronScheduler(["* * * * *"], fire, clock=lambda: now[0], sleep=fake_sleep)
    with pytest.raises(StopAsyncIteration):
        await scheduler.run()
    assert sleeps[:2] == [30.0, 60.0]
    assert fired == [at(2026, 1, 1, 10, 1), at(2026, 1, 1, 10, 2)]
