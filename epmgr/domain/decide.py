"""``decide()``: the one place where the rules meet, with their precedence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.domain.adaptive import REFERENCE, GapHistory, adaptive_decision, next_prewarm
from epmgr.domain.history import BACKOFF, Failing
from epmgr.domain.keepalive import DEFAULT_COLD_START
from epmgr.domain.model import ActionKind, Activity, EndpointState, Hold
from epmgr.domain.policy import EndpointPolicy, IdlePolicy, KeepAlive, OnStart
from epmgr.domain.rules import (
    DOWN_ACTIONS,
    BudgetCheck,
    Decision,
    budget_decision,
    idle_decision,
    idle_since,
    nothing,
    schedule_decision,
    schedule_next,
)
from epmgr.domain.schedule import ScheduleState


@dataclass(frozen=True)
class Situation:
    """Everything ``decide()`` sees about one endpoint at one instant (gathered by the service).

    Attributes:
        state: The endpoint's state from this tick's list call.
        max_replica: Its current replica limit.
        activity: Requests from the ledger (last one, in flight).
        awake_since: When it last came up (resumed, woke from zero, or was first seen up).
        phase: Where its schedule stands, if it has one.
        schedule_handled_at: The last audited schedule decision (acted or skipped), to act once per edge.
        manual_at: The last action a person or client took on it (CLI resume, client wake...).
        budgets: The endpoint's and its namespace's budget checks.
        budget_overridden: A person resumed it with ``--force`` after the budget acted, in this period.
        hold: A hold on waking in force (e.g. the budget paused it).
        gaps: The endpoint's learned idle gaps and bursts (for ``keep_alive = "adaptive"``; None: nothing learned).
        price_per_hour: Its price per replica-hour, to weigh a cold start in dollars (None: unknown).
        cold_start: The endpoint's measured cold start: the billed start-up and the pre-warm lead.
        keepalive_handled_at: The last audited keep-alive action, to pre-warm once per expected burst.
        shared: Its traffic is ``shared`` (callers use its URL directly): never paused for idleness.
        failing: The daemon's last action on it failed: no new try of that action before ``failing.until``.
    """

    state: EndpointState
    max_replica: int = 1
    activity: Activity = field(default_factory=Activity)
    awake_since: datetime | None = None
    phase: ScheduleState | None = None
    schedule_handled_at: datetime | None = None
    manual_at: datetime | None = None
    budgets: Sequence[BudgetCheck] = ()
    budget_overridden: bool = False
    hold: Hold | None = None
    gaps: GapHistory | None = None
    price_per_hour: Decimal | float | None = None
    cold_start: timedelta = DEFAULT_COLD_START
    keepalive_handled_at: datetime | None = None
    shared: bool = False
    failing: Failing | None = None


_NEEDS_A_PERSON = (EndpointState.FAILED, EndpointState.UPDATE_FAILED, EndpointState.UNKNOWN)


def decide(policy: EndpointPolicy, s: Situation, now: datetime) -> Decision:
    """The action for one endpoint now. Precedence, first match wins:

    1. **Protection**: not managed, or ``protect = true`` -> nothing (observed and costed only).
    2. **Failed or unknown state** -> nothing: it needs a person.
    3. **Budget exceeded** (endpoint or namespace cap), unless a person overrode it this period -> ``on_exceed``.
       A budget also blocks the schedule's resume while it is exceeded or a hold is in force.
    4. **Transitional state** (pending, initializing, updating) -> nothing: wait until it settles.
    5. **Schedule edge** -> ``on_start``/``on_end``, once per edge (or every tick with ``enforce``); with
       ``on_start = "resume"`` the window opens ``prewarm`` early (``s.phase`` is already shifted by the service).
    6. **Inside an active window with ``on_start = "resume"``** -> no idle action (the window promises warmth).
    7. **Idle pause** (``pause_after``) -> pause.
    8. **Adaptive keep-alive** (``keep_alive = "adaptive"``, not in a schedule's off window) -> instead of
       ``scale_to_zero_after``: keep warm or scale to zero by expected cost (:mod:`epmgr.domain.adaptive`), and
       pre-warm one cold start before an expected periodic burst (unless a budget or hold blocks waking).
    9. **Idle** -> scale to zero, then pause. An endpoint with ``shared`` traffic is never paused for idleness (its
       other callers would break): it is scaled to zero, which any request wakes.

    Over all of them: an action that takes capacity away (pause, scale to zero, lower replicas) is never taken
    while a request is in flight; it is returned as skipped with code ``"in_flight"``. An action that failed last
    time is not tried again before its backoff ends (``s.failing``): skipped with code ``"backoff"``.
    """
    return _guard_backoff(_guard_in_flight(_decide(policy, s, now), s.activity), s.failing, now)


def _decide(policy: EndpointPolicy, s: Situation, now: datetime) -> Decision:
    if not policy.managed:
        return nothing("protect", "not managed (observed and costed only)", "unmanaged")
    if policy.protect:
        return nothing("protect", "protected (protect = true)", "protected")
    if s.state in _NEEDS_A_PERSON:
        return nothing("state", f"{s.state.value}: needs a person", "needs_person")
    exceeded = [check for check in s.budgets if check.exceeded]
    if exceeded and not s.budget_overridden:
        for check in exceeded:
            decision = budget_decision(check, s.state, s.max_replica)
            if decision is not None and decision.action != ActionKind.WARN:
                return decision
        if s.state == EndpointState.PAUSED:
            return nothing("budget", f"{exceeded[0].describe()}; stays paused", "budget_held")
    if s.state.is_transitional:
        return nothing("state", f"{s.state.value}: waiting for it to settle", "transitional")
    blocked_by = _wake_blocker(exceeded, s)
    if policy.schedule is not None and s.phase is not None:
        decision = schedule_decision(
            policy.schedule, s.phase, s.state, now, handled_at=s.schedule_handled_at, manual_at=s.manual_at
        )
        if decision is not None and decision.action == ActionKind.RESUME and decision.acts and blocked_by:
            return replace(decision, reason=f"{decision.reason}; not resumed: {blocked_by}", code="held", skipped=True)
        if decision is not None:
            return decision
    planned = _next_edge(policy, s.phase)
    in_window = policy.schedule is not None and s.phase is not None and s.phase.active
    if in_window and policy.schedule is not None and policy.schedule.on_start == OnStart.RESUME:
        return _with_next(nothing("schedule", "inside an active window", "in_window"), planned)
    off_window = policy.schedule is not None and s.phase is not None and not s.phase.active
    if policy.keep_alive == KeepAlive.ADAPTIVE and not off_window:
        pause_only = replace(_idle_policy(policy, s), scale_to_zero_after=None)
        idle = idle_decision(pause_only, s.state, s.activity, s.awake_since, now)
        if idle.action != ActionKind.NONE:
            return idle
        handled = max(filter(None, (s.keepalive_handled_at, s.manual_at)), default=None)
        warm = adaptive_decision(
            policy.adaptive, s.gaps, s.state, idle_since(s.activity, s.awake_since), now, lead=s.cold_start,
            price_per_hour=s.price_per_hour if s.price_per_hour is not None else policy.price_per_hour,
            handled_at=handled, awake_since=s.awake_since, min_uptime=policy.idle.min_uptime,
            reference=policy.idle.scale_to_zero_after or REFERENCE,
        )  # fmt: skip
        if warm is not None and warm.action == ActionKind.RESUME and blocked_by:
            return replace(warm, reason=f"{warm.reason}; not resumed: {blocked_by}", code="held", skipped=True)
        if warm is not None:
            return _with_next(warm, planned)
        return _with_next(idle, _earlier(planned, next_prewarm(s.gaps, now, s.cold_start)))
    if s.shared and s.state == EndpointState.SCALED_TO_ZERO:
        return _with_next(nothing("idle", f"{SHARED_NOTE}; it wakes on any request", "shared"), planned)
    idle = idle_decision(_idle_policy(policy, s), s.state, s.activity, s.awake_since, now)
    if idle.action == ActionKind.NONE:
        return _with_next(replace(idle, reason=f"{idle.reason} ({SHARED_NOTE})") if s.shared else idle, planned)
    return idle


SHARED_NOTE = "traffic shared: never paused for idleness, scale to zero instead"


def _idle_policy(policy: EndpointPolicy, s: Situation) -> IdlePolicy:
    """The idle policy in force: without its pause stage when the traffic is shared."""
    return replace(policy.idle, pause_after=None) if s.shared else policy.idle


def _wake_blocker(exceeded: Sequence[BudgetCheck], s: Situation) -> str | None:
    if s.hold is not None:
        return f"hold in force ({s.hold.reason})"
    if exceeded and not s.budget_overridden:
        return exceeded[0].describe()
    return None


def _next_edge(policy: EndpointPolicy, phase: ScheduleState | None) -> tuple[ActionKind, datetime] | None:
    if policy.schedule is None or phase is None:
        return None
    return schedule_next(policy.schedule, phase)


def _earlier(
    first: tuple[ActionKind, datetime] | None, second: tuple[ActionKind, datetime] | None
) -> tuple[ActionKind, datetime] | None:
    if first is None or second is None:
        return first or second
    return first if first[1] <= second[1] else second


def _with_next(decision: Decision, planned: tuple[ActionKind, datetime] | None) -> Decision:
    """Keep the earlier of the decision's own next action and the schedule's next edge."""
    if planned is None:
        return decision
    if decision.next_at is not None and decision.next_at <= planned[1]:
        return decision
    return replace(decision, next_action=planned[0], next_at=planned[1])


def _guard_in_flight(decision: Decision, activity: Activity) -> Decision:
    if decision.acts and decision.action in DOWN_ACTIONS and activity.in_flight > 0:
        return replace(
            decision,
            reason=f"{decision.reason}; held back: {activity.in_flight} request(s) in flight",
            code="in_flight",
            skipped=True,
        )
    return decision


def _guard_backoff(decision: Decision, failing: Failing | None, now: datetime) -> Decision:
    if decision.acts and failing is not None and decision.action == failing.action and now < failing.until:
        return replace(
            decision, policy=BACKOFF, reason=f"{decision.reason}; {failing.describe()}", code=BACKOFF, skipped=True,
            next_action=decision.action, next_at=failing.until,
        )  # fmt: skip
    return decision
