"""The adaptive keep-alive's time-of-day evidence: a gap that begins where recent comparable days went quiet."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from epmgr.domain.adaptive import adaptive_decision
from epmgr.domain.daymap import DAYS, DayMap
from epmgr.domain.gaps import GapHistory
from epmgr.domain.model import ActionKind, EndpointState
from epmgr.domain.policy import AdaptiveKnobs

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
M = timedelta(minutes=1)
LEAD = 4 * M


def office(days: int, *, extra: tuple[timedelta, ...] = ()) -> tuple[GapHistory, datetime]:
    """Requests every 2 min from 09:00 to 11:59 on ``days`` days from Monday (weekends skipped), plus ``extra``
    moments (from each day's midnight); then the next working day's morning up to 11:59, its last request."""
    history, day, done = GapHistory(), T0, 0
    while done <= days:
        if day.weekday() < 5:
            moments = [day + timedelta(hours=9) + 2 * k * M for k in range(90)] + [day + 11 * 60 * M + 59 * M]
            if done < days:
                moments += [day + moment for moment in extra]
            for moment in sorted(moments):
                history.add(moment)
            done += 1
        day += timedelta(days=1)
    assert history.last is not None
    return history, history.last


def decide_at(history: GapHistory, last: datetime, idle: timedelta) -> tuple[ActionKind, str, str]:
    decision = adaptive_decision(AdaptiveKnobs(), history, EndpointState.RUNNING, last, last + idle, lead=LEAD)
    assert decision is not None
    return decision.action, decision.code, decision.reason


def test_a_gap_that_begins_where_recent_days_went_quiet_is_stopped_at_once() -> None:
    history, last = office(4)
    assert last == datetime(2026, 3, 6, 11, 59, tzinfo=timezone.utc)  # Friday, after Monday to Thursday
    assert decide_at(history, last, 1.5 * M) == (
        ActionKind.SCALE_TO_ZERO,
        "keepalive_stop",
        "stop now: on each of the last 4 weekdays busy at 11:44-11:59, nothing came at 12:00-12:29 "
        "(scale_to_zero_after 15m)",
    )


def test_too_few_days_or_a_request_in_the_window_is_no_evidence() -> None:
    history, last = office(2)
    assert not decide_at(history, last, 1.5 * M)[2].startswith("stop now: on each")
    history, last = office(4, extra=(12 * 60 * M + 20 * M,))  # lunch was not always quiet
    assert not decide_at(history, last, 1.5 * M)[2].startswith("stop now: on each")


def lunch(days: DayMap, day: datetime, *, after: int | None = None) -> None:
    """Busy 11:20-11:49 on ``day``; and a request ``after`` minutes past 11:49."""
    for minute in range(30):
        days.mark(day + timedelta(hours=11, minutes=20 + minute))
    if after is not None:
        days.mark(day + timedelta(hours=11, minutes=49 + after))


def test_weekend_days_are_compared_with_their_kind_first_then_with_any_recent_days() -> None:
    days = DayMap()
    for k in range(5):  # Monday to Friday, busy then quiet at 11:50
        lunch(days, T0 + timedelta(days=k))
    friday = T0 + timedelta(days=4, hours=11, minutes=49)
    quiet = days.quiet_after(friday, friday + 2 * M, 30)
    assert quiet is not None and (quiet.days, quiet.kind) == (4, "weekdays")
    saturday = T0 + timedelta(days=5, hours=11, minutes=49)  # the first weekend: no weekend day to compare with
    days.mark(saturday)
    quiet = days.quiet_after(saturday, saturday + 2 * M, 30)
    assert quiet is not None and quiet.describe() == (
        "on each of the last 5 days busy at 11:34-11:49, nothing came at 11:51-12:19"
    )


def test_a_comparable_day_with_a_request_in_the_window_is_evidence_against_whatever_other_days_say() -> None:
    days = DayMap()
    for k in range(12):  # two weeks busy then quiet at 11:50, but the first Saturday had a request at 12:00
        if (T0 + timedelta(days=k)).weekday() != 6:
            lunch(days, T0 + timedelta(days=k), after=11 if k == 5 else None)
    saturday = T0 + timedelta(days=12, hours=11, minutes=49)
    days.mark(saturday)
    assert days.quiet_after(saturday, saturday + 2 * M, 30) is None
    friday = T0 + timedelta(days=11, hours=11, minutes=49)
    assert days.quiet_after(friday, friday + 2 * M, 30) is not None  # weekdays have their own evidence


def test_the_window_past_midnight_reads_the_next_day() -> None:
    days = DayMap()
    for k in range(4):
        for minute in range(10):
            days.mark(T0 + timedelta(days=k, hours=23, minutes=40 + minute))
        days.mark(T0 + timedelta(days=k + 1, minutes=5))  # just after midnight, every night
    last = T0 + timedelta(days=4, hours=23, minutes=49)
    assert days.quiet_after(last, last + 2 * M, 10) is not None  # 23:51-23:59
    assert days.quiet_after(last, last + 2 * M, 30) is None  # ... to 00:19: the 00:05 request


@pytest.mark.parametrize(
    ("busy_hours", "stops"),
    [
        # A service's night: busy 08:00-20:00 every weekday, a lone request at 02:00. On those 5 weekdays a window
        # of 29 quiet minutes begins at about half the minutes: 0.48^5 = 3 % <= 5 %, the quiet is not chance: stop.
        (range(8, 20), True),
        # A developer's two hours a day: such a window begins at 90 % of the minutes (0.9^5 = 59 %): the same quiet
        # nights are no evidence after a lone request, which is then usually the start of a session.
        (range(14, 16), False),
    ],
)
def test_after_a_lone_request_the_quiet_days_must_not_be_chance(busy_hours: range, stops: bool) -> None:
    days = DayMap()
    for k in range(7):
        day = T0 + timedelta(days=k)
        if day.weekday() < 5:
            for hour in busy_hours:
                for minute in range(0, 60, 3):
                    days.mark(day + timedelta(hours=hour, minutes=minute))
    lone = T0 + timedelta(days=7, hours=2)  # the next Monday, 02:00
    days.mark(lone)
    quiet = days.quiet_after(lone, lone + 2 * M, 30, lone=True)
    assert (quiet is not None) == stops
    if quiet is not None:
        assert quiet.describe() == (
            "a lone request at 02:00; on each of the last 5 weekdays, nothing came at 02:02-02:30"
        )


def test_the_day_map_is_bounded() -> None:
    days = DayMap()
    for k in range(3 * DAYS):
        days.mark(T0 + timedelta(days=k, hours=10))
    assert len(days._days) == DAYS


def separated_by(gaps: list[float]) -> tuple[GapHistory, datetime]:
    moments, moment = [T0], T0
    for gap in gaps:
        moment += timedelta(minutes=gap)
        moments.append(moment)
    return GapHistory.from_requests(moments), moments[-1]


def test_near_the_anchor_a_stop_needs_a_void_in_the_gaps() -> None:
    # Gaps of 2 min, 17 min or hours: a gap past 2 min will be long. Early on it is stopped; within a start-up of
    # the 15-minute anchor it is not, since some gaps end within a start-up after it (a restart's risk outweighs the
    # minute or two saved) ...
    history, last = separated_by([2, 70, 2, 95, 2, 130, 2, 180, 2, 17] * 20)
    early = decide_at(history, last, 3 * M)
    assert early[:2] == (ActionKind.SCALE_TO_ZERO, "keepalive_stop")
    assert decide_at(history, last, 12 * M)[1:] == (
        "keep_warm",
        "keep warm until 2026-03-08T23:35+00:00: within a start-up (4m) of scale_to_zero_after: 20 of the last 100 "
        "gaps still idle after 12m ended within 19m (a restart's risk 21%, Laplace); a stop saves 3.0 replica-minutes,"
        " a restart costs 15.0 replica-minutes: not worth it",
    )
    # ... unless none of the gaps that lasted that long ended before the anchor and a start-up.
    history, last = separated_by([2, 70, 2, 95, 2, 130, 2, 180] * 20)
    assert decide_at(history, last, 12 * M) == (
        ActionKind.SCALE_TO_ZERO,
        "keepalive_stop",
        "stop now: 0 of the last 80 gaps still idle after 12m ended within 19m (a restart's risk 1%, Laplace); a stop "
        "saves 3.0 replica-minutes, a restart costs 15.0 replica-minutes: worth it",
    )


@pytest.mark.parametrize(
    ("ended", "idle", "code", "risk"),
    [
        # A void of 10 gaps: a 8% risk is worth 2 minutes saved (2 / (2 + 15) = 12%) ...
        (10, 13.0, "keepalive_stop", "8%"),
        # ... not 1 minute (1 / 16 = 6%): that needs 15 gaps.
        (10, 14.0, "keep_warm", "8%"),
        (15, 14.0, "keepalive_stop", "6%"),
        # 4 gaps (17%) would be worth 4 minutes saved (4 / 19 = 21%), but not the bank's last cold start (at most
        # 10%: see the next test); 3 gaps (20%) are not worth 3 (3 / 18 = 17%).
        (4, 11.0, "keep_warm", "17%"),
        (3, 12.0, "keep_warm", "20%"),
    ],
)
def test_a_void_near_the_anchor_is_priced(ended: int, idle: float, code: str, risk: str) -> None:
    """Developer sessions (a request a minute, pauses of 3-9 min) that ended in gaps of hours, irregularly: within a
    start-up of the anchor the end of the next session is stopped when the Laplace risk of a restart (none of the
    ``ended`` sessions' ends ended within it) is worth the minutes a stop saves now."""
    gaps: list[float] = []
    for k in range(ended + 1):
        gaps += [1] * (20 + k) + [3, 5, 9] + [1] * 20 + [200 + 37 * k]
    history, last = separated_by(gaps[:-1])
    _, got, reason = decide_at(history, last, idle * M)
    assert got == code
    assert f"0 of the last {ended} gaps still idle after {idle:g}m ended within 19m (a restart's risk {risk}" in reason


def test_a_riskier_void_is_worth_a_cold_start_banked_but_not_the_last_one() -> None:
    gaps: list[float] = []
    for k in range(5):
        gaps += [1] * (20 + k) + [3, 5, 9] + [1] * 20 + [200 + 37 * k]
    history, last = separated_by(gaps[:-1])
    held = decide_at(history, last, 11 * M)
    assert held[1] == "keep_warm"
    worth = "a restart costs 15.0 replica-minutes: worth it, but not the bank's last cold start (a risk of at most 10%)"
    assert worth in held[2]
    history.bank.saved = 1  # a cold start saved (a pre-warm, a keep past the timeout)
    assert decide_at(history, last, 11 * M)[1] == "keepalive_stop"


def test_past_the_anchor_it_is_kept_only_when_most_such_gaps_end_soon() -> None:
    history, last = separated_by([16.5] * 4 + [60, 70, 80, 90, 100])  # 44% end by 17m
    past = decide_at(history, last, 15.5 * M)
    assert past[:2] == (ActionKind.SCALE_TO_ZERO, "keepalive_stop") and "kept only when most do" in past[2]
