"""One reconcile tick: observe every namespace, decide per endpoint, act, audit. The daemon runs it on a timer.

Level-triggered, like SkyPilot's skylet: every tick recomputes the wanted action from the current state, the
ledger and the clock, so missed ticks and restarts cost nothing and actions are idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr import cron
from epmgr.acting import LeaseLost, act, log_decision, reconcile_unfinished
from epmgr.clock import Clock
from epmgr.config import Settings
from epmgr.domain.decide import Situation, decide
from epmgr.domain.history import AuditFacts, created_by_epmgr, read_audit
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Actor,
    EndpointRef,
    EndpointState,
    Hold,
    Lease,
    Outcome,
)
from epmgr.domain.policy import EndpointPolicy, KeepAlive, Traffic
from epmgr.domain.rules import (
    UP_STATES,
    BudgetCheck,
    Decision,
    budget_warning,
    check_budget,
    day_start,
    idle_since,
    month_start,
)
from epmgr.errors import EpmgrError
from epmgr.gather import Seen, gather, namespace_checks, namespaces
from epmgr.learned_gaps import LearnedGaps
from epmgr.ledger import Ledger
from epmgr.ports import EndpointsAPI
from epmgr.pricing import PriceBook
from epmgr.unseen_traffic import UNSEEN_CLIENT, UnseenTraffic

log = logging.getLogger("epmgr.service")

ApiFor = Callable[[str | None], EndpointsAPI]
"""Builds the API of one namespace (None: the token's own user)."""

_IDLE_POLICIES = frozenset({"idle", "keepalive"})
_IDLE_ACTIONS = frozenset({ActionKind.PAUSE, ActionKind.SCALE_TO_ZERO})


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
    traffic: Traffic = Traffic.EPMGR
    unseen_today: int = 0  # requests the endpoint received today that epmgr did not see (metrics route)


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


class Reconciler:
    """Runs reconcile ticks (gather, decide, act); keeps only what avoids repeating work between ticks.

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
        self._gaps = LearnedGaps(ledger)
        self._created: dict[str, set[EndpointRef]] = {}  # per namespace: endpoints epmgr created (read once)
        self._warned: set[tuple[EndpointRef, str, datetime]] = set()
        self._unseen = UnseenTraffic(ledger)
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
        prices = PriceBook.from_ledger(self.ledger)
        for namespace in namespaces(self.settings):
            seen = self._observe(namespace, prices, report)
            if seen is None:
                continue
            ns_budgets = namespace_checks(self.settings, seen, now)
            self._gaps.learn(seen, now)
            done: list[EndpointReport] = []
            for item in seen:
                if (stop is not None and stop.is_set()) or self._lease_lost:
                    report.interrupted = True
                    break
                try:
                    done.append(self._reconcile(namespace, item, ns_budgets, report, now))
                except EpmgrError as exc:  # skylet-style isolation: log, count, go on with the next endpoint
                    report.errors.append(f"{item.snapshot.ref}: {exc}")
                    log.error("reconcile failed: %s", exc, extra={"endpoint": str(item.snapshot.ref)})
            report.endpoints += self._with_unseen(done, now)
        report.lease_lost = self._lease_lost
        report.finished_at = self.clock.now()
        return report

    @property
    def lease(self) -> Lease | None:
        """The lease as the last action renewed it."""
        return self._lease

    # -- gather -----------------------------------------------------------------------------------------------------

    def _observe(self, namespace: str | None, prices: PriceBook, report: TickReport) -> list[Seen] | None:
        """One list call, the state changes recorded, and each endpoint's spend (None: the list call failed)."""
        try:
            return gather(self.api(namespace), self.settings, self.ledger, self.clock, prices)
        except EpmgrError as exc:
            report.errors.append(f"namespace {namespace or '(own)'}: {exc}")
            log.error("cannot list endpoints: %s", exc, extra={"namespace": namespace})
            return None

    def _traffic(self, ref: EndpointRef, policy: EndpointPolicy, recent: Sequence[ActionRecord]) -> Traffic:
        """Configured, else ``epmgr`` for an endpoint ``epmgr create`` created (the namespace's whole audit log
        read once per process, then the recent entries), else ``shared``."""
        configured = policy.traffic or self.settings.traffic
        if configured is not None:
            return configured
        if ref.namespace not in self._created:
            self._created[ref.namespace] = self.ledger.created_in(ref.namespace)
        created = self._created[ref.namespace]
        if ref not in created and created_by_epmgr(recent):
            created.add(ref)
        return Traffic.EPMGR if ref in created else Traffic.SHARED

    def _with_unseen(self, reports: list[EndpointReport], now: datetime) -> list[EndpointReport]:
        """The reports, with today's requests epmgr did not see counted (one query) on managed shared endpoints."""
        wanted = {r.ref for r in reports if r.managed and r.traffic == Traffic.SHARED}
        if not wanted:
            return reports
        counts = self.ledger.request_counts_in(
            reports[0].ref.namespace, wanted, since=day_start(now), client_id=UNSEEN_CLIENT
        )
        return [replace(r, unseen_today=counts[r.ref]) if r.ref in counts else r for r in reports]

    # -- decide -----------------------------------------------------------------------------------------------------

    def _reconcile(
        self, namespace: str | None, item: Seen, ns_checks: list[BudgetCheck], report: TickReport, now: datetime
    ) -> EndpointReport:
        snapshot, policy = item.snapshot, item.policy
        ref = snapshot.ref
        checks = list(ns_checks)
        if policy.budget is not None:
            own = check_budget(policy.budget, item.today, item.month, now)
            if own is not None:
                checks.insert(0, own)
        traffic = policy.traffic or self.settings.traffic or Traffic.SHARED  # an observed endpoint: not looked up
        situation = Situation(snapshot.state)
        if policy.acts:  # only endpoints epmgr acts on are looked at further
            recent = item.actions
            traffic = self._traffic(ref, policy, recent)
            situation = self._situation(item, checks, recent, traffic, now)
            if situation.phase is not None and situation.phase.next_change is not None:
                report.next_edge = min(filter(None, (report.next_edge, situation.phase.next_change)))
        decision = decide(policy, situation, now)
        if policy.acts and decision.acts and self._unseen_since(namespace, ref, decision, situation, now):
            situation = replace(situation, activity=self.ledger.activity(ref, now))
            decision = decide(policy, situation, now)
        outcome, error = self._apply(namespace, ref, decision, now)
        state = snapshot.state
        if outcome == Outcome.OK and (last := self.ledger.last_state_change(ref)) is not None:
            state = last.to_state  # what the action left it in
        if policy.acts and not self.plan_only:
            for check in checks:
                self._warn_once(ref, check, now)
        idle_start = idle_since(situation.activity, item.awake_since)
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
            traffic=traffic,
        )

    def _situation(
        self, item: Seen, checks: list[BudgetCheck], recent: Sequence[ActionRecord], traffic: Traffic, now: datetime
    ) -> Situation:
        snapshot, policy = item.snapshot, item.policy
        ref = snapshot.ref
        phase = cron.prewarmed(policy.schedule, now, item.cold_start) if policy.schedule is not None else None
        period_start = min((_period_start(c, now) for c in checks if c.exceeded), default=now)
        facts: AuditFacts = read_audit(recent, budget_period_start=period_start)
        adaptive = policy.keep_alive == KeepAlive.ADAPTIVE
        return Situation(
            gaps=self._gaps[ref] if adaptive else None,
            price_per_hour=item.price if adaptive else None,
            cold_start=item.cold_start,
            keepalive_handled_at=facts.keepalive_handled_at,
            state=snapshot.state,
            max_replica=snapshot.max_replica,
            activity=item.activity,
            awake_since=item.awake_since,
            phase=phase,
            schedule_handled_at=facts.schedule_handled_at,
            manual_at=facts.manual_at,
            budgets=tuple(checks),
            budget_overridden=facts.budget_overridden,
            hold=item.hold,
            shared=traffic == Traffic.SHARED,
            failing=facts.failing,
        )

    def _unseen_since(
        self, namespace: str | None, ref: EndpointRef, decision: Decision, s: Situation, now: datetime
    ) -> int:
        """Before an idle action on a shared endpoint: the requests it received since its idle timer started that
        the ledger missed, now recorded (0 when none, or the metrics route is unavailable)."""
        if not s.shared or decision.action not in _IDLE_ACTIONS or decision.policy not in _IDLE_POLICIES:
            return 0  # "epmgr" traffic: the ledger sees every request
        since = idle_since(s.activity, s.awake_since)
        if since is None:
            return 0
        return self._unseen.import_unseen(self.api(namespace), ref, since, now) or 0

    # -- act ----------------------------------------------------------------------------------------------------------

    def _audit(
        self, ref: EndpointRef, decision: Decision, outcome: Outcome, at: datetime, error: str | None = None
    ) -> None:
        """Record a decision that calls no API (skipped, dry run, warning); actions go through :func:`act`."""
        self.ledger.record_action(
            ActionRecord(
                ref, decision.action, decision.reason, Actor.DAEMON, at, outcome, error, policy=decision.policy
            )
        )
        log_decision(ref, decision, outcome, error)

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
        if not decision.acts:
            return None, None  # nothing to do; warnings are recorded once per period by _warn_once
        if self.dry_run:
            self._audit(ref, decision, Outcome.DRY_RUN, now)
            return Outcome.DRY_RUN, None
        holder = self._lease.holder if self._lease else None
        record = ActionRecord(ref, decision.action, decision.reason, Actor.DAEMON, now, Outcome.STARTED,
                              policy=decision.policy, holder=holder)  # fmt: skip
        try:
            outcome, error, _, self._lease = act(
                self.ledger, self.clock, self.api(namespace), record, decision, self._lease,
                self.settings.daemon.lease_ttl,
            )  # fmt: skip
        except LeaseLost as lost:
            self._lease_lost = True
            log.warning("%s %s", decision.action.value, lost, extra={"endpoint": str(ref)})
            return None, str(lost)
        log_decision(ref, decision, outcome, error)
        if outcome == Outcome.FAILED:
            return outcome, error
        if decision.hold_until is not None:
            self.ledger.place_hold(Hold(ref, "budget", decision.reason, now, until=decision.hold_until))
        return Outcome.OK, None

    def _warn_once(self, ref: EndpointRef, check: BudgetCheck, now: datetime) -> None:
        """Record a budget warning at most once per endpoint, scope and period."""
        warning = budget_warning(check)
        if warning is None:
            return
        prefix = f"{check.scope} {check.period} budget"
        key = (ref, prefix, _period_start(check, now))
        if key in self._warned:
            return  # recorded (or found recorded) earlier this period by this process
        recorded = self.ledger.actions(ref, since=key[2])
        if not any(a.action == ActionKind.WARN and a.reason.startswith(prefix) for a in recorded):
            self._audit(ref, warning, Outcome.DRY_RUN if self.dry_run else Outcome.OK, now)
        self._warned.add(key)


def _period_start(check: BudgetCheck, now: datetime) -> datetime:
    return day_start(now) if check.period == "daily" else month_start(now)


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
