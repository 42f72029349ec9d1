"""The gather stage of a tick: which namespaces to look at, one list call each, and per endpoint its policy, state
history, spend, price, cold start, recent audit entries, activity and hold (:class:`Seen`). The service then
decides and acts.

Set-based: a namespace of thousands of endpoints is read with one query per table and its observations written in
one transaction; nothing here costs a statement per endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.clock import Clock
from epmgr.config import Settings
from epmgr.domain.cost import intervals, spend_in
from epmgr.domain.history import awake_since
from epmgr.domain.keepalive import cold_start_estimate
from epmgr.domain.model import ActionRecord, Activity, EndpointRef, EndpointSnapshot, Hold, StateChange
from epmgr.domain.policy import EndpointPolicy
from epmgr.domain.rules import BudgetCheck, check_budget, day_start, month_start
from epmgr.ledger import Ledger
from epmgr.observe import record_gone, record_snapshots
from epmgr.ports import EndpointsAPI
from epmgr.pricing import PriceBook

AUDIT_LOOKBACK = timedelta(days=8)
"""How far back the audit log is read for the last schedule decision and manual action (any weekly window)."""
HISTORY_WINDOW = timedelta(days=35)
"""How far back a tick reads state changes (and the one before, the state then): this month's spend is exact; the
measured cold start is the median of those of the last 35 days, and an endpoint up for longer counts as awake
since the window's first change."""


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


@dataclass(frozen=True)
class Seen:
    """One endpoint's facts, gathered once per tick."""

    snapshot: EndpointSnapshot
    policy: EndpointPolicy
    changes: list[StateChange]
    today: Decimal
    month: Decimal
    price: Decimal | None  # per replica-hour
    awake_since: datetime | None
    cold_start: timedelta
    actions: list[ActionRecord] = field(default_factory=list)  # its audit entries of the last AUDIT_LOOKBACK
    activity: Activity = field(default_factory=Activity)
    hold: Hold | None = None


def gather(api: EndpointsAPI, settings: Settings, ledger: Ledger, clock: Clock, prices: PriceBook) -> list[Seen]:
    """One list call, the state changes it reveals recorded, and each endpoint's facts.

    Raises:
        EpmgrError: The list call failed (nothing is recorded).
    """
    snapshots = api.list_endpoints()
    now = clock.now()
    namespace = api.namespace
    known = ledger.endpoints_in(namespace)
    history = ledger.changes_in(namespace, since=now - HISTORY_WINDOW)
    last = {ref: changes[-1] for ref, changes in history.items()}
    # Longer than three ticks between two looks: the time in between is recorded as unknown, never assumed.
    # No price is stamped on the changes, so an endpoint's own price_per_hour applies when costing them.
    max_gap = 3 * settings.daemon.interval
    written = record_snapshots(snapshots, ledger, now, None, max_gap=max_gap, known=known, last=last)
    written += record_gone(ledger, namespace, {s.ref for s in snapshots}, now, last)
    _merge(history, written)
    actions = ledger.actions_in(namespace, now - AUDIT_LOOKBACK)
    activity = ledger.activity_in(namespace, now)
    holds = ledger.holds_in(namespace, now)
    until = now + timedelta(microseconds=1)
    day, month = day_start(now), month_start(now)
    seen = []
    for snapshot in snapshots:
        ref = snapshot.ref
        policy = policy_for(settings, snapshot)
        changes = [c for c in history.get(ref, ()) if c.observed_at < until]
        if policy.price_per_hour is not None:
            prices.overrides[ref] = policy.price_per_hour
        price_of = prices.price_of(ref)
        billed = intervals(changes, price_of=price_of)
        seen.append(
            Seen(
                snapshot,
                policy,
                changes,
                today=spend_in(billed, day, now).usd,
                month=spend_in(billed, month, now).usd,
                price=price_of(snapshot.instance),
                awake_since=awake_since(changes),
                cold_start=cold_start_estimate(changes),
                actions=actions.get(ref, []),
                activity=activity.get(ref, Activity()),
                hold=holds.get(ref),
            )
        )
    return seen


def _merge(history: dict[EndpointRef, list[StateChange]], written: Sequence[StateChange]) -> None:
    """Add the changes just written to each endpoint's history, kept in the ledger's order (time, then id)."""
    for ref in {c.ref for c in written}:
        changes = history.setdefault(ref, [])
        changes.extend(c for c in written if c.ref == ref)
        changes.sort(key=lambda c: (c.observed_at, c.id or 0))


def namespace_checks(settings: Settings, seen: Sequence[Seen], now: datetime) -> list[BudgetCheck]:
    """The budgets of the namespace of ``seen`` (one namespace's endpoints), against their summed spend."""
    if not seen:
        return []
    namespace = seen[0].snapshot.ref.namespace
    checks = []
    for entry in settings.namespaces:
        if entry.namespace == namespace:
            today = sum((s.today for s in seen), Decimal(0))
            month = sum((s.month for s in seen), Decimal(0))
            check = check_budget(entry.budget, today, month, now, scope=f"namespace {namespace}")
            if check is not None:
                checks.append(check)
    return checks
