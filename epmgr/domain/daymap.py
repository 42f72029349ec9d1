"""Which minutes of an endpoint's recent days had requests: :class:`DayMap`, for time-of-day evidence.

Office hours, a lunch break, a nightly lull: when on every recent comparable day that was busy at this time nothing came
in the next minutes, the gap that has just begun will outlast them too (see :meth:`DayMap.quiet_after`). A bit per
local minute of each of the last :data:`DAYS` days that had a request; pure, bounded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo

DAYS = 28
"""How many of the most recent days with requests are remembered."""
COMPARE = 7
"""At most this many of the most recent comparable days (weekdays, or weekend days, or any days) are read."""
MIN_DAYS = 4
"""Evidence needs at least this many comparable days that were busy at the same time (three quiet afternoons in a row
happen by chance between sessions that start every half hour)."""
MIN_QUIET_DAYS = 5
"""... after a lone request: at least this many comparable days, busy or not."""
BEFORE = 15
"""A comparable day was busy at the same time when it had a request in the last this many minutes before it."""
BUSY_MINUTES = 2
"""... in at least this many distinct minutes."""
CHANCE = 0.05
"""After a lone request, the quiet days must be unlikely by chance: at most this probability that as many windows
as long, at random minutes of the same days, are all quiet."""
_DAY = 1440


@dataclass(frozen=True)
class Quiet:
    """The evidence that a gap will last: ``days`` comparable days busy from ``busy_from`` to ``busy_to`` (local
    clock) all had no request from ``quiet_from`` to ``quiet_to``."""

    days: int
    kind: str  # "weekdays", "weekend days" or "days"
    busy_from: str | None  # None: a lone request, every comparable day counted
    busy_to: str
    quiet_from: str
    quiet_to: str

    def describe(self) -> str:
        if self.busy_from is None:
            return f"a lone request at {self.busy_to}; on each of the last {self.days} {self.kind}, nothing came at " \
                f"{self.quiet_from}-{self.quiet_to}"  # fmt: skip
        return (
            f"on each of the last {self.days} {self.kind} busy at {self.busy_from}-{self.busy_to}, "
            f"nothing came at {self.quiet_from}-{self.quiet_to}"
        )


def _hhmm(minute: int) -> str:
    return f"{minute % _DAY // 60:02d}:{minute % 60:02d}"


class DayMap:
    """A bit per local minute of each recent day with requests.

    Example:
        >>> day = datetime(2026, 3, 2, 11, 50, tzinfo=timezone.utc)
        >>> history = DayMap()
        >>> for k in range(4):
        ...     history.mark(day + timedelta(days=k, minutes=-1))
        ...     history.mark(day + timedelta(days=k))
        >>> quiet = history.quiet_after(day + timedelta(days=4), day + timedelta(days=4, minutes=2), 13)
        >>> quiet.describe() if quiet else None
        'on each of the last 4 weekdays busy at 11:35-11:50, nothing came at 11:52-12:03'
    """

    def __init__(self, tz: tzinfo = timezone.utc) -> None:
        self.tz = tz
        self._days: deque[tuple[date, int]] = deque(maxlen=DAYS)

    def mark(self, t: datetime) -> None:
        """Record a request at ``t`` (in time order)."""
        local = t.astimezone(self.tz)
        day, bit = local.date(), 1 << (local.hour * 60 + local.minute)
        if self._days and self._days[-1][0] == day:
            self._days[-1] = (day, self._days[-1][1] | bit)
        elif not self._days or self._days[-1][0] < day:
            self._days.append((day, bit))

    def quiet_after(self, last: datetime, now: datetime, until: float, *, lone: bool = False) -> Quiet | None:
        """Evidence that nothing comes from ``now`` to ``until`` minutes after ``last`` (the last request): at least
        :data:`MIN_DAYS` of the last :data:`COMPARE` comparable days were busy in the :data:`BEFORE` minutes up to
        ``last``'s time and none had a request in that window; None otherwise. Comparable: weekdays or weekend days, as
        ``last``; when those are too few (and none had a request in the window), the last days of any kind.
        ``lone`` (the last request was alone in its hour): every comparable day counts, busy or not,
        :data:`MIN_QUIET_DAYS` are needed, and so many quiet windows must be unlikely by chance on those days
        (:data:`CHANCE`: a few busy hours a day leave most windows quiet, and a lone request there starts a session)."""
        start, now_local = last.astimezone(self.tz), now.astimezone(self.tz)
        at = start.hour * 60 + start.minute
        first = at + max(1, (now_local.date() - start.date()).days * _DAY + now_local.hour * 60 + now_local.minute - at)
        end = at + int(until)
        if end < first:
            return None
        weekend, bits = start.weekday() >= 5, dict(self._days)
        for kind, only in (("weekend days" if weekend else "weekdays", weekend), ("days", None)):
            found = self._compare(bits, start.date(), only, at, first, end, lone)
            if found is None:  # a comparable day had a request in the window: evidence against
                return None
            days, quiet_minutes = found
            if days >= (MIN_QUIET_DAYS if lone else MIN_DAYS):
                if lone and (quiet_minutes / (days * _DAY)) ** days > CHANCE:  # quiet windows are common on those days
                    return None
                busy_from = None if lone else _hhmm(max(at - BEFORE, 0))
                return Quiet(days, kind, busy_from, _hhmm(at), _hhmm(first), _hhmm(end))
        return None

    def _compare(
        self, bits: dict[date, int], today: date, weekend: bool | None, at: int, first: int, end: int, lone: bool
    ) -> tuple[int, int] | None:
        """Of the last :data:`COMPARE` days before ``today`` (weekend days or weekdays; None: any), the number busy
        before ``at`` (every one when ``lone``) and, when ``lone``, their minutes that begin a window as long without a
        request; None when one of those had a request in the window. ``bits``: the remembered days by date."""
        busy_mask = ((1 << (BEFORE + 1)) - 1) << max(at - BEFORE, 0)
        days = read = quiet_minutes = 0
        for day, day_bits in reversed(self._days):
            if day >= today or (weekend is not None and (day.weekday() >= 5) != weekend):
                continue
            read += 1
            if lone or (day_bits & busy_mask).bit_count() >= BUSY_MINUTES:
                if _window(day_bits, bits.get(day + timedelta(days=1), 0), first, end):
                    return None
                days += 1
                quiet_minutes += _quiet_starts(day_bits, end - first + 1) if lone else 0
            if read >= COMPARE:
                break
        return days, quiet_minutes


def _window(day_bits: int, next_bits: int, first: int, end: int) -> bool:
    """Whether a day (and the next, for minutes past midnight) had a request in minutes ``first``..``end``."""
    if first < _DAY and day_bits >> first & ((1 << (min(end, _DAY - 1) - first + 1)) - 1):
        return True
    if end >= _DAY:
        low = max(first, _DAY) - _DAY
        return bool(next_bits >> low & ((1 << (end - _DAY - low + 1)) - 1))
    return False


def _quiet_starts(day_bits: int, length: int) -> int:
    """How many minutes of a day begin a window of ``length`` minutes without a request (within the day)."""
    busy, span = day_bits, 1
    while span < length:  # busy: some request in [m, m + span), doubling the span up to the window's length
        step = min(span, length - span)
        busy |= busy >> step
        span += step
    return _DAY - (busy & ((1 << _DAY) - 1)).bit_count()
