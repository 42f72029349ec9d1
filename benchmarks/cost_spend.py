"""How fast spend is computed from a month of state changes, and what a per-day breakdown costs on top."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from epmgr.domain.cost import intervals, spend_between, spend_in
from epmgr.domain.forecast import by_day
from epmgr.domain.model import EndpointRef, EndpointState, StateChange

NAME = "cost_spend"
TITLE = "Cost accounting: a month of state changes, whole window and per day"
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def month_of_changes(every: timedelta = timedelta(minutes=5)) -> list[StateChange]:
    """A change every ``every`` for 30 days: running / scaled to zero / initializing, as a busy endpoint does."""
    ref = EndpointRef("bench", "ep")
    cycle = (EndpointState.INITIALIZING, EndpointState.RUNNING, EndpointState.SCALED_TO_ZERO)
    count = int(timedelta(days=30) / every)
    return [
        StateChange(ref, None if i == 0 else cycle[(i - 1) % 3], cycle[i % 3], T0 + i * every,
                    replicas=0 if cycle[i % 3] == EndpointState.SCALED_TO_ZERO else 1 + i % 2,
                    price_per_hour=Decimal("0.8"))
        for i in range(count)
    ]  # fmt: skip


def run(quick: bool = False) -> dict[str, float]:
    changes = month_of_changes(timedelta(hours=1) if quick else timedelta(minutes=5))
    end = T0 + timedelta(days=30)
    spend_between(changes, T0, end)  # warm up
    started = time.perf_counter()
    whole = spend_between(changes, T0, end)
    one = time.perf_counter() - started
    started = time.perf_counter()
    history = intervals(changes)
    days = by_day(history, T0, end, timezone.utc)
    daily = time.perf_counter() - started
    assert sum((s for _, s in days), spend_in(history, T0, T0)) == whole
    return {"changes": len(changes), "changes_per_s": len(changes) / one, "daily_over_whole": daily / one}


def table(f: dict[str, float]) -> str:
    return "\n".join(
        [
            "| changes (30 days) | whole window | per-day breakdown | goal |",
            "|---|---|---|---|",
            f"| {f['changes']:,.0f} | {f['changes_per_s']:,.0f} changes/s "
            f"({f['changes'] / f['changes_per_s'] * 1000:.0f} ms "
            f"for the month) | {f['daily_over_whole']:.1f}x one whole-window spend (30 windows) | a busy month well "
            "under 100 ms; per day less than one whole-window spend per day |",
        ]
    )
