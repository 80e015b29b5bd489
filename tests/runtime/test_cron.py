"""Cron triggers in Cloudflare's syntax (day of week 1-7 with Sunday = 1), evaluated in UTC."""

import asyncio
import datetime as dt
import logging
import random

import pytest

from dotdo_dev.runtime.cron import CronScheduler
from shared.cron import CronError, CronSchedule

UTC = dt.UTC


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


# November 2026: Sunday 1st, Friday 13th, Sunday 15th, Friday 27th, Monday 30th (last day).
@pytest.mark.parametrize(
    ("expr", "moment", "expected"),
    [
        ("* * * * *", at(2026, 11, 26, 13, 7), True),
        # minutes and hours: values, lists, ranges, steps
        ("7 13 * * *", at(2026, 11, 26, 13, 7), True),
        ("7 13 * * *", at(2026, 11, 26, 14, 7), False),
        ("0,30 * * * *", at(2026, 11, 26, 13, 30), True),
        ("*/15 * * * *", at(2026, 11, 26, 13, 45), True),
        ("*/15 * * * *", at(2026, 11, 26, 13, 46), False),
        ("5/20 * * * *", at(2026, 11, 26, 13, 45), True),  # 5, 25, 45
        ("5/20 * * * *", at(2026, 11, 26, 13, 0), False),
        ("5-10/2 * * * *", at(2026, 11, 26, 13, 9), True),
        ("5-10/2 * * * *", at(2026, 11, 26, 13, 8), False),
        ("0 9-17 * * *", at(2026, 11, 26, 17, 0), True),
        ("0 9-17 * * *", at(2026, 11, 26, 18, 0), False),
        # a range whose start is after its end wraps around (Quartz, saffron)
        ("0 22-2 * * *", at(2026, 11, 26, 23, 0), True),
        ("0 22-2 * * *", at(2026, 11, 26, 1, 0), True),
        ("0 22-2 * * *", at(2026, 11, 26, 21, 0), False),
        ("50-10/5 * * * *", at(2026, 11, 26, 13, 0), True),  # 50, 55, 0, 5, 10
        ("50-10/5 * * * *", at(2026, 11, 26, 13, 15), False),
        # day of week: 1-7 with Sunday = 1, names in any case
        ("0 0 * * 1", at(2026, 11, 29, 0, 0), True),  # a Sunday
        ("0 0 * * 1", at(2026, 11, 30, 0, 0), False),  # a Monday
        ("0 0 * * SUN", at(2026, 11, 29, 0, 0), True),
        ("0 0 * * 7", at(2026, 11, 28, 0, 0), True),  # Saturday
        ("0 0 * * 2-6", at(2026, 11, 30, 0, 0), True),  # Mon-Fri
        ("0 0 * * 2-6", at(2026, 11, 29, 0, 0), False),
        ("0 9 * * MON-FRI", at(2026, 11, 27, 9, 0), True),  # a Friday
        ("0 9 * * mon-fri", at(2026, 11, 28, 9, 0), False),  # a Saturday
        ("0 0 * * SUN,SAT", at(2026, 11, 28, 0, 0), True),
        ("0 0 * * FRI-MON", at(2026, 11, 29, 0, 0), True),  # wraps: Fri, Sat, Sun, Mon
        ("0 0 * * FRI-MON", at(2026, 11, 30, 0, 0), True),
        ("0 0 * * FRI-MON", at(2026, 11, 26, 0, 0), False),  # Thursday
        ("0 0 * * */2", at(2026, 11, 29, 0, 0), True),  # Sun, Tue, Thu, Sat
        ("0 0 * * */2", at(2026, 11, 30, 0, 0), False),
        ("0 0 * * L", at(2026, 11, 28, 0, 0), True),  # L alone: Saturday
        # months
        ("0 0 1 JAN *", at(2027, 1, 1, 0, 0), True),
        ("0 0 1 jan,Jul *", at(2027, 7, 1, 0, 0), True),
        ("0 0 1 NOV-FEB *", at(2027, 2, 1, 0, 0), True),
        ("0 0 1 NOV-FEB *", at(2027, 3, 1, 0, 0), False),
        ("0 0 1 */3 *", at(2027, 4, 1, 0, 0), True),  # 1, 4, 7, 10
        # day of month
        ("0 0 1,15 * *", at(2026, 11, 15, 0, 0), True),
        ("0 0 28-3 * *", at(2026, 11, 2, 0, 0), True),
        ("0 0 28-3 * *", at(2026, 11, 4, 0, 0), False),
        # both day fields restricted: either matches
        ("0 0 13 * 6", at(2026, 11, 13, 0, 0), True),  # the 13th (a Friday too)
        ("0 0 13 * 6", at(2026, 11, 20, 0, 0), True),  # any Friday
        ("0 0 13 * 6", at(2026, 11, 21, 0, 0), False),
        ("0 0 1 * MON", at(2026, 11, 30, 0, 0), True),
        ("0 0 5 * */1", at(2026, 11, 26, 0, 0), True),  # */1 is not '*': every day matches the day-of-week
        ("0 0 5 * *", at(2026, 11, 26, 0, 0), False),
        # L: last day, L-n, LW, L-nW
        ("0 0 L * *", at(2026, 2, 28, 0, 0), True),
        ("0 0 L * *", at(2028, 2, 29, 0, 0), True),
        ("0 0 L * *", at(2028, 2, 28, 0, 0), False),
        ("0 0 L-2 * *", at(2026, 11, 28, 0, 0), True),
        ("0 0 L-30 * *", at(2026, 12, 1, 0, 0), True),
        ("0 0 LW * *", at(2026, 5, 29, 0, 0), True),  # May 31 2026 is a Sunday: Friday 29th
        ("0 0 LW * *", at(2026, 5, 31, 0, 0), False),
        ("0 0 LW * *", at(2026, 11, 30, 0, 0), True),  # a Monday
        ("0 0 L-1W * *", at(2026, 5, 29, 0, 0), True),  # May 30 is a Saturday: Friday 29th
        ("0 0 L-1W * *", at(2026, 6, 1, 0, 0), False),
        # nW: the weekday nearest day n, never leaving the month
        ("0 0 15W * *", at(2026, 11, 16, 0, 0), True),  # the 15th is a Sunday: Monday 16th
        ("0 0 15W * *", at(2026, 11, 13, 0, 0), False),
        ("0 0 14W * *", at(2026, 11, 13, 0, 0), True),  # the 14th is a Saturday: Friday 13th
        ("0 0 13W * *", at(2026, 11, 13, 0, 0), True),
        ("0 0 1W * *", at(2026, 8, 3, 0, 0), True),  # Aug 1 2026 is a Saturday: Monday 3rd
        ("0 0 1W * *", at(2026, 7, 31, 0, 0), False),
        ("0 0 31W * *", at(2026, 5, 29, 0, 0), True),  # May 31 2026 is a Sunday, the last day: Friday 29th
        ("0 0 31W * *", at(2026, 11, 30, 0, 0), False),  # November has no 31st
        # day of week: xL (last x of the month), x#k (k-th x)
        ("0 0 * * 6L", at(2026, 11, 27, 0, 0), True),  # last Friday of November 2026
        ("0 0 * * 6L", at(2026, 11, 20, 0, 0), False),
        ("0 0 * * FRIL", at(2026, 11, 27, 0, 0), True),
        ("0 0 * * 2#1", at(2026, 11, 2, 0, 0), True),  # first Monday
        ("0 0 * * MON#2", at(2026, 11, 9, 0, 0), True),
        ("0 0 * * MON#2", at(2026, 11, 2, 0, 0), False),
        ("0 0 * * 1#5", at(2026, 11, 29, 0, 0), True),  # fifth Sunday
        # seconds do not matter; naive times are UTC; aware times are converted
        ("7 13 * * *", at(2026, 11, 26, 13, 7, 59), True),
        ("7 13 * * *", dt.datetime(2026, 11, 26, 13, 7), True),
        ("7 13 * * *", dt.datetime(2026, 11, 26, 14, 7, tzinfo=dt.timezone(dt.timedelta(hours=1))), True),
    ],
)
def test_matches(expr, moment, expected):
    assert CronSchedule.parse(expr).matches(moment) is expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "5 fields"),
        ("* * * * * *", "5 fields"),
        ("", "5 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("-1 * * * *", "minute"),
        ("a * * * *", "minute: 'a' is not a number"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day-of-month"),
        ("* * 32 * *", "day-of-month"),
        ("* * * 13 *", "month"),
        ("* * * FOO *", "month: 'FOO' is not a number or one of JAN/"),
        ("* * * * 0", "Sunday = 1"),
        ("* * * * 0-3", "Sunday = 1"),
        ("* * * * 8", "day-of-week"),
        ("* * * * MON-FOO", "day-of-week"),
        ("*/0 * * * *", "minute: the step"),
        ("*/60 * * * *", "minute: the step .* from 1 to 59"),
        ("* */24 * * *", "hour: the step"),
        ("* * * * */7", "day-of-week: the step"),
        ("1,,2 * * * *", "empty"),
        ("5,* * * * *", r"'\*' cannot be an item"),
        ("* * ? * *", "day-of-month"),  # saffron does not take '?'
        ("* * * * ?", "day-of-week"),
        ("* * l * *", "day-of-month"),  # L and W are upper case only
        ("* * L,15 * *", "day-of-month: 'L,15'"),
        ("* * 15W,20 * *", "day-of-month"),
        ("* * L-0 * *", "day-of-month: the offset"),
        ("* * L-31 * *", "day-of-month: the offset"),
        ("* * 32W * *", "day-of-month"),
        ("* * * * MON#6", "1-5"),
        ("* * * * MON#0", "1-5"),
        ("* * * * 8#1", "day-of-week"),
        ("* * * * 5L,6", "day-of-week"),
        ("* * * * 9L", "day-of-week"),
        ("0 0 31 11 *", "never fires"),  # November has no 31st
        ("0 0 30 FEB *", "never fires"),
        ("0 0 L-29 FEB *", "never fires"),
    ],
)
def test_invalid_expressions_name_the_field(expr, message):
    with pytest.raises(CronError, match=message):
        CronSchedule.parse(expr)


