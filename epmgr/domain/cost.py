"""What an endpoint cost: billed replica-minutes and dollars from its state changes.

The billing rule (HF's, as far as it is documented; the emulator bills the same way, see docs/emulator.md):

1. Only ``initializing``, ``running`` and ``updating`` cost money (:data:`BILLED_STATES`), per replica.
2. A *segment* is a maximal stretch of consecutive billed time with the same replica count and price.
3. A segment is billed in whole minutes, rounded up: minute ``k`` of a segment that started at ``s`` begins at
   ``s + k min`` and is billed whole. A 10 s cold start costs one minute.
4. A segment's first ``k`` minutes cost ``round_half_up(k * replicas * price_per_hour / 60, 6 decimals)``.

Windows (a day, a month, "since 7d") get the billed minutes that *begin* in them, and the difference of the
cumulative rounded amounts above. So a whole segment costs exactly what HF (and the emulator) bill for it, and
splitting a window anywhere never changes a total (no minute or micro-dollar is counted twice or lost).

Time whose state is unknown (an ``unknown`` state, or history the caller did not pass) is never billed as zero
silently: it is returned in :attr:`Spend.unknown`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from epmgr.domain.model import EndpointState, Instance, StateChange

BILLED_STATES: frozenset[EndpointState] = frozenset(
    {EndpointState.INITIALIZING, EndpointState.RUNNING, EndpointState.UPDATING}
)
"""States that cost money: HF bills initializing and running; updating keeps its replicas."""

USD_QUANTUM = Decimal("0.000001")
"""Amounts are rounded half-up to this many dollars (a micro-dollar), as the emulator does."""

MINUTE_US = 60_000_000
ZERO = Decimal(0)

PriceOf = Callable[[Instance], "Decimal | None"]


def _no_price(_: Instance) -> Decimal | None:
    return None


@dataclass(frozen=True)
class Spend:
    """What one endpoint (or several, added up) cost in a window.

    Args:
        usd: Dollars, exact (rounded per segment to a micro-dollar, as billed).
        replica_minutes: Billed replica-minutes (HF's per-minute rounding).
        unknown: Time in the window whose state is unknown; it is *not* included in ``usd``.
        unpriced_replica_minutes: Billed replica-minutes whose price was unknown (not included in ``usd``).
    """

    usd: Decimal = ZERO
    replica_minutes: int = 0
    unknown: timedelta = timedelta(0)
    unpriced_replica_minutes: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.usd + other.usd,
            self.replica_minutes + other.replica_minutes,
            self.unknown + other.unknown,
            self.unpriced_replica_minutes + other.unpriced_replica_minutes,
        )

    @property
    def complete(self) -> bool:
        """True when every moment of the window had a known state and every billed minute a price."""
        return self.unknown == timedelta(0) and self.unpriced_replica_minutes == 0


@dataclass(frozen=True)
class Interval:
    """A stretch of time in one state (``end`` None: still going on)."""

    start: datetime | None
    end: datetime | None
    state: EndpointState
    replicas: int
    price_per_hour: Decimal | None
    instance: Instance | None = None

    @property
    def billed(self) -> bool:
        return self.state in BILLED_STATES and self.replicas > 0


@dataclass(frozen=True)
class Segment:
    """A maximal stretch of billed time with one replica count and price (the unit HF rounds)."""

    start: datetime
    end: datetime | None
    replicas: int
    price_per_hour: Decimal | None
    intervals: tuple[Interval, ...] = field(default=(), compare=False)

    def minutes_begun_before(self, moment: datetime) -> int:
        """Billed minutes of this segment that begin before ``moment`` (any started minute is billed whole)."""
        stop = moment if self.end is None else min(moment, self.end)
        if stop <= self.start:
            return 0
        return -(-_micros(stop - self.start) // MINUTE_US)

    def usd_for_minutes(self, minutes: int) -> Decimal:
        """The cumulative amount of the first ``minutes`` minutes, rounded as billed."""
        if self.price_per_hour is None or minutes <= 0:
            return ZERO
        return segment_usd(minutes, self.replicas, self.price_per_hour)


def segment_usd(minutes: int, replicas: int, price_per_hour: Decimal) -> Decimal:
    """``minutes * replicas * price_per_hour / 60`` rounded half-up to a micro-dollar."""
    return (Decimal(minutes * replicas) * price_per_hour / 60).quantize(USD_QUANTUM, rounding=ROUND_HALF_UP)


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def ordered(changes: Iterable[StateChange]) -> list[StateChange]:
    """Changes in a total order: by time, then ledger id, then content (so any input order gives one answer)."""

    def key(c: StateChange) -> tuple[datetime, int, str, int, str, str]:
        return (
            c.observed_at,
            c.id if c.id is not None else -1,
            c.to_state.value,
            -1 if c.replicas is None else c.replicas,
            str(c.price_per_hour),
            str(c.instance),
        )

    return sorted(changes, key=key)


def intervals(
    changes: Sequence[StateChange], *, price_of: PriceOf = _no_price, ended_at: datetime | None = None
) -> list[Interval]:
    """The endpoint's history as back-to-back intervals, oldest first; the last one is open (``end`` None).

    ``ended_at`` (the endpoint was deleted then) closes the last interval; nothing is billed after it.

    Before the first change: nothing if it is the endpoint's first record (``from_state`` None: it did not
    exist, or epmgr recorded its existence from then on); otherwise an ``unknown`` interval (history missing).
    A billed state whose change has no replica count is taken as 1 replica (the least a billed state has).
    """
    history = ordered(changes)
    result: list[Interval] = []
    if history and history[0].from_state is not None:
        result.append(Interval(None, history[0].observed_at, EndpointState.UNKNOWN, 0, None))
    for index, change in enumerate(history):
        end = history[index + 1].observed_at if index + 1 < len(history) else None
        if end is not None and end == change.observed_at:
            continue  # superseded at the same instant
        replicas = change.replicas
        if replicas is None:
            replicas = 1 if change.to_state in BILLED_STATES else 0
        price = change.price_per_hour
        if price is None and change.instance is not None:
            price = price_of(change.instance)
        result.append(Interval(change.observed_at, end, change.to_state, replicas, price, change.instance))
    if ended_at is not None and result:
        while result and result[-1].start is not None and result[-1].start >= ended_at:
            result.pop()
        if result:
            last = result[-1]
            result[-1] = Interval(last.start, ended_at, last.state, last.replicas, last.price_per_hour, last.instance)
    return result


def segments(history: Sequence[Interval]) -> list[Segment]:
    """Billed intervals merged into segments: consecutive, same replicas and same price."""
    result: list[Segment] = []
    for interval in history:
        if not interval.billed or interval.start is None:
            continue
        if result:
            last = result[-1]
            if last.end == interval.start and (last.replicas, last.price_per_hour) == (
                interval.replicas,
                interval.price_per_hour,
            ):
                result[-1] = Segment(
                    last.start, interval.end, last.replicas, last.price_per_hour, (*last.intervals, interval)
                )
                continue
        result.append(Segment(interval.start, interval.end, interval.replicas, interval.price_per_hour, (interval,)))
    return result


def _overlap(interval: Interval, start: datetime, end: datetime) -> timedelta:
    lo = start if interval.start is None else max(start, interval.start)
    hi = end if interval.end is None else min(end, interval.end)
    return max(hi - lo, timedelta(0))


def spend_in(history: Sequence[Interval], start: datetime, end: datetime) -> Spend:
    """The spend of ready-made intervals (see :func:`intervals`) in ``[start, end)``."""
    if end <= start:
        return Spend()
    usd = ZERO
    replica_minutes = 0
    unpriced = 0
    for segment in segments(history):
        before = segment.minutes_begun_before(start)
        upto = segment.minutes_begun_before(end)
        minutes = upto - before
        if minutes <= 0:
            continue
        if segment.price_per_hour is None:
            unpriced += minutes * segment.replicas
            continue
        replica_minutes += minutes * segment.replicas
        usd += segment.usd_for_minutes(upto) - segment.usd_for_minutes(before)
    unknown = sum(
        (_overlap(i, start, end) for i in history if i.state == EndpointState.UNKNOWN),
        timedelta(0),
    )
    if not history:  # nothing recorded at all: we know nothing, and say so
        unknown = end - start
    return Spend(usd, replica_minutes + unpriced, unknown, unpriced)


def spend_between(
    changes: Sequence[StateChange],
    start: datetime,
    end: datetime,
    *,
    price_of: PriceOf = _no_price,
) -> Spend:
    """Billed replica-minutes and dollars of one endpoint in ``[start, end)``.

    Args:
        changes: The endpoint's state changes in any order, including the last one before ``start`` (so the
            state at ``start`` is known). Pass the changes since its billed segment began for exact minute
            alignment; all of them is always right. The last state is taken to hold until ``end``.
        start: Window start (aware).
        end: Window end (aware); usually "now" or the end of a day.
        price_of: The price per replica-hour of an instance, for changes that carry none. A change's own
            ``price_per_hour`` wins.

    Returns:
        The spend; time in an unknown state is in ``unknown`` and never billed as zero silently (with no
        changes at all, the whole window is unknown).

    Example:
        >>> from datetime import timezone
        >>> from epmgr.domain.model import EndpointRef
        >>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
        >>> ref = EndpointRef("acme", "phi3")
        >>> run = StateChange(ref, None, EndpointState.RUNNING, t0, replicas=1, price_per_hour=Decimal("0.8"))
        >>> stop = StateChange(ref, EndpointState.RUNNING, EndpointState.PAUSED, t0 + timedelta(seconds=61))
        >>> spend_between([run, stop], t0, t0 + timedelta(hours=1))
        Spend(usd=Decimal('0.026667'), replica_minutes=2, unknown=datetime.timedelta(0), unpriced_replica_minutes=0)
    """
    return spend_in(intervals(changes, price_of=price_of), start, end)


def clip(history: Sequence[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Intervals cut to ``[start, end)``, with time before the first record shown as not existing."""
    result = []
    for i in history:
        lo = start if i.start is None else max(start, i.start)
        hi = end if i.end is None else min(end, i.end)
        if hi > lo:
            result.append(Interval(lo, hi, i.state, i.replicas, i.price_per_hour, i.instance))
    return result
