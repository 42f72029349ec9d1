"""Spend per calendar day, month to date, and a forecast to the end of the day and month."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from epmgr.domain.cost import USD_QUANTUM, ZERO, Interval, Spend, spend_in
from epmgr.domain.model import EndpointState

LOOKBACK = timedelta(days=7)
"""How much recent history the forecast averages over (a week covers weekday/weekend patterns)."""

# States that end only on an explicit action: an endpoint in one of them will not start billing by itself.
STOPPED_STATES = frozenset({EndpointState.PAUSED, EndpointState.FAILED, EndpointState.UPDATE_FAILED})


def day_start(moment: datetime, tz: tzinfo) -> datetime:
    """Midnight of ``moment``'s calendar day in ``tz``."""
    local = moment.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def next_day(start: datetime, tz: tzinfo) -> datetime:
    local = start.astimezone(tz)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)


def month_start(moment: datetime, tz: tzinfo) -> datetime:
    local = moment.astimezone(tz)
    return datetime.combine(local.date().replace(day=1), time(0), tzinfo=tz)


def next_month(moment: datetime, tz: tzinfo) -> datetime:
    first = month_start(moment, tz).date()
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return datetime.combine(following, time(0), tzinfo=tz)


def by_day(history: Sequence[Interval], start: datetime, end: datetime, tz: tzinfo) -> list[tuple[date, Spend]]:
    """The spend of each calendar day (in ``tz``) that overlaps ``[start, end)``; the days add up to the window."""
    days = []
    cursor = start
    while cursor < end:
        stop = min(next_day(cursor, tz), end)
        days.append((cursor.astimezone(tz).date(), spend_in(history, cursor, stop)))
        cursor = stop
    return days


@dataclass(frozen=True)
class Forecast:
    """Spend so far in a period and the projection to its end.

    Args:
        period_start: Start of the day or month.
        period_end: Its end.
        spent: Spend from ``period_start`` to now.
        projected_usd: ``spent.usd`` plus the projected rest of the period.
        usd_per_hour: The rate the projection assumes for the rest of the period.
        basis: How the rate was chosen, in words (shown in reports).
    """

    period_start: datetime
    period_end: datetime
    spent: Spend
    projected_usd: Decimal
    usd_per_hour: Decimal
    basis: str


def recent_rate(history: Sequence[Interval], now: datetime, lookback: timedelta = LOOKBACK) -> tuple[Decimal, str]:
    """USD per hour the endpoint is likely to cost from ``now`` on, and why.

    Rules, first match wins: a paused or failed endpoint costs nothing until someone acts; otherwise the average
    over the known part of the last ``lookback`` (its pattern of traffic, scale to zero and wake-ups); with no
    known history, the current state's rate (billed replicas times price).
    """
    current = history[-1] if history else None
    if current is None or current.state == EndpointState.UNKNOWN:
        return ZERO, "state unknown: no projection"
    if current.state in STOPPED_STATES:
        return ZERO, f"{current.state.value}: costs nothing until resumed"
    window_start = now - lookback
    first_known = next((i.start for i in history if i.start is not None), now)
    window_start = max(window_start, first_known)
    spent = spend_in(history, window_start, now)
    known = (now - window_start) - spent.unknown
    if known >= timedelta(hours=1):
        rate = spent.usd * Decimal(3600) / Decimal(int(known.total_seconds()))
        hours = known.total_seconds() / 3600
        return rate.quantize(USD_QUANTUM, rounding=ROUND_HALF_UP), f"average of the last {hours:.0f}h"
    if current.billed and current.price_per_hour is not None:
        return current.price_per_hour * current.replicas, f"{current.state.value} now, assumed to stay so"
    return ZERO, f"{current.state.value} now, assumed to stay so"


def forecast(
    history: Sequence[Interval],
    now: datetime,
    period_start: datetime,
    period_end: datetime,
    *,
    lookback: timedelta = LOOKBACK,
) -> Forecast:
    """Spend from ``period_start`` to ``now`` plus :func:`recent_rate` times the hours left in the period."""
    spent = spend_in(history, period_start, now)
    rate, basis = recent_rate(history, now, lookback)
    left = max(period_end - now, timedelta(0))
    rest = rate * Decimal(int(left.total_seconds())) / Decimal(3600)
    projected = (spent.usd + rest).quantize(USD_QUANTUM, rounding=ROUND_HALF_UP)
    return Forecast(period_start, period_end, spent, projected, rate, basis)
