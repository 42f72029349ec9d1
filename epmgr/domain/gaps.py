"""What an endpoint's own requests say about its idle gaps: :class:`GapHistory`, learned online in bounded memory.

A histogram of its idle gaps (the last :data:`RING` gaps of at least :data:`MIN_GAP`, in minute bins, in the spirit of
the hybrid histogram policy of Shahrad et al., ATC 2020), the same per context (how busy the hour before a gap was,
its time of day and weekday; each context keeps its own last :data:`CONTEXT_RING` gaps), and the starts of its recent
bursts, from which :meth:`GapHistory.period` finds periodic jobs. Pure: request times in, counts out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from epmgr.domain.bank import Bank
from epmgr.domain.daymap import DayMap
from epmgr.domain.durations import format_duration

MIN_GAP = timedelta(minutes=1)
"""A pause shorter than this is not an idle gap (the daemon never stops a replica that soon)."""
RING = 1024
"""How many of the most recent idle gaps are remembered (all contexts together)."""
CONTEXT_RING = 256
"""How many of the most recent idle gaps each context remembers."""
BURST_GAP = timedelta(minutes=10)
"""A request after at least this long without one starts a burst (for periodicity)."""
BURSTS = 12
"""How many recent burst starts are remembered."""
MIN_GAPS = 8
"""Fewer idle gaps than this: thin history, the break-even rule applies."""
MIN_BUCKET = 20
"""A time-of-day/weekday bucket is used on its own once it holds this many gaps (else all gaps are)."""
PRIOR = 20.0
"""A context's histogram is blended with this many gaps' worth of the histogram of all gaps."""
MIN_BUCKET_TAIL = 5
"""... of which this many lasted longer than the current idleness."""
MIN_TAIL = 3
"""Fewer gaps than this lasted longer than the current idleness: beyond the data, the break-even rule applies."""
MIN_PERIODS = 4
"""Periodic once this many consecutive intervals between bursts agree (three agree by chance now and then in random
traffic, and a spurious period pre-warms for bursts that never come)."""
PREWARM_MARGIN = timedelta(minutes=1)
"""A pre-warm starts this much earlier than one start-up plus the bursts' jitter (a daemon tick or so)."""

# Upper edges of the histogram's bins, in minutes (the first bin starts at MIN_GAP; the last is open-ended).
EDGES: tuple[int, ...] = (
    *range(2, 31),
    *range(35, 121, 5),
    *range(135, 241, 15),
    300, 360, 480, 720, 1440,
)  # fmt: skip
BINS = len(EDGES) + 1
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


def lower_edge(b: int) -> float:
    """The lower edge of bin ``b``, in minutes."""
    return MIN_GAP.total_seconds() / 60 if b == 0 else float(EDGES[b - 1])


def upper_edge(b: int) -> float:
    return float(EDGES[b]) if b < len(EDGES) else float("inf")


def middle(b: int) -> float:
    return (lower_edge(b) + EDGES[b]) / 2 if b < len(EDGES) else 2.0 * EDGES[-1]


def bucket_of(at: datetime, tz: tzinfo = timezone.utc) -> int:
    """The time-of-day/weekday bucket of ``at``: 0-3 weekdays (six-hour parts), 4-7 weekends."""
    local = at.astimezone(tz)
    return (4 if local.weekday() >= 5 else 0) + local.hour // 6


def describe_bucket(bucket: int) -> str:
    """``"weekdays 12:00-18:00"``."""
    return f"{'weekends' if bucket >= 4 else 'weekdays'} {_PART_NAMES[bucket % 4]}"


Context = tuple[str, int, int]
"""What a gap is conditioned on: ``("busy", class, 0)``, ``("time", 0, bucket)`` or ``("both", class, bucket)``."""
_BUSY = (1, 4, 19, 99, 1 << 62)  # requests in the hour before a gap: classes up to these counts
_BUSY_NAMES = ("a lone request", "2-4 requests", "5-19 requests", "20-99 requests", "100+ requests")


