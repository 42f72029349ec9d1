"""decide(): every rule and every precedence between them, as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from epmgr.domain.decide import Situation, decide
from epmgr.domain.model import ActionKind, Activity, EndpointRef, EndpointState, Hold
from epmgr.domain.policy import Budget, EndpointPolicy, IdlePolicy, OnEnd, OnExceed, OnStart, Schedule
from epmgr.domain.rules import BudgetCheck, budget_warning, check_budget, idle_decision
from epmgr.domain.schedule import ScheduleState, parse_window

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
M = timedelta(minutes=1)
RUNNING, PAUSED, ZERO = EndpointState.RUNNING, EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO
IDLE = IdlePolicy(scale_to_zero_after=15 * M, pause_after=60 * M, min_uptime=5 * M)
POLICY = EndpointPolicy(name="ep", idle=IDLE)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def quiet(minutes: float, in_flight: int = 0) -> Activity:
    return Activity(last_request_at=ago(minutes), in_flight=in_flight)


@pytest.mark.parametrize(
    ("state", "activity", "awake", "idle", "action", "code"),
    [
        (RUNNING, quiet(10), ago(120), IDLE, ActionKind.NONE, "idle_wait"),
        (RUNNING, quiet(15), ago(120), IDLE, ActionKind.SCALE_TO_ZERO, "idle"),
        (RUNNING, quiet(61), ago(120), IDLE, ActionKind.PAUSE, "idle"),  # the deeper stage wins
        (ZERO, quiet(30), ago(120), IDLE, ActionKind.NONE, "idle_wait"),
        (ZERO, quiet(60), ago(120), IDLE, ActionKind.PAUSE, "idle"),
        (PAUSED, quiet(600), ago(900), IDLE, ActionKind.NONE, "idle_state"),
        (RUNNING, quiet(30, in_flight=1), ago(120), IDLE, ActionKind.SCALE_TO_ZERO, "in_flight"),
        (ZERO, quiet(90, in_flight=2), ago(120), IDLE, ActionKind.PAUSE, "in_flight"),
        (RUNNING, Activity(), ago(3), replace(IDLE, scale_to_zero_after=M), ActionKind.SCALE_TO_ZERO, "min_uptime"),
        (RUNNING, quiet(30), ago(120), replace(IDLE, scale_to_zero_after=None), ActionKind.NONE, "idle_wait"),
        (RUNNING, quiet(90), ago(120), replace(IDLE, pause_after=None), ActionKind.SCALE_TO_ZERO, "idle"),
        (RUNNING, quiet(900), ago(900), IdlePolicy(None, None), ActionKind.NONE, "idle_off"),
        (RUNNING, Activity(), None, IDLE, ActionKind.NONE, "idle_unknown"),  # unknown idleness counts as active
        (RUNNING, quiet(100), ago(10), IDLE, ActionKind.NONE, "idle_wait"),  # a wake restarts the idle timer
    ],
    ids=["quiet-10m", "quiet-15m", "quiet-61m", "zero-30m", "zero-60m", "paused", "in-flight-running",
         "in-flight-zero", "min-uptime", "stage-1-off", "stage-2-off", "both-off", "unknown", "woken-recently"],
)  # fmt: skip
def test_idle_rule(
    state: EndpointState, activity: Activity, awake: datetime | None, idle: IdlePolicy, action: ActionKind, code: str
) -> None:
    decision = decide(EndpointPolicy(name="ep", idle=idle), Situation(state, activity=activity, awake_since=awake), NOW)
    assert (decision.action, decision.code) == (action, code)
    assert decision.skipped == (code in ("in_flight", "min_uptime"))
    if code == "in_flight":  # the one in-flight guard, over the idle rule's own reason
        assert f"held back: {activity.in_flight} request(s) in flight" in decision.reason
        assert idle_decision(idle, state, replace(activity, in_flight=0), awake, NOW).reason in decision.reason


def test_idle_plans_the_next_stage() -> None:
    decision = idle_decision(IDLE, RUNNING, quiet(10), ago(120), NOW)
    assert (decision.next_action, decision.next_at) == (ActionKind.SCALE_TO_ZERO, NOW + 5 * M)
    decision = idle_decision(IDLE, ZERO, quiet(20), ago(120), NOW)
    assert (decision.next_action, decision.next_at) == (ActionKind.PAUSE, NOW + 40 * M)


# -- precedence ---------------------------------------------------------------------------------------------------

SCHEDULE = Schedule(tz="UTC", active=(parse_window("Mon-Fri 08:00-19:00"),))
IN_WINDOW = ScheduleState(True, since=ago(30), next_change=NOW + 7 * 60 * M)
OFF_WINDOW = ScheduleState(False, since=ago(30), next_change=NOW + 12 * 60 * M)


def budget(spent: str, on_exceed: OnExceed = OnExceed.PAUSE, scope: str = "endpoint") -> BudgetCheck:
    b = Budget(daily_usd=Decimal(10), on_exceed=on_exceed, cap_replicas=1)
    check = check_budget(b, Decimal(spent), Decimal(spent), NOW, scope=scope)
    assert check is not None
    return check


S, A, q, spent = Situation, ActionKind, quiet, budget


def pol(**changes: object) -> EndpointPolicy:
    return replace(POLICY, **changes)  # type: ignore[arg-type]


HOLD = Hold(EndpointRef("ns", "ep"), "budget", "daily budget", ago(60), until=NOW + 60 * M)

CASES: list[tuple[str, EndpointPolicy, Situation, ActionKind, str, bool]] = [
    ("unmanaged-wins-over-everything", pol(managed=False),
     S(RUNNING, activity=q(600), awake_since=ago(900), budgets=(spent("11"),)), A.NONE, "unmanaged", False),
    ("protect-wins-over-budget", pol(protect=True),
     S(RUNNING, budgets=(spent("11"),)), A.NONE, "protected", False),
    ("failed-needs-a-person", POLICY, S(EndpointState.FAILED, budgets=(spent("11"),)), A.NONE, "needs_person", False),
    ("budget-over-schedule-window", pol(schedule=SCHEDULE),
     S(RUNNING, phase=IN_WINDOW, activity=q(1), budgets=(spent("10"),)), A.PAUSE, "budget", False),
    ("budget-acts-on-initializing", POLICY, S(EndpointState.INITIALIZING, budgets=(spent("12"),)),
     A.PAUSE, "budget", False),
    ("namespace-budget", POLICY, S(RUNNING, budgets=(spent("5"), budget("30", OnExceed.SCALE_TO_ZERO, "namespace ns"))),
     A.SCALE_TO_ZERO, "budget", False),
    ("budget-cap-replicas", POLICY, S(RUNNING, max_replica=4, budgets=(spent("11", OnExceed.CAP_REPLICAS),)),
     A.SET_REPLICAS, "budget", False),
    ("budget-already-capped-falls-through-to-idle", POLICY,
     S(RUNNING, max_replica=1, activity=q(20), awake_since=ago(60), budgets=(spent("11", OnExceed.CAP_REPLICAS),)),
     A.SCALE_TO_ZERO, "idle", False),
    ("budget-warn-only-does-not-act", POLICY,
     S(RUNNING, activity=q(1), awake_since=ago(60), budgets=(spent("11", OnExceed.WARN),)), A.NONE, "idle_wait", False),
    ("budget-overridden-by-a-person", POLICY,
     S(RUNNING, activity=q(1), awake_since=ago(60), budgets=(spent("11"),), budget_overridden=True),
     A.NONE, "idle_wait", False),
    ("budget-in-flight-guard", POLICY, S(RUNNING, activity=q(0, in_flight=1), budgets=(spent("11"),)),
     A.PAUSE, "in_flight", True),
    ("budget-paused-is-left-alone", POLICY, S(PAUSED, budgets=(spent("11"),)), A.NONE, "budget_held", False),
    ("transitional-waits", POLICY, S(EndpointState.INITIALIZING, activity=q(600)), A.NONE, "transitional", False),
    ("window-start-resumes", pol(schedule=SCHEDULE), S(PAUSED, phase=IN_WINDOW),
     A.RESUME, "window_start", False),
    ("window-start-once-per-edge", pol(schedule=SCHEDULE),
     S(PAUSED, phase=IN_WINDOW, schedule_handled_at=ago(29)), A.NONE, "in_window", False),
    ("window-start-enforced", pol(schedule=replace(SCHEDULE, enforce=True)),
     S(PAUSED, phase=IN_WINDOW, schedule_handled_at=ago(29)), A.RESUME, "window_start", False),
    ("window-start-blocked-by-hold", pol(schedule=SCHEDULE), S(PAUSED, phase=IN_WINDOW, hold=HOLD),
     A.RESUME, "held", True),
    ("window-start-already-running", pol(schedule=SCHEDULE), S(RUNNING, phase=IN_WINDOW),
     A.RESUME, "already", True),
    ("on-start-none-lets-idle-act-in-window", pol(schedule=replace(SCHEDULE, on_start=OnStart.NONE)),
     S(RUNNING, phase=IN_WINDOW, activity=q(20), awake_since=ago(60)), A.SCALE_TO_ZERO, "idle", False),
    ("window-suppresses-idle", pol(schedule=SCHEDULE),
     S(RUNNING, phase=IN_WINDOW, schedule_handled_at=ago(29), activity=q(600), awake_since=ago(600)),
     A.NONE, "in_window", False),
    ("window-end-pauses", pol(schedule=SCHEDULE), S(RUNNING, phase=OFF_WINDOW, activity=q(1)),
     A.PAUSE, "window_end", False),
    ("window-end-scale-to-zero", pol(schedule=replace(SCHEDULE, on_end=OnEnd.SCALE_TO_ZERO)),
     S(RUNNING, phase=OFF_WINDOW), A.SCALE_TO_ZERO, "window_end", False),
    ("window-end-in-flight", pol(schedule=SCHEDULE), S(RUNNING, phase=OFF_WINDOW, activity=q(0, 1)),
     A.PAUSE, "in_flight", True),
    ("manual-resume-in-off-window-respected", pol(schedule=SCHEDULE),
     S(RUNNING, phase=OFF_WINDOW, schedule_handled_at=ago(30), manual_at=ago(10), activity=q(5), awake_since=ago(10)),
     A.NONE, "idle_wait", False),
    ("manual-resume-before-the-daemon-saw-the-edge", pol(schedule=SCHEDULE),
     S(RUNNING, phase=OFF_WINDOW, manual_at=ago(10), activity=q(5), awake_since=ago(10)), A.NONE, "idle_wait", False),
    ("enforce-overrides-manual-resume", pol(schedule=replace(SCHEDULE, enforce=True)),
     S(RUNNING, phase=OFF_WINDOW, schedule_handled_at=ago(30), manual_at=ago(10)), A.PAUSE, "window_end", False),
    ("keep-alive-nothing-learned-idles", pol(keep_alive=True), S(RUNNING, activity=q(600), awake_since=ago(600)),
     A.PAUSE, "idle", False),
    ("keep-alive-still-obeys-window-end", pol(keep_alive=True, schedule=SCHEDULE), S(RUNNING, phase=OFF_WINDOW),
     A.PAUSE, "window_end", False),
    ("keep-alive-still-obeys-budget", pol(keep_alive=True), S(RUNNING, budgets=(spent("10"),)),
     A.PAUSE, "budget", False),
]  # fmt: skip


@pytest.mark.parametrize(("name", "policy", "situation", "action", "code", "skipped"), CASES, ids=[c[0] for c in CASES])
def test_precedence(
    name: str, policy: EndpointPolicy, situation: Situation, action: ActionKind, code: str, skipped: bool
) -> None:
    decision = decide(policy, situation, NOW)
    assert (decision.action, decision.code, decision.skipped) == (action, code, skipped), decision.reason
    assert decision.reason


def test_budget_action_holds_until_the_period_resets() -> None:
    decision = decide(POLICY, Situation(RUNNING, budgets=(budget("10"),)), NOW)
    assert decision.hold_until == datetime(2026, 3, 3, tzinfo=timezone.utc)
    monthly = check_budget(Budget(daily_usd=Decimal(100), monthly_usd=Decimal(50)), Decimal(1), Decimal(60), NOW)
    assert monthly is not None and monthly.period == "monthly"
    assert monthly.resets_at == datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_budget_warning_at_the_threshold() -> None:
    assert budget_warning(budget("7.99")) is None
    warning = budget_warning(budget("8"))
    assert warning is not None and warning.action == ActionKind.WARN and "80%" in warning.reason


def test_next_planned_action_is_the_earlier_of_idle_and_the_schedule_edge() -> None:
    policy = replace(POLICY, schedule=replace(SCHEDULE, on_start=OnStart.NONE))
    edge_soon = ScheduleState(True, since=ago(600), next_change=NOW + 2 * M)
    decision = decide(policy, Situation(RUNNING, phase=edge_soon, activity=quiet(1), awake_since=ago(60)), NOW)
    assert (decision.next_action, decision.next_at) == (ActionKind.PAUSE, NOW + 2 * M)
    edge_late = replace(edge_soon, next_change=NOW + 600 * M)
    decision = decide(policy, Situation(RUNNING, phase=edge_late, activity=quiet(1), awake_since=ago(60)), NOW)
    assert (decision.next_action, decision.next_at) == (ActionKind.SCALE_TO_ZERO, NOW + 14 * M)
