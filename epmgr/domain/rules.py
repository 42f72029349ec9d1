"""One pure function per rule: idle timeouts, schedule edges and budget caps, each returning a :class:`Decision`.

Nothing here reads a clock or a database: the service gathers the facts (activity, spend, schedule phase, what was
already done) and passes them in with ``now``. :func:`epmgr.domain.decide.decide` combines the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from epmgr.domain.durations import format_duration
from epmgr.domain.model import ActionKind, Activity, EndpointState
from epmgr.domain.policy import Budget, IdlePolicy, OnEnd, OnExceed, OnStart, Schedule
from epmgr.domain.schedule import ScheduleState

# States in which a replica is up or on its way up (and HF bills, except pending).
UP_STATES = frozenset(
    {EndpointState.RUNNING, EndpointState.PENDING, EndpointState.INITIALIZING, EndpointState.UPDATING}
)
# Actions that take capacity away: never while a request is in flight.
DOWN_ACTIONS = frozenset({ActionKind.PAUSE, ActionKind.SCALE_TO_ZERO, ActionKind.SET_REPLICAS})


@dataclass(frozen=True)
class Decision:
    """What to do with one endpoint now, and why.

    Attributes:
        action: The action (``NONE`` for nothing).
        policy: The rule behind it: ``"idle"``, ``"schedule"``, ``"budget"``, ``"protect"``, ``"state"``...
        reason: One human-readable sentence (logged, audited, shown by ``epmgr status``).
        code: A stable key of the reason (``"idle"``, ``"in_flight"``, ``"min_uptime"``...), for de-duplication.
        skipped: True when a rule wanted ``action`` but a guard (or the state) stopped it; audited as skipped.
        replicas: The replica cap of a ``SET_REPLICAS`` action.
        hold_until: A budget action: hold the endpoint asleep until then (the budget period resets).
        next_action: When nothing happens now: the next action planned, if any ...
        next_at: ... and when.
    """

    action: ActionKind
    policy: str
    reason: str
    code: str = ""
    skipped: bool = False
    replicas: int | None = None
    hold_until: datetime | None = None
    next_action: ActionKind | None = None
    next_at: datetime | None = None

    @property
    def acts(self) -> bool:
        """True when the decision calls the API."""
        return self.action not in (ActionKind.NONE, ActionKind.WARN) and not self.skipped


def nothing(policy: str, reason: str, code: str = "") -> Decision:
    return Decision(ActionKind.NONE, policy, reason, code or policy)


# -- idle ---------------------------------------------------------------------------------------------------------


def idle_since(activity: Activity, awake_since: datetime | None) -> datetime | None:
    """When the endpoint's idleness started: its last request, or when it last came up if that is later.

    The idle timer restarts on every request (start or end, whichever is later), on every wake (resume, scale-up
    from zero) and when epmgr first sees the endpoint.
    """
    moments = [t for t in (activity.last_request_at, awake_since) if t is not None]
    return max(moments) if moments else None


def idle_decision(
    idle: IdlePolicy, state: EndpointState, activity: Activity, awake_since: datetime | None, now: datetime
) -> Decision:
    """Scale a running endpoint to zero after ``scale_to_zero_after`` without requests; pause it (running or scaled
    to zero) after ``pause_after``.

    Reset by: a request (see :func:`idle_since`) or a wake. Held off by ``min_uptime`` after a wake (against
    flapping); requests in flight hold it off in :func:`epmgr.domain.decide.decide`, which guards every rule.
    Either stage is off when None. Unknown idleness (no request and no wake known) counts as active: epmgr never
    pauses what it cannot see.
    """
    since = idle_since(activity, awake_since)
    if since is None:
        return nothing("idle", "idleness unknown (no request or wake recorded); treated as active", "idle_unknown")
    idle_for = max(now - since, timedelta(0))
    if state == EndpointState.SCALED_TO_ZERO:
        stages = [(ActionKind.PAUSE, idle.pause_after)]
    elif state == EndpointState.RUNNING:
        stages = [(ActionKind.PAUSE, idle.pause_after), (ActionKind.SCALE_TO_ZERO, idle.scale_to_zero_after)]
    else:
        return nothing("idle", f"{state.value}: nothing for the idle policy to do", "idle_state")
    due = [(kind, after) for kind, after in stages if after is not None]
    if not due:
        return nothing("idle", "both idle stages are off", "idle_off")
    for kind, after in due:  # the deeper stage first: pause wins over scale to zero
        if idle_for >= after:
            verb = "paused" if kind == ActionKind.PAUSE else "scaled to zero"
            reason = f"no requests for {format_duration(idle_for)} (to be {verb} after {format_duration(after)})"
            if state == EndpointState.RUNNING and awake_since is not None and now - awake_since < idle.min_uptime:
                woke = format_duration(now - awake_since)
                return Decision(
                    kind, "idle", f"woke {woke} ago (min_uptime {format_duration(idle.min_uptime)})", "min_uptime",
                    skipped=True, next_action=kind, next_at=awake_since + idle.min_uptime,
                )  # fmt: skip
            return Decision(kind, "idle", reason, "idle")
    kind, after = min(due, key=lambda item: item[1])
    at = since + after
    if state == EndpointState.RUNNING and awake_since is not None:
        at = max(at, awake_since + idle.min_uptime)
    return Decision(
        ActionKind.NONE, "idle", f"idle for {format_duration(idle_for)}", "idle_wait", next_action=kind, next_at=at
    )


# -- schedule -----------------------------------------------------------------------------------------------------

_ON_END = {OnEnd.PAUSE: ActionKind.PAUSE, OnEnd.SCALE_TO_ZERO: ActionKind.SCALE_TO_ZERO}


def _wants_down(state: EndpointState, action: ActionKind) -> bool:
    """Does ``action`` change an endpoint in ``state``?"""
    if action == ActionKind.PAUSE:
        return state in UP_STATES or state == EndpointState.SCALED_TO_ZERO
    return state in UP_STATES


def schedule_decision(
    schedule: Schedule,
    phase: ScheduleState,
    state: EndpointState,
    now: datetime,
    *,
    handled_at: datetime | None = None,
    manual_at: datetime | None = None,
) -> Decision | None:
    """Act once on each window edge: ``on_start`` (resume: pre-warm) when a window opens, ``on_end`` when it closes.

    An edge counts as handled once a schedule decision about it was audited (``handled_at`` at or after the edge),
    or once a person acted on the endpoint after it (``manual_at``). After that the schedule leaves the endpoint
    alone until the next edge, so a manual resume inside an off window is respected, unless ``enforce`` is set:
    then the phase is re-applied on every tick. Returns None when the schedule has nothing to say.
    """
    if phase.since is None:
        return None
    handled = (handled_at is not None and handled_at >= phase.since) or (
        manual_at is not None and manual_at >= phase.since
    )
    edge = phase.since.isoformat(timespec="minutes")
    if phase.active:
        if schedule.on_start != OnStart.RESUME:
            return None
        if phase.lead:
            edge = (phase.since + phase.lead).isoformat(timespec="minutes")
        if state in (EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO):
            if handled and not schedule.enforce:
                return None
            lead = f"{format_duration(phase.lead)} early, " if phase.lead else ""
            reason = f"active window opens at {edge} (pre-warm, {lead}so it is running at the edge)"
            return Decision(ActionKind.RESUME, "schedule", reason, "window_start")
        if handled:
            return None
        return Decision(
            ActionKind.RESUME, "schedule", f"active window opened at {edge}; already {state.value}", "already",
            skipped=True,
        )  # fmt: skip
    action = _ON_END.get(schedule.on_end)
    if action is None:
        return None
    if _wants_down(state, action):
        if handled and not schedule.enforce:
            return None
        verb = "enforced" if schedule.enforce and handled else "ended"
        return Decision(action, "schedule", f"active window {verb} (edge {edge})", "window_end")
    if handled:
        return None
    return Decision(
        action, "schedule", f"active window ended at {edge}; already {state.value}", "already", skipped=True
    )


def schedule_next(schedule: Schedule, phase: ScheduleState) -> tuple[ActionKind, datetime] | None:
    """The action the next edge will bring, and when."""
    if phase.next_change is None:
        return None
    if phase.active:
        action = _ON_END.get(schedule.on_end)
        return (action, phase.next_change) if action else None
    return (ActionKind.RESUME, phase.next_change) if schedule.on_start == OnStart.RESUME else None


# -- budget -------------------------------------------------------------------------------------------------------


def day_start(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day: budgets count calendar days and months in UTC (as HF's invoices do)."""
    utc = now.astimezone(timezone.utc)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