def test_cron_errors_are_value_errors():
    with pytest.raises(ValueError, match="string"):
        CronSchedule.parse(None)


def test_whitespace_between_fields_is_flexible():
    assert CronSchedule.parse("0  9\t* * 2").matches(at(2026, 11, 30, 9, 0))


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 * * * *", at(2026, 1, 1, 10, 0), at(2026, 1, 1, 11, 0)),  # strictly later
        ("0 * * * *", at(2026, 1, 1, 10, 0, 59, 999), at(2026, 1, 1, 11, 0)),
        ("* * * * *", at(2026, 1, 1, 10, 0, 30), at(2026, 1, 1, 10, 1)),
        ("30 6 1 1 *", at(2026, 11, 26, 13, 7), at(2027, 1, 1, 6, 30)),  # into the next year
        ("*/5 * * * *", at(2026, 12, 31, 23, 58, 30), at(2027, 1, 1, 0, 0)),
        ("0 0 29 2 *", at(2026, 3, 1), at(2028, 2, 29)),  # the next leap day
        ("0 0 31 * *", at(2026, 4, 1), at(2026, 5, 31)),  # skips 30-day months
        ("0 0 L * *", at(2026, 2, 28, 0, 0), at(2026, 3, 31)),
        ("15 10 * * MON#1", at(2026, 11, 30), at(2026, 12, 7, 10, 15)),
        ("0 12 * * 1", at(2026, 11, 28, 12, 0), at(2026, 11, 29, 12, 0)),  # Sunday
        ("59 23 * * *", at(2026, 11, 26, 23, 59), at(2026, 11, 27, 23, 59)),
        ("0 0 * FEB THU#5", at(2024, 3, 1), at(2052, 2, 29)),  # a fifth Thursday in February: every 28 years
        ("0 9 * * *", dt.datetime(2026, 1, 1, 8, 30), at(2026, 1, 1, 9, 0)),  # naive is UTC
        ("0 9 * * *", dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), at(2026, 1, 1, 9)),
    ],
)
def test_next_after(expr, after, expected):
    found = CronSchedule.parse(expr).next_after(after)
    assert found == expected
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    "expr",
    ["*/7 3-5 * * MON", "0 0 L * *", "15 10 15W * *", "0 12 * * 6#2", "30 */6 1,15 * FRI", "0 22-2 * * SAT-MON"],
)
def test_next_after_agrees_with_checking_every_minute(expr):
    schedule = CronSchedule.parse(expr)
    rng = random.Random(expr)
    for _ in range(3):
        start = at(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(60 * 24 * 365))
        expected = start.replace(second=0) + dt.timedelta(minutes=1)
        while not schedule.matches(expected):
            expected += dt.timedelta(minutes=1)
        assert schedule.next_after(start) == expected


