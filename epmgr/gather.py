"""The gather stage of a tick: which namespaces to look at, one list call each, and per endpoint its policy, state
history, spend, price and cold start, read once (:class:`Seen`). The service then decides and acts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.clock import Clock
from epmgr.config import Settings
from epmgr.domain.cost import spend_between
from epmgr.domain.history import awake_since
from epmgr.domain.keepalive import cold_start_estimate
from epmgr.domain.model import EndpointSnapshot, StateChange
from epmgr.domain.policy import EndpointPolicy
from epmgr.domain.rules import BudgetCheck, check_budget, day_start, month_start
from epmgr.ledger import Ledger
from epmgr.observe import record_gone, record_snapshots
from epmgr.ports import EndpointsAPI
from epmgr.pricing import PriceBook


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


def gather(api: EndpointsAPI, settings: Settings, ledger: Ledger, clock: Clock, prices: PriceBook) -> list[Seen]:
    """One list call, the state changes it reveals recorded, and each endpoint's facts.

    Raises:
        EpmgrError: The list call failed (nothing is recorded).
    """
    snapshots = api.list_endpoints()
    now = clock.now()
    # Longer than three ticks between two looks: the time in between is recorded as unknown, never assumed.
    # No price is stamped on the changes, so an endpoint's own price_per_hour applies when costing them.
    record_snapshots(snapshots, ledger, now, None, max_gap=3 * settings.daemon.interval)
    record_gone(ledger, api.namespace, {s.ref for s in snapshots}, now)
    seen = []
    for snapshot in snapshots:
        policy = policy_for(settings, snapshot)
        changes = ledger.state_changes(snapshot.ref, until=now + timedelta(microseconds=1))
        if policy.price_per_hour is not None:
            prices.overrides[snapshot.ref] = policy.price_per_hour
        price_of = prices.price_of(snapshot.ref)
        today = spend_between(changes, day_start(now), now, price_of=price_of).usd
        month = spend_between(changes, month_start(now), now, price_of=price_of).usd
        price = price_of(snapshot.instance)
        seen.append(
            Seen(snapshot, policy, changes, today, month, price, awake_since(changes), cold_start_estimate(changes))
        )
    return seen


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
