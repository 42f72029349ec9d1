"""The adaptive keep-alive: how long to keep a replica after its last request, priced against a cold start.

:class:`GapHistory` learns online, in bounded memory, from an endpoint's own request times: a histogram of its idle
gaps (the last :data:`RING` gaps of at least :data:`MIN_GAP`, in the spirit of the hybrid histogram policy of
Shahrad et al., ATC 2020), the same histogram per time-of-day/weekday bucket, and the starts of its recent bursts
(for periodic jobs). :func:`adaptive_decision` reads it with ``now`` and picks the keep-warm time ``T`` that
minimises the expected cost of the current gap::

    E[min(g, T) - e | g > e] * price  +  P(g > T | g > e) * (start-up * price + cold start price)

where ``e`` is how long it has been idle. A gap that ends at a predicted periodic burst costs no cold start price
(the replica is pre-warmed one start-up ahead). With thin history the break-even rule applies: keep warm one billed
start-up, then stop (never worse than twice the offline optimum). Pure and deterministic; every decision names its
evidence.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from epmgr.domain.durations import format_duration
from epmgr.domain.model import ActionKind, EndpointState
from epmgr.domain.policies import Decision
from epmgr.domain.policy import COLD_START_MINUTES, AdaptiveKnobs

MIN_GAP = timedelta(minutes=1)
"""A pause shorter than this is not an idle gap (the daemon never stops a replica that soon)."""
RING = 1024
"""How many of the most recent idle gaps are remembered."""
BURST_GAP = timedelta(minutes=10)
"""A request after at least this long without one starts a burst (for periodicity)."""
BURSTS = 12
"""How many recent burst starts are remembered."""
MIN_GAPS = 8
"""Fewer idle gaps than this: thin history, the break-even rule applies."""
MIN_BUCKET = 60
"""A time-of-day/weekday bucket is used on its own once it holds this many gaps (else all gaps are)."""
MIN_TAIL = 3
"""Fewer gaps than this lasted longer than the current idleness: beyond the data, the break-even rule applies."""
MIN_PERIODS = 3
"""Periodic once this many consecutive intervals between bursts agree."""

# Upper edges of the histogram's bins, in minutes (the first bin starts at MIN_GAP; the last is open-ended).
EDGES: tuple[int, ...] = (
    *range(2, 31),
    *range(35, 121, 5),
    *range(135, 241, 15),
    300, 360, 480, 720, 1440,
)  # fmt: skip
_BINS = len(EDGES) + 1
_STOP = ActionKind.SCALE_TO_ZERO
_ASLEEP = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})
_PART_NAMES = ("00:00-06:00", "06:00-12:00", "12:00-18:00", "18:00-24:00")


def _bin(gap_s: float) -> int:
    minutes = gap_s / 60
    low, high = 0, len(EDGES)
    while low < high:  # the first edge above the gap
        mid = (low + high) // 2
        if EDGES[mid] <= minutes:
            low = mid + 1
        else:
            high = mid
    return low


def _lower(b: int) -> float:
    """The lower edge of bin ``b``, in minutes."""
    return MIN_GAP.total_seconds() / 60 if b == 0 else float(EDGES[b - 1])


def _middle(b: int) -> float:
    return (_lower(b) + EDGES[b]) / 2 if b < len(EDGES) else 2.0 * EDGES[-1]


def bucket_of(at: datetime, tz: tzinfo = timezone.utc) -> int:
    """The time-of-day/weekday bucket of ``at``: 0-3 weekdays (six-hour parts), 4-7 weekends."""
    local = at.astimezone(tz)
    return (4 if local.weekday() >= 5 else 0) + local.hour // 6


def describe_bucket(bucket: int) -> str:
    """``"weekdays 12:00-18:00"``."""
    return f"{'weekends' if bucket >= 4 else 'weekdays'} {_PART_NAMES[bucket % 4]}"


@dataclass(frozen=True)
class Period:
    """Bursts that recur every ``every``: the last ``agreeing`` intervals within ``tolerance`` of it."""

    every: timedelta
    agreeing: int
    tolerance: timedelta
    last_burst: datetime

    def next_after(self, now: datetime) -> datetime:
        """The first expected burst start not more than ``tolerance`` before ``now``."""
        upcoming = self.last_burst + self.every
        if upcoming < now - self.tolerance:
            upcoming += self.every * ((now - self.tolerance - upcoming) // self.every + 1)
        return upcoming

    def describe(self) -> str:
        return (
            f"bursts every {format_duration(self.every)} "
            f"(the last {self.agreeing} intervals within {format_duration(self.tolerance)})"
        )


class GapHistory:
    """An endpoint's idle gaps and burst starts, updated one request at a time, in bounded memory.

    Requests must be added in time order (an earlier one than the last is ignored). ``tz`` sets the local time of
    the time-of-day/weekday buckets.

    Example:
        >>> t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
        >>> history = GapHistory.from_requests(t0 + timedelta(minutes=m) for m in (0, 30, 31, 90))
        >>> history.gaps, history.requests
        (2, 4)
    """

    def __init__(self, tz: tzinfo = timezone.utc) -> None:
        self.tz = tz
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.requests = 0
        self.version = 0  # bumped on every change of the histograms or bursts
        self._ring: deque[tuple[int, int, datetime]] = deque()  # (bin, bucket, gap end)
        self.counts = [0] * _BINS
        self.bucket_counts = [[0] * _BINS for _ in range(8)]
        self.bucket_sizes = [0] * 8
        self.bursts: deque[datetime] = deque(maxlen=BURSTS)

    @classmethod
    def from_requests(cls, times: Iterable[datetime], tz: tzinfo = timezone.utc) -> GapHistory:
        """A history of request start times (in time order)."""
        history = cls(tz)
        for t in times:
            history.add(t)
        return history

    @property
    def gaps(self) -> int:
        """How many idle gaps are remembered."""
        return len(self._ring)

    @property
    def oldest_gap_end(self) -> datetime | None:
        return self._ring[0][2] if self._ring else None

    def add(self, t: datetime) -> None:
        """Record one request that started at ``t``."""
        last = self.last
        if last is not None and t < last:
            return
        self.requests += 1
        self.last = t
        if last is None:
            self.first = t
            self.bursts.append(t)
            self.version += 1
            return
        gap = t - last
        if gap < MIN_GAP:
            return
        if gap >= BURST_GAP:
            self.bursts.append(t)
        b, k = _bin(gap.total_seconds()), bucket_of(last, self.tz)
        self._ring.append((b, k, t))
        self.counts[b] += 1
        self.bucket_counts[k][b] += 1
        self.bucket_sizes[k] += 1
        if len(self._ring) > RING:
            old_b, old_k, _ = self._ring.popleft()
            self.counts[old_b] -= 1
            self.bucket_counts[old_k][old_b] -= 1
            self.bucket_sizes[old_k] -= 1
        self.version += 1

    def histogram(self, since: datetime) -> tuple[list[int], str]:
        """The gap counts that apply to a gap that started at ``since``, and which gaps they are: its own
        time-of-day/weekday bucket once it holds :data:`MIN_BUCKET` gaps, otherwise all of them."""
        k = bucket_of(since, self.tz)
        if self.bucket_sizes[k] >= MIN_BUCKET and self.bucket_sizes[k] < len(self._ring):
            return self.bucket_counts[k], f"the last {self.bucket_sizes[k]} gaps after {describe_bucket(k)} requests"
        return self.counts, f"the last {len(self._ring)} gaps"

    def gaps_per_day(self) -> float:
        """Idle gaps a day, over the span the remembered gaps cover (at least a day)."""
        if not self._ring or self.last is None or self.first is None:
            return 0.0
        start = self.first if len(self._ring) < RING else self._ring[0][2]
        days = max((self.last - start) / timedelta(days=1), 1.0)
        return len(self._ring) / days

    def period(self, lead: timedelta) -> Period | None:
        """The bursts' period when the last :data:`MIN_PERIODS` intervals agree (within 2 min or 5 %) and it is
        longer than twice ``lead`` (else pre-warming cannot pay); None otherwise."""
        if len(self.bursts) < MIN_PERIODS + 1:
            return None
        starts = list(self.bursts)
        intervals = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        recent = sorted(intervals[-MIN_PERIODS:])
        every = recent[len(recent) // 2]
        tolerance = max(timedelta(minutes=2), every * 0.05)
        if every <= 2 * lead or any(abs(i - every) > tolerance for i in recent):
            return None
        agreeing = 0
        for interval in reversed(intervals):
            if abs(interval - every) > tolerance:
                break
            agreeing += 1
        return Period(every, agreeing, tolerance, starts[-1])


# -- the decision -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    keep: float  # minutes since the gap started: stop then (== idle: stop now)
    cost: float  # expected replica-minutes from now (cold start price included)
    alternative: float  # the best other choice: keep warm until (when stopping) or stop now (when keeping)
    alternative_cost: float
    share: float  # of the gaps still open: share that outlast ``keep`` (stop) or end within it (keep)


def _choose(
    counts: list[int], idle: float, startup: float, cold: float, max_keep: float, ends_prewarmed: float | None,
    at_least: float,
) -> _Choice | None:  # fmt: skip
    """The keep-warm time (minutes since the gap started) of least expected cost; None when too few gaps outlast
    ``idle``. ``ends_prewarmed``: a gap ending this many minutes in or later ends at a pre-warmed burst (no cold start
    price). ``at_least``: keep-warm times below it are not allowed (``max_cold_starts_per_day``)."""
    tail = [b for b in range(_BINS) if counts[b] and (b == len(EDGES) or EDGES[b] > idle)]
    total = sum(counts[b] for b in tail)
    if total < MIN_TAIL:
        return None
    penalty = {
        b: startup + (0.0 if ends_prewarmed is not None and _middle(b) >= ends_prewarmed else cold) for b in tail
    }
    rest = float(total)
    rest_penalty = sum(counts[b] * penalty[b] for b in tail)
    candidates = [(idle, rest_penalty / total, 0.0)] if idle >= at_least else []
    ended = 0.0
    for b in tail:
        upper = float(EDGES[b]) if b < len(EDGES) else float("inf")
        if upper > max_keep:
            break
        ended += counts[b] * (max(_middle(b), idle) - idle)
        rest -= counts[b]
        rest_penalty -= counts[b] * penalty[b]
        if upper >= at_least:
            candidates.append((upper, (ended + rest * (upper - idle) + rest_penalty) / total, 1 - rest / total))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: c[1])
    others = [c for c in candidates if (c[0] == idle) != (best[0] == idle)]
    other = min(others, key=lambda c: c[1]) if others else best
    outlast = 1 - other[2] if best[0] == idle else best[2]
    return _Choice(best[0], best[1], other[0], other[1], outlast)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _fmt(minutes: float) -> str:
    return format_duration(timedelta(seconds=round(minutes * 60)))


def adaptive_decision(
    knobs: AdaptiveKnobs,
    history: GapHistory | None,
    state: EndpointState,
    idle_from: datetime | None,
    now: datetime,
    *,
    lead: timedelta,
    price_per_hour: Decimal | float | None = None,
    handled_at: datetime | None = None,
    awake_since: datetime | None = None,
    min_uptime: timedelta = timedelta(0),
) -> Decision | None:
    """What the adaptive keep-alive wants now; None when it has nothing to say (the idle policy's pause applies).

    Args:
        knobs: The policy's knobs (price of a cold start, cap on cold starts a day, longest keep-warm).
        history: The endpoint's gaps (None: nothing learned yet).
        state: The endpoint's state.
        idle_from: When its current idleness began (last request or wake); None: unknown, treated as active.
        now: The decision's instant.
        lead: The billed start-up (the measured cold start): the break-even keep-warm time and the pre-warm lead.
        price_per_hour: Its price, to state costs in dollars and convert ``cold_start_usd`` (None: replica-minutes).
        handled_at: The last keep-alive action or a person's action (one pre-warm per expected burst).
        awake_since: When it last came up, for ``min_uptime``.
        min_uptime: A freshly woken replica is not stopped before this.

    Running: keep warm (``NONE``, ``keep_warm``, with the planned stop as ``next_at``) or stop now
    (``SCALE_TO_ZERO``, ``keepalive_stop``). Asleep: pre-warm (``RESUME``, ``keepalive_prewarm``) one ``lead`` before
    an expected periodic burst, or None.
    """
    period = history.period(lead) if history is not None else None
    if state in _ASLEEP:
        return _prewarm(period, now, lead, handled_at)
    if state != EndpointState.RUNNING or idle_from is None:
        return None
    price = None if price_per_hour is None else float(price_per_hour) / 60
    cold = float(COLD_START_MINUTES)
    if knobs.cold_start_usd is not None and price:
        cold = float(knobs.cold_start_usd) / price
    idle, startup = _minutes(max(now - idle_from, timedelta(0))), _minutes(lead)
    decision = _running(knobs, history, period, idle_from, now, idle, startup, cold, lead, price)
    if decision.action == ActionKind.SCALE_TO_ZERO and awake_since is not None and now - awake_since < min_uptime:
        woke = format_duration(now - awake_since)
        return replace(
            decision,
            reason=f"{decision.reason}; held back: woke {woke} ago (min_uptime {format_duration(min_uptime)})",
            code="min_uptime",
            skipped=True,
            next_action=ActionKind.SCALE_TO_ZERO,
            next_at=awake_since + min_uptime,
        )
    return decision


def _running(
    knobs: AdaptiveKnobs, history: GapHistory | None, period: Period | None, idle_from: datetime, now: datetime,
    idle: float, startup: float, cold: float, lead: timedelta, price: float | None,
) -> Decision:  # fmt: skip
    def money(minutes: float) -> str:
        return f"${minutes * price:.2f}" if price else f"{minutes:.1f} replica-minutes"

    def keep(until: float, why: str) -> Decision:
        at = idle_from + timedelta(minutes=until)
        reason = f"keep warm until {at.isoformat(timespec='minutes')}: {why}"
        return Decision(ActionKind.NONE, "keepalive", reason, "keep_warm", next_action=_STOP, next_at=at)

    def stop(why: str) -> Decision:
        return Decision(_STOP, "keepalive", f"stop now: {why}", "keepalive_stop")

    max_keep = _minutes(knobs.max_keep)
    if period is not None:
        upcoming = period.next_after(now)
        if upcoming - now <= lead + period.tolerance:
            expected = upcoming.isoformat(timespec="minutes")
            return keep(max(idle, _minutes(upcoming + period.tolerance - idle_from)), f"burst expected at {expected}, "
                        f"{period.describe()}")  # fmt: skip
    if idle >= max_keep:
        return stop(f"idle for {_fmt(idle)}, the longest it is kept warm (max_keep {_fmt(max_keep)})")
    if history is None or history.gaps < MIN_GAPS:
        seen = f"only {history.gaps if history else 0} idle gaps seen"
        if idle < startup:
            return keep(startup, f"break-even, one billed start-up ({_fmt(startup)}); {seen}")
        return stop(f"idle for {_fmt(idle)}, past the break-even of one billed start-up ({_fmt(startup)}); {seen}")
    counts, label = history.histogram(idle_from)
    at_least = 0.0
    if knobs.max_cold_starts_per_day is not None:
        at_least = _cap(history, knobs.max_cold_starts_per_day, max_keep)
    prewarmed = None if period is None else _minutes(period.next_after(now) - idle_from)
    choice = _choose(counts, idle, startup, cold, max_keep, prewarmed, at_least)
    if choice is None:
        if idle < max(startup, at_least):
            return keep(max(startup, at_least), f"break-even, one billed start-up ({_fmt(startup)}); fewer than "
                        f"{MIN_TAIL} of {label} lasted over {_fmt(idle)}")  # fmt: skip
        return stop(f"idle for {_fmt(idle)}, longer than all but a few of {label}")
    saving = money(abs(choice.alternative_cost - choice.cost))
    cap = f" (at most {knobs.max_cold_starts_per_day:g} cold starts a day)" if at_least > idle else ""
    if choice.keep <= idle:
        why = f"{choice.share:.0%} of {label} still idle after {_fmt(idle)} stayed idle past {_fmt(choice.alternative)}"
        return stop(f"{why}; expected saving {saving}")
    why = f"{choice.share:.0%} of {label} still idle after {_fmt(idle)} ended within {_fmt(choice.keep)}"
    return keep(choice.keep, f"{why}; expected saving {saving} over stopping now{cap}")


def _cap(history: GapHistory, per_day: float, max_keep: float) -> float:
    """The shortest keep-warm time (minutes) at which the learned gaps predict at most ``per_day`` cold starts."""
    rate, total = history.gaps_per_day(), history.gaps
    longer = total
    for b in range(_BINS):
        longer -= history.counts[b]
        upper = float(EDGES[b]) if b < len(EDGES) else max_keep
        if upper >= max_keep or rate * longer / total <= per_day:
            return min(upper, max_keep)
    return max_keep


def _prewarm(period: Period | None, now: datetime, lead: timedelta, handled_at: datetime | None) -> Decision | None:
    if period is None:
        return None
    upcoming = period.next_after(now)
    if not upcoming - lead <= now <= upcoming + period.tolerance:
        return None
    if handled_at is not None and handled_at >= upcoming - lead - period.tolerance:
        return None
    reason = f"pre-warm, {format_duration(lead)} ahead: next burst expected at {upcoming.isoformat(timespec='minutes')}"
    return Decision(ActionKind.RESUME, "keepalive", f"{reason}, {period.describe()}", "keepalive_prewarm")


def next_prewarm(history: GapHistory | None, now: datetime, lead: timedelta) -> tuple[ActionKind, datetime] | None:
    """The next planned pre-warm (one ``lead`` before the next expected burst), for ``epmgr status``."""
    period = history.period(lead) if history is not None else None
    if period is None:
        return None
    at = period.next_after(now) - lead
    return (ActionKind.RESUME, at) if at > now else None