# -- the scheduler ----------------------------------------------------------------------------------


class Stop(Exception):
    pass


class FakeTime:
    """A clock and a sleep that advances it; `stop_after` sleeps raise `Stop` to end `run()`."""

    def __init__(self, start, stop_after=10, short=0.0):
        self.now = start.timestamp()
        self.sleeps = []
        self.stop_after = stop_after
        self.short = short  # a real sleep may wake a little early

    def clock(self):
        return self.now

    async def sleep(self, seconds):
        if len(self.sleeps) >= self.stop_after:
            raise Stop
        self.sleeps.append(seconds)
        self.now += max(seconds - self.short, 0.001)
        await asyncio.sleep(0)


async def test_tick_fires_due_crons_and_survives_a_failure(caplog):
    fired = []

    async def fire(cron, when):
        fired.append((cron, when))
        if cron == "* * * * *":
            raise RuntimeError("handler failed")

    scheduler = CronScheduler(["* * * * *", "0 * * * *", "30 * * * *"], fire)
    with caplog.at_level(logging.ERROR, logger="dotdo.cron"):
        assert await scheduler.tick(at(2026, 1, 1, 10, 0, 42)) == ["* * * * *", "0 * * * *"]
    assert fired == [("* * * * *", at(2026, 1, 1, 10, 0)), ("0 * * * *", at(2026, 1, 1, 10, 0))]
    assert any("handler failed" in (r.exc_text or str(r.exc_info)) for r in caplog.records)
    assert await scheduler.tick(dt.datetime(2026, 1, 1, 10, 30)) == ["* * * * *", "30 * * * *"]


