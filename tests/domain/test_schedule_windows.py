"""Window edges, overnight windows, holidays, cron edges and DST changes."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from epmgr.cron import cron_trigger
from epmgr.cron import phase as schedule_phase
from epmgr.domain.policy import Schedule
from epmgr.domain.schedule import ScheduleState, combine, edges_state, parse_window, windows_state

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


OFFICE = parse_window("Mon-Fri 08:00-19:00")


@pytest.mark.parametrize(
    ("now", "active", "since", "next_change"),
    [
        # 2026-03-02 is a Monday; Berlin is UTC+1 in winter.
        (utc(2026, 3, 2, 6, 59), False, utc(2026, 2, 27, 18, 0), utc(2026, 3, 2, 7, 0)),
        (utc(2026, 3, 2, 7, 0), True, utc(2026, 3, 2, 7, 0), utc(2026, 3, 2, 18, 0)),  # the start is inside
        (utc(2026, 3, 2, 18, 0), False, utc(2026, 3, 2, 18, 0), utc(2026, 3, 3, 7, 0)),  # the end is outside
        (utc(2026, 3, 7, 12, 0), False, utc(2026, 3, 6, 18, 0), utc(2026, 3, 9, 7, 0)),  # Saturday
        # DST starts 2026-03-29 (02:00 -> 03:00): Monday 30th the window is 06:00-17:00 UTC.
        (utc(2026, 3, 27, 17, 59), True, utc(2026, 3, 27, 7, 0), utc(2026, 3, 27, 18, 0)),
        (utc(2026, 3, 30, 6, 0), True, utc(2026, 3, 30, 6, 0), utc(2026, 3, 30, 17, 0)),
        (utc(2026, 3, 30, 5, 59), False, utc(2026, 3, 27, 18, 0), utc(2026, 3, 30, 6, 0)),
        # DST ends 2026-10-25 (03:00 -> 02:00): Monday 26th back to 07:00-18:00 UTC.
        (utc(2026, 10, 26, 6, 30), False, utc(2026, 10, 23, 17, 0), utc(2026, 10, 26, 7, 0)),
    ],
    ids=["before-start", "at-start", "at-end", "weekend", "friday-before-dst", "monday-after-dst-start",
         "just-before-summer-start", "monday-after-dst-end"],
)  # fmt: skip
def test_office_hours_in_berlin(now: datetime, active: bool, since: datetime, next_change: datetime) -> None:
    assert windows_state([OFFICE], BERLIN, now) == ScheduleState(active, since, next_change)


def test_a_window_starting_in_the_skipped_hour_opens_an_hour_later_in_wall_time() -> None:
    night = parse_window("Sun 02:30-04:00")  # 2026-03-08: New York skips 02:00-03:00
    state = windows_state([night], NEW_YORK, utc(2026, 3, 8, 6, 0))
    assert state.next_change == utc(2026, 3, 8, 7, 30)  # 03:30 EDT: 02:30 taken with the standard-time offset


def test_a_window_across_the_repeated_hour_lasts_an_hour_longer() -> None:
    night = parse_window("Sun 00:00-04:00")  # 2026-11-01: New York repeats 01:00-02:00
    state = windows_state([night], NEW_YORK, utc(2026, 11, 1, 5, 0))
    assert state.active and state.next_change is not None and state.since is not None
    assert state.next_change - state.since == (utc(2026, 11, 1, 9) - utc(2026, 11, 1, 4))


def test_overnight_window_runs_past_midnight_and_holidays_skip_the_day() -> None:
    night = parse_window("Fri 22:00-06:00")
    assert windows_state([night], timezone.utc, utc(2026, 3, 7, 3, 0)).active  # Saturday 03:00
    holidays = frozenset({date(2026, 3, 6)})
    assert not windows_state([night], timezone.utc, utc(2026, 3, 7, 3, 0), holidays).active
    state = windows_state([OFFICE], timezone.utc, utc(2026, 12, 24, 20), frozenset({date(2026, 12, 25)}))
    assert state.next_change == utc(2026, 12, 28, 8)  # Friday the 25th skipped, then the weekend


def test_overlapping_windows_merge_into_one() -> None:
    morning, later = parse_window("Mon 08:00-12:00"), parse_window("Mon 11:00-14:00")
    state = windows_state([morning, later], timezone.utc, utc(2026, 3, 2, 9))
    assert state == ScheduleState(True, utc(2026, 3, 2, 8), utc(2026, 3, 2, 14))


def test_edges_and_combine() -> None:
    on = edges_state(utc(2026, 3, 2, 8), utc(2026, 3, 1, 18), utc(2026, 3, 3, 8), utc(2026, 3, 2, 18))
    assert on == ScheduleState(True, utc(2026, 3, 2, 8), utc(2026, 3, 2, 18))
    off = edges_state(None, utc(2026, 3, 2, 18), utc(2026, 3, 3, 8), None)
    assert not off.active
    both = combine(on, off)
    assert both is not None and both.active and both.next_change == utc(2026, 3, 2, 18)
    assert combine(None, off) == off


def test_cron_weekdays_count_from_sunday_as_in_unix() -> None:
    trigger = cron_trigger("0 8 * * 1-5", ZoneInfo("UTC"))
    assert trigger.get_next_fire_time(None, utc(2026, 3, 1, 9)) == utc(2026, 3, 2, 8)  # Sunday -> Monday


def test_cron_schedule_phase_with_holidays() -> None:
    schedule = Schedule(tz="Europe/Berlin", cron_start="0 8 * * mon-fri", cron_stop="0 19 * * mon-fri",
                        holidays=frozenset({date(2026, 3, 3)}))  # fmt: skip
    monday = schedule_phase(schedule, utc(2026, 3, 2, 9))
    assert monday == ScheduleState(True, utc(2026, 3, 2, 7), utc(2026, 3, 2, 18))
    tuesday = schedule_phase(schedule, utc(2026, 3, 3, 9))  # a holiday: no start
    assert tuesday is not None and not tuesday.active and tuesday.next_change == utc(2026, 3, 4, 7)
