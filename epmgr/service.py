"""One reconcile tick: observe every namespace, decide per endpoint, act, audit. The daemon runs it on a timer.

Level-triggered, like SkyPilot's skylet: every tick recomputes the wanted action from the current state, the
ledger and the clock, so missed ticks and restarts cost nothing and actions are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from epmgr import catalog
from epmgr.acting import LeaseLost, act, reconcile_unfinished
from epmgr.clock import Clock
from epmgr.config import Settings
from epmgr.cron import cron_trigger
from epmgr.domain.adaptive import GapHistory
from epmgr.domain.cost import spend_between
from epmgr.domain.decide import Situation, decide
from epmgr.domain.keepalive import cold_start_estimate
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Actor,
    ChangeSource,
    EndpointRef,
    EndpointSnapshot,
    EndpointState,
    Hold,
    Instance,
    Lease,
    Outcome,
    StateChange,
)
from epmgr.domain.policies import UP_STATES, BudgetCheck, Decision, budget_warning, check_budget, day_start, month_start
from epmgr.domain.policy import EndpointPolicy, KeepAlive, OnStart, Schedule
from epmgr.domain.schedule import ScheduleState, combine, edges_state, windows_state, with_prewarm
from epmgr.errors import EpmgrError
from epmgr.ledger import Ledger
from epmgr.observe import record_gone, record_snapshots
from epmgr.operations import Operator
from epmgr.ports import EndpointsAPI

log = logging.getLogger("epmgr.service")

ApiFor = Callable[[str | None], EndpointsAPI]
"""Builds the API of one namespace (None: the token's own user)."""

# How far back the audit log is read to find the last schedule decision and manual action (a week and a day
# covers any weekly window).
AUDIT_LOOKBACK = timedelta(days=8)
HISTORY_LOOKBACK = timedelta(days=28)
"""How far back the adaptive keep-alive's first look at an endpoint's requests goes."""
LATE_RECORDS = timedelta(minutes=10)
"""Requests recorded up to this long after they started (batched or queued writes) still reach the learned gaps."""
_MANUAL_ACTIONS = frozenset({ActionKind.RESUME, ActionKind.PAUSE, ActionKind.SCALE_TO_ZERO, ActionKind.UPDATE})


@dataclass(frozen=True)
class EndpointReport:
    """One endpoint after a tick: what was decided and what came of it."""

    ref: EndpointRef
    state: EndpointState
    decision: Decision
    outcome: Outcome | None = None  # None: nothing to do (not audited)
    error: str | None = None
    idle_for: timedelta | None = None
    spent_today: Decimal = Decimal(0)
    spent_month: Decimal = Decimal(0)
    budget_left: Decimal | None = None
    managed: bool = False


@dataclass
class TickReport:
    """What one tick saw and did."""

    started_at: datetime
    finished_at: datetime | None = None
    endpoints: list[EndpointReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # API or ledger failures (one endpoint or namespace each)
    next_edge: datetime | None = None  # the earliest schedule edge ahead, for the daemon's edge job
    interrupted: bool = False
    lease_lost: bool = False  # the leader lease expired or was taken mid-tick: no further action was sent
    reconciled: int = 0  # started actions left by a crash, completed from the endpoint's state


# -- schedules ----------------------------------------------------------------------------------------------------


def _fires(trigger: CronTrigger, start: datetime, stop: datetime, holidays: frozenset[object]) -> list[datetime]:
    found: list[datetime] = []
    moment = trigger.get_next_fire_time(None, start)
    while moment is not None and moment <= stop and len(found) < 10_000:
        if moment.date() not in holidays:
            found.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return found


def _last_and_next(
    expression: str | None, tz: ZoneInfo, now: datetime, holidays: frozenset[object]
) -> tuple[datetime | None, datetime | None]:
    if expression is None:
        return None, None
    trigger = cron_trigger(expression, tz)
    last = None
    for lookback in (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32)):
        fires = _fires(trigger, now - lookback, now, holidays)
        if fires:
            last = fires[-1]
            break
    upcoming = _fires(trigger, now + timedelta(microseconds=1), now + timedelta(days=32), holidays)[:1]
    return last, (upcoming[0] if upcoming else None)


def schedule_phase(schedule: Schedule, now: datetime) -> ScheduleState | None:
    """Where ``schedule`` stands at ``now``: its windows and cron expressions combined (active if either is)."""
    tz = ZoneInfo(schedule.tz)
    phase = windows_state(schedule.active, tz, now, schedule.holidays) if schedule.active else None
    if schedule.cron_start or schedule.cron_stop:
        holidays: frozenset[object] = frozenset(schedule.holidays)
        last_start, next_start = _last_and_next(schedule.cron_start, tz, now, holidays)
        last_stop, next_stop = _last_and_next(schedule.cron_stop, tz, now, frozenset())
        phase = combine(phase, edges_state(last_start, last_stop, next_start, next_stop))
    return phase


def prewarmed_phase(schedule: Schedule, now: datetime, measured: timedelta) -> ScheduleState | None:
    """:func:`schedule_phase` with windows opening ``prewarm`` early (``"auto"``: ``measured``, the endpoint's cold
    start), so that ``on_start = "resume"`` has the endpoint running at the window's start."""
    phase = schedule_phase(schedule, now)
    if phase is None or schedule.on_start != OnStart.RESUME:
        return phase
    lead = measured if schedule.prewarm is None else schedule.prewarm
    if lead <= timedelta(0):
        return phase
    return with_prewarm(phase, schedule_phase(schedule, now + lead), lead)


# -- policies and prices --------------------------------------------------------------------------------------------


def policy_for(settings: Settings, snapshot: EndpointSnapshot) -> EndpointPolicy:
    """The endpoint's configured policy; an unlisted one is managed with the defaults only if it carries
    ``managed_tag``, else observed only."""
    ref = snapshot.ref
    configured = settings.policy_for(ref.namespace, ref.name)
    if configured is not None:
        return configured
    tags = snapshot.raw.get("tags") or []
    tagged = settings.managed_tag is not None and settings.managed_tag in tags
    return EndpointPolicy(name=ref.name, namespace=ref.namespace, idle=settings.defaults, managed=tagged)


class Prices:
    """Price per replica-hour: the endpoint's ``price_per_hour`` override, else the ledger's cached price (from the
    API's hardware route), else the published catalog."""

    def __init__(self, ledger: Ledger) -> None:
        self._cached = {
            (p.instance.vendor, p.instance.region, p.instance.instance_type, p.instance.instance_size): p.price_per_hour
            for p in ledger.prices()
        }

    def of(self, instance: Instance, override: Decimal | None = None) -> Decimal | None:
        if override is not None:
            return override
        key = (instance.vendor, instance.region, instance.instance_type, instance.instance_size)
        if key in self._cached:
            return self._cached[key]
        published = catalog.lookup(*key)
        return published.price_per_hour if published else None


def namespaces(settings: Settings) -> list[str | None]:
    """Every namespace the configuration names (the global one first); [None] when none is named."""
    found: list[str | None] = []
    for name in (
        settings.namespace,
        *(p.namespace for p in settings.endpoints),
        *(n.namespace for n in settings.namespaces),
    ):
        if name is not None and name not in found:
            found.append(name)
    return found or [None]


# -- the tick -------------------------------------------------------------------------------------------------------


@dataclass
class _Seen:
    """One endpoint's facts gathered in the observe phase."""

    snapshot: EndpointSnapshot
    policy: EndpointPolicy
    changes: list[StateChange]
    today: Decimal
    month: Decimal
    price: Decimal | None = None  # per replica-hour, for the adaptive keep-alive


class Reconciler:
    """Runs reconcile ticks; keeps only what avoids repeating the same "skipped" audit entry on every tick.

    Args:
        settings: Policies, namespaces, budgets.
        ledger: The ledger (activity in, state changes and audit out).
        clock: The clock (a FakeClock in tests).
        api_for: Builds the API of one namespace.
        dry_run: Decide and audit as ``dry_run`` without calling the API.
        plan_only: Decide only: no API call and no audit entry (``epmgr status``).
    """

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        clock: Clock,
        api_for: ApiFor,
        *,
        dry_run: bool = False,
        plan_only: bool = False,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.api_for = api_for
        self.dry_run = dry_run
        self.plan_only = plan_only
        self._apis: dict[str | None, EndpointsAPI] = {}
        self._last_skip: dict[EndpointRef, tuple[str, str, str]] = {}
        self._gaps: dict[EndpointRef, tuple[datetime, GapHistory]] = {}
        self._lease: Lease | None = None
        self._lease_lost = False

    def api(self, namespace: str | None) -> EndpointsAPI:
        if namespace not in self._apis:
            self._apis[namespace] = self.api_for(namespace)
        return self._apis[namespace]

    def tick(self, stop: threading.Event | None = None, lease: Lease | None = None) -> TickReport:
        """One tick over every namespace. A failure on one endpoint or namespace never stops the others.

        Args:
            stop: When set (SIGTERM), no new action starts; the one in flight finishes.
            lease: The leader lease that fences every action (renewed by each one); once it is lost, the tick
                sends nothing more. None: no fencing (tests, and callers that hold no lease).
        """
        now = self.clock.now()
        report = TickReport(started_at=now)
        self._lease, self._lease_lost = lease, False
        if not (self.dry_run or self.plan_only):
            report.reconciled = reconcile_unfinished(self.ledger, self.clock, self.api)
        prices = Prices(self.ledger)
        for namespace in namespaces(self.settings):
            seen = self._observe(namespace, prices, report)
            if seen is None:
                continue
            ns_budgets = self._namespace_checks(seen, now)
            for item in seen:
                if (stop is not None and stop.is_set()) or self._lease_lost:
                    report.interrupted = True
                    break
                try:
                    report.endpoints.append(self._reconcile(namespace, item, ns_budgets, report, now))
                except EpmgrError as exc:  # skylet-style isolation: log, count, go on with the next endpoint
                    report.errors.append(f"{item.snapshot.ref}: {exc}")
                    log.error("reconcile failed: %s", exc, extra={"endpoint": str(item.snapshot.ref)})
        report.lease_lost = self._lease_lost
        report.finished_at = self.clock.now()
        return report

    @property
    def lease(self) -> Lease | None:
        """The lease as the last action renewed it."""
        return self._lease

    def _observe(self, namespace: str | None, prices: Prices, report: TickReport) -> list[_Seen] | None:
        """One list call, the state changes recorded, and each endpoint's spend today and this month."""
        try:
            api = self.api(namespace)
            snapshots = api.list_endpoints()
        except EpmgrError as exc:
            report.errors.append(f"namespace {namespace or '(own)'}: {exc}")
            log.error("cannot list endpoints: %s", exc, extra={"namespace": namespace})
            return None
        now = self.clock.now()
        # Longer than three ticks between two looks: the time in between is recorded as unknown, never assumed.
        # No price is stamped on the changes, so an endpoint's own price_per_hour applies when costing them.
        record_snapshots(snapshots, self.ledger, now, None, max_gap=3 * self.settings.daemon.interval)
        record_gone(self.ledger, api.namespace, {s.ref for s in snapshots}, now)
        seen = []
        for snapshot in snapshots:
            policy = policy_for(self.settings, snapshot)
            changes = self.ledger.state_changes(snapshot.ref, until=now + timedelta(microseconds=1))

            def price_of(instance: Instance, override: Decimal | None = policy.price_per_hour) -> Decimal | None:
                return prices.of(instance, override)

            today = spend_between(changes, day_start(now), now, price_of=price_of).usd
            month = spend_between(changes, month_start(now), now, price_of=price_of).usd
            seen.append(_Seen(snapshot, policy, changes, today, month, price_of(snapshot.instance)))
        return seen

    def _namespace_checks(self, seen: Sequence[_Seen], now: datetime) -> list[BudgetCheck]:
        if not seen:
            return []
        namespace = seen[0].snapshot.ref.namespace
        checks = []
        for entry in self.settings.namespaces:
            if entry.namespace == namespace:
                today = sum((s.today for s in seen), Decimal(0))
                month = sum((s.month for s in seen), Decimal(0))
                check = check_budget(entry.budget, today, month, now, scope=f"namespace {namespace}")
                if check is not None:
                    checks.append(check)
        return checks

    def _reconcile(
        self, namespace: str | None, item: _Seen, ns_checks: list[BudgetCheck], report: TickReport, now: datetime
    ) -> EndpointReport:
        snapshot, policy = item.snapshot, item.policy
        ref = snapshot.ref
        checks = list(ns_checks)
        if policy.budget is not None:
            own = check_budget(policy.budget, item.today, item.month, now)
            if own is not None:
                checks.insert(0, own)
        phase = None
        if policy.schedule is not None and policy.acts:
            phase = prewarmed_phase(policy.schedule, now, cold_start_estimate(item.changes))
        if phase is not None and phase.next_change is not None:
            report.next_edge = min(filter(None, (report.next_edge, phase.next_change)))
        situation = self._situation(snapshot, policy, item.changes, phase, checks, now) if policy.acts else None
        if situation is not None and policy.keep_alive == KeepAlive.ADAPTIVE:
            situation = replace(situation, price_per_hour=item.price)
        if situation is None:
            decision = decide(policy, Situation(snapshot.state), now)
        else:
            decision = decide(policy, situation, now)
        outcome, error = self._apply(namespace, ref, decision, now)
        state = snapshot.state
        if outcome == Outcome.OK and (last := self.ledger.last_state_change(ref)) is not None:
            state = last.to_state  # what the action left it in
        if situation is not None and not self.plan_only:
            for check in checks:
                self._warn_once(ref, check, now)
        activity = situation.activity if situation else None
        idle_start = max(
            filter(None, (activity.last_request_at if activity else None, _awake_since(item.changes))), default=None
        )
        own_check = next((c for c in checks if c.scope == "endpoint"), None)
        return EndpointReport(
            ref=ref,
            state=state,
            decision=decision,
            outcome=outcome,
            error=error,
            idle_for=now - idle_start if idle_start and snapshot.state in UP_STATES else None,
            spent_today=item.today,
            spent_month=item.month,
            budget_left=own_check.left if own_check else (checks[0].left if checks else None),
            managed=policy.acts,
        )

    def _situation(
        self,
        snapshot: EndpointSnapshot,
        policy: EndpointPolicy,
        changes: Sequence[StateChange],
        phase: ScheduleState | None,
        checks: list[BudgetCheck],
        now: datetime,
    ) -> Situation:
        ref = snapshot.ref
        actions = self.ledger.actions(ref, since=now - AUDIT_LOOKBACK)
        ours = [a for a in actions if a.actor == Actor.DAEMON]
        theirs = [a for a in actions if a.actor != Actor.DAEMON and a.outcome == Outcome.OK]
        handled = [a.requested_at for a in ours if a.policy == "schedule" and a.outcome != Outcome.FAILED]
        manual = [a.requested_at for a in theirs if a.action in _MANUAL_ACTIONS]
        budget_acted = [
            a.requested_at
            for a in ours
            if a.policy == "budget" and a.outcome == Outcome.OK and a.action != ActionKind.WARN
        ]
        overridden = False
        if budget_acted:
            period_start = min((_period_start(c, now) for c in checks if c.exceeded), default=now)
            overridden = (
                any(
                    a.action == ActionKind.RESUME and a.actor == Actor.CLI and a.requested_at > budget_acted[-1]
                    for a in theirs
                )
                and budget_acted[-1] >= period_start
            )
        return Situation(
            gaps=self._history(ref, policy, now) if policy.keep_alive == KeepAlive.ADAPTIVE else None,
            cold_start=cold_start_estimate(changes),
            keepalive_handled_at=max(
                (a.requested_at for a in ours if a.policy == "keepalive" and a.outcome != Outcome.FAILED), default=None
            ),
            state=snapshot.state,
            max_replica=snapshot.max_replica,
            activity=self.ledger.activity(ref, now),
            awake_since=_awake_since(changes),
            phase=phase,
            schedule_handled_at=max(handled, default=None),
            manual_at=max(manual, default=None),
            budgets=tuple(checks),
            budget_overridden=overridden,
            hold=self.ledger.active_hold(ref, now),
        )

    def _history(self, ref: EndpointRef, policy: EndpointPolicy, now: datetime) -> GapHistory:
        """The endpoint's learned gaps, kept between ticks and fed only the requests that started after the last one
        it learned (the first tick reads the last :data:`HISTORY_LOOKBACK`; later ticks re-read :data:`LATE_RECORDS`
        before the last tick, for requests recorded after it that started before it)."""
        tz: tzinfo = ZoneInfo(policy.schedule.tz) if policy.schedule is not None else timezone.utc
        through, history = self._gaps.get(ref, (now - HISTORY_LOOKBACK + LATE_RECORDS, GapHistory(tz)))
        for record in self.ledger.requests(ref, since=through - LATE_RECORDS, until=now):
            if history.last is None or record.started_at > history.last:
                history.add(record.started_at)
        self._gaps[ref] = (now, history)
        return history

    # -- acting and auditing ----------------------------------------------------------------------------------------

    def _audit(
        self, ref: EndpointRef, decision: Decision, outcome: Outcome, at: datetime, error: str | None = None
    ) -> None:
        self.ledger.record_action(
            ActionRecord(
                ref, decision.action, decision.reason, Actor.DAEMON, at, outcome, error, policy=decision.policy
            )
        )
        self._log(ref, decision, outcome, error)

    def _log(self, ref: EndpointRef, decision: Decision, outcome: Outcome, error: str | None = None) -> None:
        level = logging.WARNING if outcome == Outcome.FAILED or decision.action == ActionKind.WARN else logging.INFO
        log.log(
            level,
            "%s %s: %s (%s)%s",
            decision.action.value,
            outcome.value,
            decision.reason,
            decision.policy,
            f": {error}" if error else "",
            extra={
                "endpoint": str(ref),
                "action": decision.action.value,
                "outcome": outcome.value,
                "policy": decision.policy,
                "reason": decision.reason,
            },
        )

    def _apply(
        self, namespace: str | None, ref: EndpointRef, decision: Decision, now: datetime
    ) -> tuple[Outcome | None, str | None]:
        if self.plan_only:
            return None, None
        if decision.skipped:
            key = (decision.action.value, decision.policy, decision.code)
            if self._last_skip.get(ref) == key:
                return Outcome.SKIPPED, None  # the same skip as last tick: audited once, not on every tick
            self._last_skip[ref] = key
            self._audit(ref, decision, Outcome.SKIPPED, now)
            return Outcome.SKIPPED, None
        self._last_skip.pop(ref, None)
        if decision.action == ActionKind.WARN:
            return None, None  # warnings are recorded once per period by _warn_once
        if not decision.acts:
            return None, None
        if self.dry_run:
            self._audit(ref, decision, Outcome.DRY_RUN, now)
            return Outcome.DRY_RUN, None
        api = self.api(namespace)
        holder = self._lease.holder if self._lease else None
        record = ActionRecord(ref, decision.action, decision.reason, Actor.DAEMON, now, Outcome.STARTED,
                              policy=decision.policy, holder=holder)  # fmt: skip
        try:
            outcome, error, snapshot, self._lease = act(
                self.ledger, self.clock, api, record, decision, self._lease, self.settings.daemon.lease_ttl
            )
        except LeaseLost as lost:
            self._lease_lost = True
            log.warning("%s %s", decision.action.value, lost, extra={"endpoint": str(ref)})
            return None, str(lost)
        self._log(ref, decision, outcome, error)
        if outcome == Outcome.FAILED:
            return outcome, error
        if decision.hold_until is not None:
            self.ledger.place_hold(Hold(ref, "budget", decision.reason, now, until=decision.hold_until))
        if snapshot is not None:
            Operator(api, self.ledger, self.clock, Actor.DAEMON).observe(snapshot, ChangeSource.ACTION)
        return Outcome.OK, None

    def _warn_once(self, ref: EndpointRef, check: BudgetCheck, now: datetime) -> None:
        """Record a budget warning at most once per endpoint, scope and period."""
        warning = budget_warning(check)
        if warning is None:
            return
        prefix = f"{check.scope} {check.period} budget"
        recorded = self.ledger.actions(ref, since=_period_start(check, now))
        if any(a.action == ActionKind.WARN and a.reason.startswith(prefix) for a in recorded):
            return
        self._audit(ref, warning, Outcome.DRY_RUN if self.dry_run else Outcome.OK, now)


def _period_start(check: BudgetCheck, now: datetime) -> datetime:
    return day_start(now) if check.period == "daily" else month_start(now)


def _awake_since(changes: Iterable[StateChange]) -> datetime | None:
    """When the endpoint last came up: its first known state that is up after a known state that was not (or
    after none). A gap in observation (``unknown``) between two up states is not a wake."""
    awake = None
    last_known: EndpointState | None = None
    for change in changes:
        if change.to_state == EndpointState.UNKNOWN:
            continue
        if change.to_state in UP_STATES and (last_known is None or last_known not in UP_STATES):
            awake = change.observed_at
        last_known = change.to_state
    return awake


def reconcile_once(
    settings: Settings,
    ledger: Ledger,
    clock: Clock,
    api_for: ApiFor,
    *,
    dry_run: bool = False,
    stop: threading.Event | None = None,
) -> TickReport:
    """Run one tick (``epmgr daemon --once``): observe, decide, act, audit.

    Example:
        >>> report = reconcile_once(settings, ledger, SystemClock(), api_for)  # doctest: +SKIP
    """
    return Reconciler(settings, ledger, clock, api_for, dry_run=dry_run).tick(stop)


def reports_by_ref(report: TickReport) -> Mapping[EndpointRef, EndpointReport]:
    return {r.ref: r for r in report.endpoints}