async def test_tick_on_sunday_and_duplicates_fire_once():
    fired = []

    async def fire(cron, when):
        fired.append(cron)

    scheduler = CronScheduler(["0 8 * * 1", "0 8 * * 2", "0 8 * * 1"], fire)
    assert await scheduler.tick(at(2026, 11, 29, 8, 0)) == ["0 8 * * 1"]  # a Sunday
    assert fired == ["0 8 * * 1"]


def test_scheduler_refuses_invalid_crons():
    async def fire(cron, when):
        pass

    with pytest.raises(CronError, match="minute"):
        CronScheduler(["61 * * * *"], fire)


async def test_run_sleeps_until_each_minute_and_fires_with_the_scheduled_time():
    time = FakeTime(at(2026, 1, 1, 10, 0, 30), stop_after=3)
    fired = []

    async def fire(cron, when):
        fired.append((cron, when))

    scheduler = CronScheduler(["* * * * *", "*/2 * * * *"], fire, clock=time.clock, sleep=time.sleep)
    with pytest.raises(Stop):
        await scheduler.run()
    assert time.sleeps == [30.0, 60.0, 60.0]
    assert fired == [
        ("* * * * *", at(2026, 1, 1, 10, 1)),
        ("* * * * *", at(2026, 1, 1, 10, 2)),
        ("*/2 * * * *", at(2026, 1, 1, 10, 2)),
        ("* * * * *", at(2026, 1, 1, 10, 3)),
    ]


async def test_run_sleeps_in_steps_of_at_most_a_minute():
    time = FakeTime(at(2026, 1, 1, 10, 0), stop_after=200)
    fired = []

    async def fire(cron, when):
        fired.append(when)
        raise Stop  # caught and logged by the scheduler: stop through the sleep instead

    scheduler = CronScheduler(["0 12 * * *"], fire, clock=time.clock, sleep=time.sleep)
    task = asyncio.create_task(scheduler.run())
    async with asyncio.timeout(5):
        while not fired:
            await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fired == [at(2026, 1, 1, 12, 0)]
    assert time.sleeps[:120] == [60.0] * 120  # two hours, re-reading the clock every minute


async def test_run_never_fires_a_minute_twice_when_sleep_wakes_early():
    time = FakeTime(at(2026, 1, 1, 10, 0, 30), stop_after=6, short=0.002)
    fired = []

    async def fire(cron, when):
        fired.append(when)

    scheduler = CronScheduler(["* * * * *"], fire, clock=time.clock, sleep=time.sleep)
    with pytest.raises(Stop):
        await scheduler.run()
    assert fired == sorted(set(fired))
    assert fired[:2] == [at(2026, 1, 1, 10, 1), at(2026, 1, 1, 10, 2)]


async def test_run_survives_failing_handlers():
    time = FakeTime(at(2026, 1, 1, 10, 0, 30), stop_after=3)
    calls = []

    async def fire(cron, when):
        calls.append(when)
        raise RuntimeError("scheduled handler failed")

    scheduler = CronScheduler(["* * * * *"], fire, clock=time.clock, sleep=time.sleep)
    with pytest.raises(Stop):
        await scheduler.run()
    assert len(calls) == 3