def next_month(now: datetime) -> datetime:
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


@dataclass(frozen=True)
class BudgetCheck:
    """How one budget (an endpoint's or its namespace's) stands: the tightest of its daily and monthly caps.

    Attributes:
        scope: ``"endpoint"`` or ``"namespace my-org"``.
        period: ``"daily"`` or ``"monthly"``: the cap nearest to (or furthest past) its limit.
        cap, spent: US dollars in that period.
        resets_at: When that period ends.
    """

    budget: Budget
    scope: str
    period: str
    cap: Decimal
    spent: Decimal
    resets_at: datetime

    @property
    def left(self) -> Decimal:
        return self.cap - self.spent

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.cap

    @property
    def warning(self) -> bool:
        return self.spent >= self.cap * self.budget.warn_at

    def describe(self) -> str:
        return f"{self.scope} {self.period} budget: ${self.spent:.2f} of ${self.cap:.2f} spent"


def check_budget(
    budget: Budget, spent_today: Decimal, spent_month: Decimal, now: datetime, scope: str = "endpoint"
) -> BudgetCheck | None:
    """The budget's standing: of its daily and monthly caps, the one most used up (exceeded ones first, then the
    one with the highest fraction spent). None when the budget has no cap."""
    candidates = []
    if budget.daily_usd is not None:
        candidates.append(BudgetCheck(budget, scope, "daily", budget.daily_usd, spent_today, day_start(now) + _DAY))
    if budget.monthly_usd is not None:
        candidates.append(BudgetCheck(budget, scope, "monthly", budget.monthly_usd, spent_month, next_month(now)))
    if not candidates:
        return None
    # Of two exceeded caps the monthly one resets later: that is how long the hold lasts.
    return max(candidates, key=lambda c: (c.exceeded, c.resets_at if c.exceeded else c.spent / c.cap))


