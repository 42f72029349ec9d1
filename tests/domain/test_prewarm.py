"""Pre-warm lead time: a window's resume comes ``prewarm`` early, so the endpoint is running at the window start."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from epmgr.cron import prewarmed as prewarmed_phase
from epmgr.domain.decide import Situation, decide
from epmgr.domain.keepalive import cold_start_estimate, cold_starts
from epmgr.domain.model import ActionKind, EndpointRef, EndpointState, StateChange
from epmgr.domain.policy import EndpointPolicy, OnStart, Schedule
from epmgr.domain.schedule import ScheduleState, parse_window, with_prewarm

M = timedelta(minutes=1)
REF = EndpointRef("ns", "ep")
OFFICE = Schedule(tz="Europe/Berlin", active=(parse_window("Mon-Fri 08:00-19:00"),), prewarm=5 * M)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("now", "prewarm", "measured", "active", "since", "next_change"),
    [
        # Monday 2026-03-02: Berlin is UTC+1, the window opens 07:00 UTC.
        (utc(3, 2, 6, 54), 5 * M, M, False, utc(2, 27, 18), utc(3, 2, 6, 55)),  # the edge job is armed 5 min early
        (utc(3, 2, 6, 55), 5 * M, M, True, utc(3, 2, 6, 55), utc(3, 2, 18)),  # the lead starts: active
        (utc(3, 2, 7, 30), 5 * M, M, True, utc(3, 2, 6, 55), utc(3, 2, 18)),  # inside: the edge stays the lead
        (utc(3, 2, 18, 0), 5 * M, M, False, utc(3, 2, 18), utc(3, 3, 6, 55)),  # the end does not move
        (utc(3, 2, 6, 58), timedelta(0), M, False, utc(2, 27, 18), utc(3, 2, 7)),  # "0s": at the edge
        (utc(3, 2, 6, 58), None, 3 * M, True, utc(3, 2, 6, 57), utc(3, 2, 18)),  # "auto": the measured 3 min
        (utc(3, 2, 6, 56), None, 3 * M, False, utc(2, 27, 18), utc(3, 2, 6, 57)),
        # DST starts Sunday 2026-03-29: Monday 30th opens at 06:00 UTC, so the lead starts at 05:55 UTC.
        (utc(3, 30, 5, 55), 5 * M, M, True, utc(3, 30, 5, 55), utc(3, 30, 17)),
        (utc(3, 30, 5, 54), 5 * M, M, False, utc(3, 27, 18), utc(3, 30, 5, 55)),
        # Over the weekend of the change: Friday's end (UTC+1) to Monday's lead (UTC+2).
        (utc(3, 29, 12), 5 * M, M, False, utc(3, 27, 18), utc(3, 30, 5, 55)),
    ],
    ids=["before-lead", "lead-starts", "in-window", "window-end", "zero", "auto-in-lead", "auto-before-lead",
         "dst-monday-lead", "dst-monday-before", "dst-weekend"],
)  # fmt: skip
def test_windows_open_one_lead_early(
    now: datetime,
    prewarm: timedelta | None,
    measured: timedelta,
    active: bool,
    since: datetime,
    next_change: datetime,
) -> None:
    schedule = Schedule(tz=OFFICE.tz, active=OFFICE.active, prewarm=prewarm)
    phase = prewarmed_phase(schedule, now, measured)
    assert phase is not None
    assert (phase.active, phase.since, phase.next_change) == (active, since, next_change)


def test_on_start_none_has_no_lead() -> None:
    schedule = Schedule(tz=OFFICE.tz, active=OFFICE.active, on_start=OnStart.NONE, prewarm=5 * M)
    assert prewarmed_phase(schedule, utc(3, 2, 6, 56), M) == ScheduleState(False, utc(2, 27, 18), utc(3, 2, 7))


def test_with_prewarm_is_a_no_op_without_a_lead() -> None:
    phase = ScheduleState(False, since=utc(3, 1, 18), next_change=utc(3, 2, 7))
    assert with_prewarm(phase, ScheduleState(True, since=utc(3, 2, 7)), timedelta(0)) is phase


PRE = Schedule(tz="UTC", active=(parse_window("Mon-Fri 08:00-19:00"),))
IN_LEAD = ScheduleState(True, since=utc(3, 2, 7, 55), next_change=utc(3, 2, 19), lead=5 * M)


@pytest.mark.parametrize(
    ("situation", "action", "code", "skipped"),
    [
        (Situation(EndpointState.PAUSED, phase=IN_LEAD), ActionKind.RESUME, "window_start", False),
        (Situation(EndpointState.SCALED_TO_ZERO, phase=IN_LEAD), ActionKind.RESUME, "window_start", False),
        (Situation(EndpointState.PAUSED, phase=IN_LEAD, schedule_handled_at=utc(3, 2, 7, 56)),
         ActionKind.NONE, "in_window", False),  # once per edge, and the edge is the lead's start
        (Situation(EndpointState.PAUSED, phase=IN_LEAD, manual_at=utc(3, 2, 7, 57)),
         ActionKind.NONE, "in_window", False),  # a person paused it during the lead: respected
        (Situation(EndpointState.RUNNING, phase=IN_LEAD), ActionKind.RESUME, "already", True),
    ],
    ids=["paused", "scaled-to-zero", "handled", "manual", "already-running"],
)  # fmt: skip
def test_the_lead_is_an_edge(situation: Situation, action: ActionKind, code: str, skipped: bool) -> None:
    decision = decide(EndpointPolicy("ep", schedule=PRE), situation, utc(3, 2, 7, 58))
    assert (decision.action, decision.code, decision.skipped) == (action, code, skipped), decision.reason


def test_the_reason_names_the_window_start_and_the_lead() -> None:
    decision = decide(EndpointPolicy("ep", schedule=PRE), Situation(EndpointState.PAUSED, phase=IN_LEAD), utc(3, 2, 8))
    assert decision.reason == "active window opens at 2026-03-02T08:00+00:00 (pre-warm, 5m early, so it is running " \
        "at the edge)"  # fmt: skip


def change(at: datetime, state: EndpointState) -> StateChange:
    return StateChange(REF, None, state, at)


P, INIT, R, Z, U = (EndpointState.PAUSED, EndpointState.INITIALIZING, EndpointState.RUNNING,
                 EndpointState.SCALED_TO_ZERO, EndpointState.UNKNOWN)  # fmt: skip


@pytest.mark.parametrize(
    ("states", "samples", "estimate"),
    [
        ([], [], 5 * M),  # nothing measured: the safe default
        ([(0, P), (10, INIT), (14, R)], [4 * M], 4 * M),
        ([(0, Z), (10, EndpointState.PENDING), (11, INIT), (13, R)], [3 * M], 3 * M),
        ([(0, P), (10, R)], [], 5 * M),  # straight from paused to running: not observed, no sample
        ([(0, P), (10, INIT), (12, U), (20, R)], [], 5 * M),  # a gap in observation: no sample
        ([(0, EndpointState.PENDING), (1, INIT), (5, R)], [], 5 * M),  # creation is not a cold start from sleep
        ([(0, P), (10, INIT), (13, R), (20, Z), (30, INIT), (35, R), (40, P), (50, INIT), (54, R)],
         [3 * M, 5 * M, 4 * M], 4 * M),
        ([(0, P), (10, INIT), (100, R)], [90 * M], 30 * M),  # capped
        ([(0, P), (10, INIT), (12, R), (20, P), (30, INIT), (35, R)], [2 * M, 5 * M], 3.5 * M),  # even count: the mean
    ],
    ids=["none", "paused", "zero", "unobserved", "unknown-gap", "create", "median", "cap", "even"],
)  # fmt: skip
def test_measured_cold_start(
    states: list[tuple[int, EndpointState]], samples: list[timedelta], estimate: timedelta
) -> None:
    changes = [change(utc(3, 2, 8) + minute * M, state) for minute, state in states]
    assert cold_starts(changes) == samples
    assert cold_start_estimate(changes) == estimate