async def test_run_skips_a_minute_missed_while_the_machine_slept(caplog):
    time = FakeTime(at(2026, 1, 1, 10, 0, 30), stop_after=2)
    slept_through = {"done": False}
    original = time.sleep

    async def sleep_through_the_night(seconds):
        if not slept_through["done"]:
            slept_through["done"] = True
            time.now += 3 * 3600  # the laptop lid was closed
            return
        await original(seconds)

    fired = []

    async def fire(cron, when):
        fired.append(when)

    scheduler = CronScheduler(["* * * * *"], fire, clock=time.clock, sleep=sleep_through_the_night)
    with caplog.at_level(logging.WARNING, logger="dotdo.cron"), pytest.raises(Stop):
        await scheduler.run()
    assert at(2026, 1, 1, 10, 1) not in fired  # not fired hours late
    assert fired[0] == at(2026, 1, 1, 13, 1)  # woke at 13:00:30: the next minute is the next fire
    assert any("skipped" in r.getMessage() for r in caplog.records)


async def test_a_slow_handler_does_not_delay_the_next_minute_and_is_cancelled_with_run():
    time = FakeTime(at(2026, 1, 1, 10, 0, 30), stop_after=100)
    started, cancelled = [], []

    async def fire(cron, when):
        started.append(when)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(when)
            raise

    scheduler = CronScheduler(["* * * * *"], fire, clock=time.clock, sleep=time.sleep)
    task = asyncio.create_task(scheduler.run())
    async with asyncio.timeout(5):
        while len(started) < 3:
            await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert started[:3] == [at(2026, 1, 1, 10, 1), at(2026, 1, 1, 10, 2), at(2026, 1, 1, 10, 3)]
    assert sorted(cancelled) == started


async def test_run_without_crons_returns():
    async def fire(cron, when):
        raise AssertionError("never")

    await CronScheduler([], fire).run()


def test_the_runtime_fires_with_the_one_implementation_workers_bundle():
    import dotdo_dev.runtime.cron as runtime_cron
    import shared.cron

    assert runtime_cron.CronSchedule is shared.cron.CronSchedule
    assert runtime_cron.CronError is shared.cron.CronError


def test_next_times_lists_the_following_firings_in_order():
    # Sunday is 1: SUN and 1 are the same day; 2026-11-26 is a Thursday.
    times = CronSchedule.parse("0 4 * * SUN").next_times(at(2026, 11, 26, 12, 0), 3)
    assert times == [at(2026, 11, 29, 4, 0), at(2026, 12, 6, 4, 0), at(2026, 12, 13, 4, 0)]
    assert CronSchedule.parse("0 4 * * 1").next_times(at(2026, 11, 26, 12, 0), 3) == times
    assert CronSchedule.parse("*/5 * * * *").next_times(at(2026, 11, 26, 12, 4, 59), 2) == [
        at(2026, 11, 26, 12, 5),
        at(2026, 11, 26, 12, 10),
    ]


def test_an_expression_is_parsed_once_and_a_bad_one_refused_every_time():
    assert CronSchedule.parse("0 4 * * SUN") is CronSchedule.parse("0 4 * * SUN")
    for _ in range(2):
        with pytest.raises(CronError, match="expected 5 fields"):
            CronSchedule.parse("0 4 * *")
    with pytest.raises(CronError, match="is a string"):
        CronSchedule.parse(["0", "4", "*", "*", "*"])  # checked before the cache, which could not take a list


def test_next_times_depend_on_the_minute_only_and_are_a_fresh_list_each_time():
    schedule = CronSchedule.parse("*/15 * * * *")
    early = schedule.next_times(dt.datetime(2026, 12, 3, 6, 14, 0, tzinfo=dt.UTC), 3)
    late = schedule.next_times(dt.datetime(2026, 12, 3, 6, 14, 59, 999999, tzinfo=dt.UTC), 3)
    assert early == late == [dt.datetime(2026, 12, 3, 6, m, tzinfo=dt.UTC) for m in (15, 30, 45)]
    early.append("changed")  # a caller's list is its own: the kept answer is not touched
    assert schedule.next_times(dt.datetime(2026, 12, 3, 6, 14, 30, tzinfo=dt.UTC), 3) == late
    assert schedule.next_times(dt.datetime(2026, 12, 3, 6, 15, 0, tzinfo=dt.UTC), 1) == [
        dt.datetime(2026, 12, 3, 6, 30, tzinfo=dt.UTC)
    ]
    naive = schedule.next_times(dt.datetime(2026, 12, 3, 6, 14, 10), 1)  # naive means UTC
    assert naive == [dt.datetime(2026, 12, 3, 6, 15, tzinfo=dt.UTC)]