_DAY = timedelta(days=1)
_ON_EXCEED = {
    OnExceed.PAUSE: ActionKind.PAUSE,
    OnExceed.SCALE_TO_ZERO: ActionKind.SCALE_TO_ZERO,
    OnExceed.CAP_REPLICAS: ActionKind.SET_REPLICAS,
    OnExceed.WARN: ActionKind.WARN,
}


def budget_decision(check: BudgetCheck, state: EndpointState, max_replica: int) -> Decision | None:
    """When a cap is reached, apply ``on_exceed``: pause or scale to zero (and hold the endpoint asleep until the
    period resets, so clients do not wake it), lower ``max_replica`` to ``cap_replicas``, or only warn.

    Returns None when the budget is not exceeded or its action is already in effect. Overridden by: a person's
    ``epmgr resume --force`` (the service then does not call this until the period resets).
    """
    if not check.exceeded:
        return None
    action = _ON_EXCEED[check.budget.on_exceed]
    reason = f"{check.describe()} (resets {check.resets_at.isoformat(timespec='minutes')})"
    if action == ActionKind.WARN:
        return Decision(ActionKind.WARN, "budget", reason, "budget_warn")
    if action == ActionKind.SET_REPLICAS:
        if max_replica <= check.budget.cap_replicas:
            return None
        return Decision(ActionKind.SET_REPLICAS, "budget", reason, "budget", replicas=check.budget.cap_replicas)
    if not _wants_down(state, action):
        return None
    return Decision(action, "budget", reason, "budget", hold_until=check.resets_at)


def budget_warning(check: BudgetCheck) -> Decision | None:
    """A warning once spend passes ``warn_at`` of a cap (the service records it once per period)."""
    if not check.warning:
        return None
    share = f"{check.spent / check.cap:.0%}" if check.cap else "all"
    return Decision(ActionKind.WARN, "budget", f"{check.describe()} ({share})", f"warn_{check.period}")
