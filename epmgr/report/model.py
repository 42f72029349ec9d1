"""Build a cost report from the ledger: spend, days, forecasts, timelines and savings per endpoint."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from epmgr.domain.cost import Interval, Spend, clip, intervals, spend_in
from epmgr.domain.forecast import Forecast, by_day, day_start, forecast, month_start, next_day, next_month
from epmgr.domain.model import ActionKind, EndpointRecord, EndpointRef, EndpointState, Outcome, StateChange
from epmgr.domain.savings import (
    DEFAULT_COLD_START,
    HF_DEFAULT_TIMEOUTS,
    Baseline,
    hf_baseline,
    scale_to_zero_history,
)
from epmgr.ledger import Ledger
from epmgr.observe import MAX_GAP
from epmgr.pricing import Price, PriceBook
from epmgr.unseen_traffic import UNSEEN_CLIENT


@dataclass(frozen=True)
class Saving:
    """A baseline and how much less (positive) or more (negative) the real history cost than it."""

    baseline: Baseline
    saved_usd: Decimal
    cold_waits: int = 0  # requests that would have waited for a cold start under the baseline


@dataclass(frozen=True)
class EndpointCost:
    """Everything the report shows about one endpoint."""

    ref: EndpointRef
    record: EndpointRecord
    price: Price | None
    spend: Spend
    days: list[tuple[date, Spend]]
    today: Forecast
    month: Forecast
    timeline: list[Interval]
    requests: int
    savings: list[Saving]
    cold_start: timedelta
    cold_start_observed: bool
    deleted_at: datetime | None
    history: list[Interval] = field(default_factory=list)  # unclipped, for spend in any sub-window
    cold_waits: int = 0  # recorded requests that arrived while the endpoint was not running
    unseen_requests: int = 0  # of ``requests``, those epmgr did not see (recorded from the metrics route)


@dataclass(frozen=True)
class CostReport:
    """A cost report for ``[since, until)``, computed at ``now``."""

    since: datetime
    until: datetime
    now: datetime
    tz: tzinfo
    endpoints: list[EndpointCost]

    @property
    def total(self) -> Spend:
        return sum((e.spend for e in self.endpoints), Spend())

    def days(self) -> list[tuple[date, Spend]]:
        """Spend per day, all endpoints added up."""
        totals: dict[date, Spend] = {}
        for endpoint in self.endpoints:
            for day, spend in endpoint.days:
                totals[day] = totals.get(day, Spend()) + spend
        return sorted(totals.items())

    def savings(self) -> list[tuple[str, Decimal, Decimal]]:
        """(baseline name, what it would have cost, saved) summed over endpoints, in baseline order."""
        sums: dict[str, tuple[Decimal, Decimal]] = {}
        for endpoint in self.endpoints:
            for saving in endpoint.savings:
                cost, saved = sums.get(saving.baseline.name, (Decimal(0), Decimal(0)))
                sums[saving.baseline.name] = (cost + saving.baseline.spend.usd, saved + saving.saved_usd)
        return [(name, cost, saved) for name, (cost, saved) in sums.items()]

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.endpoints)

    @property
    def cold_waits(self) -> int:
        """Recorded requests that found their endpoint not running (they waited for a cold start)."""
        return sum(e.cold_waits for e in self.endpoints)

    def baseline_cold_waits(self) -> dict[str, int]:
        """Per baseline, the requests that would have waited for a cold start under it."""
        waits: dict[str, int] = {}
        for endpoint in self.endpoints:
            for saving in endpoint.savings:
                waits[saving.baseline.name] = waits.get(saving.baseline.name, 0) + saving.cold_waits
        return waits


def _deleted_at(ledger: Ledger, ref: EndpointRef, after: datetime | None) -> datetime | None:
    for action in reversed(ledger.actions(ref)):
        if action.action == ActionKind.DELETE and action.outcome == Outcome.OK:
            if after is None or action.requested_at >= after:
                return action.requested_at
            return None
    return None


def observed_cold_start(history: Sequence[Interval]) -> timedelta | None:
    """Median length of the recorded wake-ups (scaled to zero -> initializing -> running), if any."""
    lengths = [
        current.end - current.start
        for previous, current in zip(history, history[1:], strict=False)
        if previous.state == EndpointState.SCALED_TO_ZERO
        and current.state == EndpointState.INITIALIZING
        and current.start is not None
        and current.end is not None
    ]
    return sorted(lengths)[len(lengths) // 2] if lengths else None


ASLEEP = frozenset(
    {EndpointState.SCALED_TO_ZERO, EndpointState.PAUSED, EndpointState.INITIALIZING, EndpointState.PENDING}
)
"""States in which an arriving request waits for a cold start (or a resume) before it is served."""


def cold_waits(arrivals: Sequence[datetime], history: Sequence[Interval]) -> int:
    """How many of ``arrivals`` found the endpoint asleep or starting in ``history`` (sorted, non-overlapping)."""
    starts = [i.start for i in history]
    waits = 0
    for moment in arrivals:
        index = bisect_right(starts, moment, key=lambda s: s or datetime.min.replace(tzinfo=moment.tzinfo)) - 1
        if index >= 0:
            interval = history[index]
            if interval.state in ASLEEP and (interval.end is None or moment < interval.end):
                waits += 1
    return waits


def endpoint_cost(
    ledger: Ledger,
    record: EndpointRecord,
    book: PriceBook,
    since: datetime,
    until: datetime,
    now: datetime,
    tz: tzinfo,
    *,
    hf_timeout_min: int | None = None,
    max_gap: timedelta = MAX_GAP,
) -> EndpointCost:
    """The cost of one endpoint (see :func:`build_report`)."""
    ref = record.ref
    horizon = max(until, now)
    changes: list[StateChange] = ledger.state_changes(ref, until=horizon)
    override = book.overrides.get(ref)
    if override is not None:
        changes = [replace(c, price_per_hour=override) for c in changes]
    last = changes[-1] if changes else None
    deleted = _deleted_at(ledger, ref, last.observed_at if last else None)
    seen = record.last_seen_at
    if (
        deleted is None
        and last is not None
        and seen is not None
        and last.to_state != EndpointState.UNKNOWN
        and horizon - seen > max_gap
    ):
        # Not looked at since: from the last look on, the state is unknown (not written: a later look may fill it).
        changes.append(StateChange(ref, last.to_state, EndpointState.UNKNOWN, max(seen, last.observed_at)))
    history = intervals(changes, price_of=book.price_of(ref), ended_at=deleted)
    instance = record.instance or (last.instance if last else None)
    price = book.price(instance, ref) if instance is not None else None
    requests = ledger.requests(ref, since=since, until=until)
    observed = observed_cold_start(history)
    cold_start = observed or DEFAULT_COLD_START
    replicas = max((i.replicas for i in clip(history, since, until) if i.billed), default=1)
    unit_price = price.usd_per_hour if price else None
    first = next((i.start for i in history if i.start is not None), None)
    exists_from = max(since, first) if first else since
    exists_to = min(until, deleted) if deleted else until
    spend = spend_in(history, since, until)
    # Always on over the *known* time only: unknown time is excluded from the actual spend, so from this too.
    known = [
        Interval(i.start, i.end, EndpointState.RUNNING, replicas, unit_price)
        for i in clip(history, exists_from, exists_to)
        if i.state != EndpointState.UNKNOWN
    ]
    baselines = [
        Baseline(
            "always on",
            f"{replicas} replica(s) running the whole observed time",
            spend_in(known, exists_from, exists_to) if known else Spend(),
        )
    ]
    timeouts = list(HF_DEFAULT_TIMEOUTS)
    if hf_timeout_min and timedelta(minutes=hf_timeout_min) not in timeouts:
        timeouts.insert(0, timedelta(minutes=hf_timeout_min))
    arrivals = [r.started_at for r in requests]
    end = max(exists_to, exists_from)
    in_window = [moment for moment in arrivals if exists_from <= moment < end]
    baseline_waits = [0]
    for timeout in timeouts:  # one simulated history per timeout: its bill and the requests that waited in it
        hf_history = scale_to_zero_history(
            in_window, exists_from, end, timeout=timeout, cold_start=cold_start, replicas=replicas,
            price_per_hour=unit_price,
        )  # fmt: skip
        baselines.append(
            hf_baseline(hf_history, exists_from, end, timeout=timeout, cold_start=cold_start, replicas=replicas)
        )
        baseline_waits.append(cold_waits(in_window, hf_history))
    savings = [Saving(b, b.spend.usd - spend.usd, w) for b, w in zip(baselines, baseline_waits, strict=True)]
    today = forecast(history, now, day_start(now, tz), next_day(now, tz))
    month = forecast(history, now, month_start(now, tz), next_month(now, tz))
    return EndpointCost(
        ref=ref,
        record=record,
        price=price,
        spend=spend,
        days=by_day(history, since, until, tz),
        today=today,
        month=month,
        timeline=clip(history, since, until),
        requests=len(requests),
        savings=savings,
        cold_start=cold_start,
        cold_start_observed=observed is not None,
        deleted_at=deleted,
        history=history,
        cold_waits=cold_waits(arrivals, history),
        unseen_requests=sum(1 for r in requests if r.client_id == UNSEEN_CLIENT),
    )


def build_report(
    ledger: Ledger,
    book: PriceBook,
    since: datetime,
    until: datetime,
    now: datetime,
    tz: tzinfo,
    *,
    names: Sequence[str] = (),
    namespace: str | None = None,
    hf_timeouts: Mapping[EndpointRef, int | None] | None = None,
    max_gap: timedelta = MAX_GAP,
) -> CostReport:
    """A report of every endpoint the ledger knows (or those named) for ``[since, until)``.

    Args:
        ledger: Source of state changes, requests, actions and cached prices.
        book: Price resolution (configuration, cached API prices, published table).
        since: Window start.
        until: Window end (often ``now``).
        now: The current time (forecasts; the unknown tail of endpoints not looked at lately).
        tz: Time zone of the days and months.
        names: Only these endpoint names (all when empty).
        namespace: Only this namespace (all when None).
        hf_timeouts: Each endpoint's configured HF ``scaleToZeroTimeout`` in minutes, when known.
        max_gap: Longest time without a look that still counts as observed.
    """
    records = [
        r
        for r in ledger.endpoints()
        if (not names or r.ref.name in names) and (namespace is None or r.ref.namespace == namespace)
    ]
    timeouts = hf_timeouts or {}
    costs = [
        endpoint_cost(ledger, r, book, since, until, now, tz, hf_timeout_min=timeouts.get(r.ref), max_gap=max_gap)
        for r in records
    ]
    # An endpoint the API never showed (only a failed action on a mistyped name is audited) is not in the report.
    costs = [c for c in costs if c.history or c.requests or ledger.count_requests(c.ref)]
    return CostReport(since, until, now, tz, costs)