def describe_context(context: Context) -> str:
    """``"after 5-19 requests in an hour, weekdays 12:00-18:00"``."""
    kind, busy, time = context
    parts = [] if kind == "time" else [f"{_BUSY_NAMES[busy]} in an hour" if busy else _BUSY_NAMES[0]]
    if kind != "busy":
        parts.append(f"{'in' if kind == 'time' else 'on'} {describe_bucket(time)}")
    return "after " + ", ".join(parts) if kind != "time" else f"starting {describe_bucket(time)}"


@dataclass(frozen=True)
class Period:
    """Bursts that recur every ``every``: the last ``agreeing`` intervals within ``tolerance`` of it, the recent ones
    within ``jitter``."""

    every: timedelta
    agreeing: int
    tolerance: timedelta
    last_burst: datetime
    jitter: timedelta = timedelta(0)

    def prewarm_at(self, upcoming: datetime, lead: timedelta) -> datetime:
        """When to pre-warm for the burst expected at ``upcoming``: one ``lead`` plus the jitter and a margin ahead."""
        return upcoming - lead - self.jitter - PREWARM_MARGIN

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
        self._ring: deque[tuple[int, tuple[Context, ...], datetime]] = deque()  # (bin, contexts, gap end)
        self.counts = [0] * BINS
        self.by_context: dict[Context, list[int]] = {}
        self.sizes: dict[Context, int] = {}
        self._context_rings: dict[Context, deque[int]] = {}
        self._minutes: deque[list[int]] = deque()  # [minute, requests] of the last hour
        self._hour = 0  # requests in the last hour (up to the last request)
        self._minute_end = datetime.min.replace(tzinfo=timezone.utc)  # the end of the last request's minute
        self._fast_until = self._minute_end  # before this, a request after the last one is neither a gap nor a minute
        self.bursts: deque[datetime] = deque(maxlen=BURSTS)
        self.days = DayMap(tz)  # which minutes of recent days had requests
        self.bank = Bank()  # cold starts saved and spent against the timeout alone (judged by the keep-alive's rule)

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
    def lone(self) -> bool:
        """The last request was the only one in the hour up to it."""
        return self._hour <= 1

    @property
    def oldest_gap_end(self) -> datetime | None:
        return self._ring[0][2] if self._ring else None

    def add(self, t: datetime) -> None:
        """Record one request that started at ``t``."""
        last = self.last
        if last is not None and last <= t < self._fast_until:  # no gap, the same minute: only count it
            self.requests += 1
            self.last = t
            self._hour += 1
            self._minutes[-1][1] += 1
            return
        if last is not None and t < last:
            return
        self.requests += 1
        self.last = t
        if last is None:
            self.first = t
            self.bursts.append(t)
            self._count(t)
            self.version += 1
            return
        gap = t - last
        if gap >= MIN_GAP:
            self.bank.count(self, last, t)  # before anything changes: the history as it stood during the gap
            self._record(gap, self.contexts(last), t)
        self._count(t)

    def extend(self, seconds: Sequence[float]) -> None:
        """Record many requests at once, as epoch seconds in time order: the same as :meth:`add` on each (one earlier
        than the last learned is ignored; the order within ``seconds`` is not checked), but the requests after the
        first of each minute are only counted (two datetimes a minute instead of one a request)."""
        index, count = 0, len(seconds)
        while index < count:
            moment = datetime.fromtimestamp(seconds[index], timezone.utc)
            self.add(moment)
            if self.last != moment:  # ignored (earlier than the last)
                index += 1
                continue
            # the rest of this minute, with a microsecond's margin for the datetimes' rounding: no gap, only counted
            stop = bisect_left(seconds, self._minute_end.timestamp() - 1e-6, index + 1, count)
            if stop > index + 1:
                more = stop - index - 1
                self.requests += more
                self._hour += more
                self._minutes[-1][1] += more
                self.last = datetime.fromtimestamp(seconds[stop - 1], timezone.utc)
            index = stop

    def _count(self, t: datetime) -> None:
        self._hour += 1
        if self._minutes and t < self._minute_end:  # the same minute as the last request (the common case)
            self._minutes[-1][1] += 1
            return
        self.days.mark(t)
        minute = int(t.timestamp() // 60)
        self._minute_end = datetime.fromtimestamp((minute + 1) * 60, timezone.utc)
        self._fast_until = min(t + MIN_GAP, self._minute_end)
        self._minutes.append([minute, 1])
        while self._minutes[0][0] <= minute - 60:
            self._hour -= self._minutes.popleft()[1]

    def _record(self, gap: timedelta, contexts: tuple[Context, ...], end: datetime) -> None:
        if gap >= BURST_GAP:
            self.bursts.append(end)
        b = _bin(gap.total_seconds())
        self._ring.append((b, contexts, end))
        self.counts[b] += 1
        if len(self._ring) > RING:
            self.counts[self._ring.popleft()[0]] -= 1
        for context in contexts:  # each context keeps its own last CONTEXT_RING gaps: rare ones are not crowded out
            ring = self._context_rings.setdefault(context, deque())
            counts = self.by_context.setdefault(context, [0] * BINS)
            ring.append(b)
            counts[b] += 1
            if len(ring) > CONTEXT_RING:
                counts[ring.popleft()] -= 1
            self.sizes[context] = len(ring)
        self.version += 1

    def contexts(self, since: datetime) -> tuple[Context, ...]:
        """The contexts of a gap that starts at ``since`` (the last request), most specific first: how busy the hour
        before it was and its time of day/weekday, each alone."""
        busy = next(k for k, top in enumerate(_BUSY) if self._hour <= top)
        time = bucket_of(since, self.tz)
        return (("both", busy, time), ("busy", busy, 0), ("time", 0, time))

    def histogram(self, since: datetime, idle: timedelta = MIN_GAP, *, blended: bool = True) -> tuple[list[float], str]:
        """The gap counts that apply to a gap that started at ``since`` (the last request) and has lasted ``idle``,
        and which gaps they are: the most specific context (see :meth:`contexts`) that holds :data:`MIN_BUCKET` gaps
        of which :data:`MIN_BUCKET_TAIL` lasted longer than ``idle``, else all of them. ``blended``: a context's
        counts are blended with :data:`PRIOR` gaps' worth of all gaps (False: its own counts only)."""
        longer_than = minutes(idle)
        for context in self.contexts(since):
            if self.sizes.get(context, 0) >= MIN_BUCKET:
                counts = self.by_context[context]
                if sum(counts[b] for b in range(BINS) if upper_edge(b) > longer_than) >= MIN_BUCKET_TAIL:
                    own = self._shrunk(counts) if blended else [float(n) for n in counts]
                    return own, f"the last {self.sizes[context]} gaps {describe_context(context)}"
        return [float(n) for n in self.counts], f"the last {len(self._ring)} gaps"

    def _shrunk(self, counts: list[int]) -> list[float]:
        """A context's counts plus :data:`PRIOR` gaps shaped like all gaps (so a small context does not overfit)."""
        total = len(self._ring)
        return [n + PRIOR * m / total for n, m in zip(counts, self.counts, strict=True)]

    def gaps_per_day(self) -> float:
        """Idle gaps a day, over the span the remembered gaps cover (at least a day)."""
        if not self._ring or self.last is None or self.first is None:
            return 0.0
        start = self.first if len(self._ring) < RING else self._ring[0][2]
        days = max((self.last - start) / timedelta(days=1), 1.0)
        return len(self._ring) / days

    def period(self, lead: timedelta) -> Period | None:
        """The bursts' period when the last :data:`MIN_PERIODS` intervals agree (within a minute or 5 %) and it is
        longer than twice ``lead`` (else pre-warming cannot pay); None otherwise."""
        if len(self.bursts) < MIN_PERIODS + 1:
            return None
        starts = list(self.bursts)
        intervals = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        recent = sorted(intervals[-MIN_PERIODS:])
        every = recent[len(recent) // 2]
        tolerance = max(timedelta(minutes=1), every * 0.05)
        if every <= 2 * lead or any(abs(i - every) > tolerance for i in recent):
            return None
        agreeing = 0
        for interval in reversed(intervals):
            if abs(interval - every) > tolerance:
                break
            agreeing += 1
        return Period(every, agreeing, tolerance, starts[-1], max(abs(i - every) for i in recent))


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60
