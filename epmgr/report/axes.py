"""Time axes that fit the data present: the extent of a report's history, spend buckets and tick marks.

A report's window is what the user asked for (``--since 7d``); the data may cover two minutes of it or thirty
days. Charts are drawn over the data's extent, with a bucket size and tick step picked from that span, so two
minutes of history are not squeezed into the last pixel of a one-day axis and thirty days are not one bar each
of 720 hours. Pure: everything is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from epmgr.domain.cost import Spend, spend_in
from epmgr.domain.forecast import day_start, next_day
from epmgr.report.model import CostReport

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
BUCKETS = (
    (MINUTE, "minute"),
    (5 * MINUTE, "5 minutes"),
    (15 * MINUTE, "15 minutes"),
    (HOUR, "hour"),
    (6 * HOUR, "6 hours"),
    (DAY, "day"),
    (7 * DAY, "week"),
)
"""Bucket sizes for the spend chart, smallest first; a day is a calendar day in the report's time zone."""
MAX_BUCKETS = 48
TICK_STEPS = (
    timedelta(seconds=10), timedelta(seconds=30), MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE,
    30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY,
)  # fmt: skip
MAX_TICKS = 8


@dataclass(frozen=True)
class Bucket:
    """One bar of the spend chart: ``[start, end)``, its label, and each endpoint's spend in it (report order)."""

    start: datetime
    end: datetime
    label: str
    spends: tuple[Spend, ...]

    @property
    def usd(self) -> float:
        return float(sum(s.usd for s in self.spends))


def extent(report: CostReport) -> tuple[datetime, datetime]:
    """The part of the report's window that holds recorded history (the whole window when there is none)."""
    starts = [i.start for e in report.endpoints for i in e.timeline if i.start is not None]
    ends = [i.end for e in report.endpoints for i in e.timeline if i.end is not None]
    if not starts or not ends:
        return report.since, report.until
    start, end = max(report.since, min(starts)), min(report.until, max(ends))
    return (start, end) if end > start else (report.since, report.until)


def _floor(moment: datetime, step: timedelta, tz: tzinfo) -> datetime:
    """The bucket boundary at or before ``moment``: local midnight for days and weeks, else a multiple of ``step``."""
    if step >= DAY:
        return day_start(moment, tz)
    local = moment.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = (local - midnight) // step
    return (midnight + steps * step).astimezone(moment.tzinfo)


def _next(boundary: datetime, step: timedelta, tz: tzinfo) -> datetime:
    if step >= DAY:
        for _ in range(step // DAY):  # calendar days: 23 or 25 hours across a DST change
            boundary = next_day(boundary, tz)
        return boundary
    return boundary + step


def bucket_size(start: datetime, end: datetime) -> tuple[timedelta, str]:
    """The smallest bucket that draws ``[start, end)`` in at most :data:`MAX_BUCKETS` bars."""
    for step, name in BUCKETS:
        if (end - start) / step <= MAX_BUCKETS:
            return step, name
    return BUCKETS[-1]


def _bucket_label(moment: datetime, step: timedelta, span: timedelta, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    if step >= DAY:
        return f"{local:%m-%d}"
    return f"{local:%H:%M}" if span <= DAY else f"{local:%m-%d %H:%M}"


def spend_buckets(report: CostReport) -> tuple[str, list[Bucket]]:
    """The spend chart's bars over the data's extent, and the bucket size in words (``"minute"``, ``"day"``).

    Each endpoint's spend in a bucket is billed from its whole history, so the bars add up to the report's total.
    """
    start, end = extent(report)
    step, name = bucket_size(start, end)
    buckets = []
    cursor = _floor(start, step, report.tz)
    while cursor < end:
        stop = _next(cursor, step, report.tz)
        lo, hi = max(cursor, report.since), min(stop, report.until)
        spends = tuple(spend_in(e.history, lo, hi) if hi > lo else Spend() for e in report.endpoints)
        buckets.append(Bucket(cursor, stop, _bucket_label(cursor, step, end - start, report.tz), spends))
        cursor = stop
    return name, buckets


def time_ticks(start: datetime, end: datetime, tz: tzinfo) -> list[tuple[datetime, str]]:
    """Tick marks for a time axis over ``[start, end]``: at most :data:`MAX_TICKS`, on round local times."""
    span = end - start
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    ticks = []
    moment = _floor(start, step, tz)
    if moment < start:
        moment = _next(moment, step, tz)
    while moment <= end:
        local = moment.astimezone(tz)
        if step < MINUTE:
            label = f"{local:%H:%M:%S}"
        elif step >= DAY:
            label = f"{local:%m-%d}"
        else:
            label = f"{local:%H:%M}" if span <= DAY else f"{local:%m-%d %H:%M}"
        ticks.append((moment, label))
        moment = _next(moment, step, tz)
    return ticks


def span_text(start: datetime, end: datetime) -> str:
    """A span in words for a reader: ``"2 min"``, ``"5.5 hours"``, ``"30 days"``."""
    seconds = (end - start).total_seconds()
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours".replace(".0 ", " ")
    return f"{seconds / 86400:.1f} days".replace(".0 ", " ")


def labels_every(count: int, limit: int = 16) -> int:
    """Label every n-th of ``count`` bars so that at most about ``limit`` labels are drawn."""
    return max(1, -(-count // limit))


def nonzero(buckets: Sequence[Bucket]) -> bool:
    return any(b.usd for b in buckets)


def money_ticks(highest: float, count: int = 4) -> list[tuple[float, str]]:
    """``count + 1`` round dollar ticks from 0 to at least ``highest`` (1, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k apart)."""
    raw = highest / count if highest > 0 else 0.01
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * power >= raw * (1 - 1e-9))
    if step >= 1 and step == int(step):
        return [(step * k, f"${step * k:,.0f}") for k in range(count + 1)]
    places = max(2, -math.floor(math.log10(step)) + (1 if step / power == 2.5 else 0))
    return [(step * k, f"${step * k:,.{places}f}") for k in range(count + 1)]
