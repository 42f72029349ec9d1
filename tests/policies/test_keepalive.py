"""The learned keep-alive: an hour-of-week profile from request times, and what it decides."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from epmgr.domain.decide import Situation, decide
from epmgr.domain.keepalive import WEEK, TrafficProfile, keepalive_decision, learn_profile, slot_of
from epmgr.domain.model import ActionKind, Activity, EndpointRef, EndpointState, Hold
from epmgr.domain.policy import EndpointPolicy, IdlePolicy, Schedule
from epmgr.domain.schedule import ScheduleState, parse_window

M = timedelta(minutes=1)
MONDAY = datetime(2026, 3, 30, tzinfo=timezone.utc)  # Monday 00:00 UTC, four weeks of history before it
NOW = MONDAY + timedelta(hours=8, minutes=50)
LEAD = 5 * M
RUNNING, PAUSED, ZERO = EndpointState.RUNNING, EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO


def mondays(hour: int, weeks: tuple[int, ...], minute: int = 20) -> list[datetime]:
    return [MONDAY - k * WEEK + timedelta(hours=hour, minutes=minute) for k in weeks]


# Monday 09:00-11:00 busy in 3 of 4 weeks; 14:00 once only (not likely); Tuesday 03:00 in 2 of 4 (likely).
STARTS = [*mondays(9, (1, 2, 3)), *mondays(10, (1, 2, 4)), *mondays(14, (2,)),
          *[MONDAY - k * WEEK + timedelta(days=1, hours=3) for k in (1, 3)]]  # fmt: skip
PROFILE = learn_profile(STARTS, NOW, timezone.utc)


def test_the_profile_counts_weeks_per_hour_of_the_week() -> None:
    assert (PROFILE.weeks, PROFILE.min_weeks) == (4, 2)
    assert PROFILE.seen == {9: 3, 10: 3, 14: 1, 24 + 3: 2}
    assert PROFILE.evidence(MONDAY + timedelta(hours=9, minutes=30)) == (
        "traffic seen in 3 of the last 4 Mondays 09:00-10:00"
    )
    assert PROFILE.likely(MONDAY + timedelta(hours=10, minutes=59))
    assert not PROFILE.likely(MONDAY + timedelta(hours=14))
    assert PROFILE.busy_from(MONDAY + timedelta(hours=10)) == MONDAY + timedelta(hours=9)
    assert PROFILE.busy_until(MONDAY + timedelta(hours=9)) == MONDAY + timedelta(hours=11)
    assert PROFILE.next_busy(MONDAY + timedelta(hours=11)) == MONDAY + timedelta(days=1, hours=3)


def test_many_requests_in_one_hour_count_once_and_old_ones_not_at_all() -> None:
    burst = [MONDAY - WEEK + timedelta(hours=9, seconds=s) for s in range(100)]
    profile = learn_profile([*burst, MONDAY - 5 * WEEK + timedelta(hours=9)], NOW, timezone.utc)
    assert profile.seen == {9: 1}


def test_a_young_endpoint_is_judged_on_the_weeks_it_has() -> None:
    profile = learn_profile(mondays(9, (1,)), NOW, timezone.utc, known_since=NOW - WEEK)
    assert (profile.weeks, profile.min_weeks) == (1, 1)
    assert profile.evidence(MONDAY + timedelta(hours=9)) == "traffic seen in 1 of the last 1 Mondays 09:00-10:00"


def test_hours_are_local_to_the_time_zone_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 09:30 in Berlin: 08:30 UTC in winter (March 16 and 23), 07:30 UTC in summer (April 6).
    starts = [datetime(2026, 3, 16, 8, 30, tzinfo=timezone.utc), datetime(2026, 3, 23, 8, 30, tzinfo=timezone.utc)]
    profile = learn_profile(starts, datetime(2026, 4, 6, 7, 0, tzinfo=timezone.utc), berlin)
    assert profile.seen == {9: 2}
    assert profile.likely(datetime(2026, 4, 6, 7, 30, tzinfo=timezone.utc))
    assert slot_of(datetime(2026, 4, 6, 7, 30, tzinfo=timezone.utc), berlin) == 9


def at(hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("now", "state", "handled", "action", "code"),
    [
        (at(8, 50), PAUSED, None, None, None),  # more than one lead before the stretch: the idle policy applies
        (at(8, 55), PAUSED, None, ActionKind.RESUME, "keepalive_prewarm"),  # one cold start ahead: pre-warm
        (at(8, 56), ZERO, None, ActionKind.RESUME, "keepalive_prewarm"),
        (at(8, 56), PAUSED, at(8, 55), None, None),  # once per stretch
        (at(10, 30), PAUSED, at(8, 55), None, None),  # still the same stretch (09:00-11:00)
        (at(10, 30), PAUSED, at(10, 0), None, None),  # a person paused it in the stretch: respected
        (at(10, 30), PAUSED, None, ActionKind.RESUME, "keepalive_prewarm"),  # missed the lead: wake it now
        (at(8, 56), RUNNING, None, ActionKind.NONE, "keep_warm"),  # warm: no idle action
        (at(10, 59), RUNNING, None, ActionKind.NONE, "keep_warm"),
        (at(10, 59), ZERO, at(8, 55), ActionKind.NONE, "keep_warm"),  # not paused by the idle policy either
        (at(11, 0), RUNNING, None, None, None),  # after the stretch: idle policy
        (at(14, 10), RUNNING, None, None, None),  # seen once in 4 weeks: not likely
    ],
    ids=["early", "lead", "lead-zero", "handled", "handled-stretch", "manual", "missed-lead", "warm-lead",
         "warm-end", "warm-zero", "after", "rare-hour"],
)  # fmt: skip
def test_keepalive_decision(
    now: datetime, state: EndpointState, handled: datetime | None, action: ActionKind | None, code: str | None
) -> None:
    decision = keepalive_decision(PROFILE, state, now, LEAD, handled_at=handled)
    assert (decision.action if decision else None, decision.code if decision else None) == (action, code)
    if decision is not None:
        assert decision.policy == "keepalive" and "of the last 4 Mondays" in decision.reason


IDLE = IdlePolicy(scale_to_zero_after=15 * M, pause_after=60 * M, min_uptime=M)
KEEP = EndpointPolicy("ep", idle=IDLE, keep_alive=True)
HOLD = Hold(EndpointRef("ns", "ep"), "budget", "daily budget", at(8), until=at(23))
QUIET = Activity(last_request_at=at(8))


def situation(state: EndpointState, **extra: object) -> Situation:
    base: dict[str, object] = {"activity": QUIET, "awake_since": at(7), "traffic": PROFILE, "cold_start": LEAD}
    return Situation(state, **{**base, **extra})  # type: ignore[arg-type]


OFFICE = Schedule(tz="UTC", active=(parse_window("Mon-Fri 12:00-18:00"),))
OFF = ScheduleState(False, since=at(-6), next_change=at(12))

CASES: list[tuple[str, EndpointPolicy, Situation, datetime, ActionKind, str, bool]] = [
    ("keeps-warm-instead-of-idling", KEEP, situation(RUNNING), at(9, 30), ActionKind.NONE, "keep_warm", False),
    ("idles-outside-busy-hours", KEEP, situation(RUNNING), at(11, 30), ActionKind.PAUSE, "idle", False),
    ("plans-the-next-prewarm", KEEP, situation(ZERO, activity=Activity(last_request_at=at(8, 40))), at(8, 45),
     ActionKind.NONE, "idle_wait", False),
    ("prewarms", KEEP, situation(PAUSED), at(8, 55), ActionKind.RESUME, "keepalive_prewarm", False),
    ("budget-hold-blocks-the-prewarm", KEEP, situation(PAUSED, hold=HOLD), at(8, 55),
     ActionKind.RESUME, "held", True),
    ("a-manual-pause-is-respected", KEEP, situation(PAUSED, manual_at=at(9, 10)), at(9, 30),
     ActionKind.NONE, "idle_state", False),
    ("a-schedules-off-window-wins", EndpointPolicy("ep", idle=IDLE, keep_alive=True, schedule=OFFICE),
     situation(RUNNING, phase=OFF, schedule_handled_at=at(-6)), at(9, 30), ActionKind.PAUSE, "idle", False),
    ("without-keep-alive-nothing-learned-counts", EndpointPolicy("ep", idle=IDLE), situation(RUNNING), at(9, 30),
     ActionKind.PAUSE, "idle", False),
    ("in-flight-guard-still-wins", KEEP, situation(RUNNING, activity=Activity(at(8), in_flight=1)), at(11, 30),
     ActionKind.PAUSE, "in_flight", True),
]  # fmt: skip


@pytest.mark.parametrize(("name", "policy", "s", "now", "action", "code", "skipped"), CASES, ids=[c[0] for c in CASES])
def test_keepalive_in_decide(
    name: str, policy: EndpointPolicy, s: Situation, now: datetime, action: ActionKind, code: str, skipped: bool
) -> None:
    decision = decide(policy, s, now)
    assert (decision.action, decision.code, decision.skipped) == (action, code, skipped), decision.reason


def test_status_shows_the_next_prewarm() -> None:
    s = situation(ZERO, activity=Activity(last_request_at=at(8, 40)))
    decision = decide(KEEP, s, at(8, 45))
    assert (decision.next_action, decision.next_at) == (ActionKind.RESUME, at(8, 55))


def test_an_empty_profile_says_nothing() -> None:
    empty = TrafficProfile(timezone.utc, 4, {}, 2)
    assert keepalive_decision(empty, PAUSED, NOW, LEAD) is None
    assert empty.next_busy(NOW) is None
