"""What the emulator charges, computed from an endpoint's phases.

The rule (also in docs/emulator.md, because epmgr's own cost accounting must reproduce it):

1. Only ``initializing``, ``running`` and ``updating`` cost money; ``pending``, ``paused``, ``scaledToZero``,
   ``failed`` and ``updateFailed`` are free.
2. A *segment* is a maximal stretch of consecutive billed phases with the same replica count and the same price.
3. A segment is billed ``ceil(seconds / 60)`` whole minutes per replica (a 10 s cold start costs one minute), at
   ``pricePerHour / 60`` per replica-minute. Its USD amount is rounded half-up to 6 decimal places.
4. An endpoint's total is the sum of its segments' rounded amounts. A segment still open is billed up to "now".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from epmgr.emulator.lifecycle import BILLED_STATES, Phase

USD_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class Segment:
    """One contiguous billed stretch of an endpoint's replicas.

    Args:
        start: First billed instant.
        end: Last billed instant; ``None`` while still billing.
        replicas: Replicas billed.
        price_per_hour: USD per replica-hour.
        minutes: Whole minutes billed per replica (rounded up), counted to "now" when open.
        usd: ``minutes * replicas * price_per_hour / 60``, rounded half-up to 6 decimals.
    """

    start: datetime
    end: datetime | None
    replicas: int
    price_per_hour: Decimal
    minutes: int
    usd: Decimal

    @property
    def replica_minutes(self) -> int:
        return self.minutes * self.replicas


def billed_minutes(seconds: float) -> int:
    """Whole minutes billed for a stretch of ``seconds``: rounded up, so any started minute counts."""
    return math.ceil(seconds / 60) if seconds > 0 else 0


def segment_cost(minutes: int, replicas: int, price_per_hour: Decimal) -> Decimal:
    """USD for ``minutes`` of ``replicas`` at ``price_per_hour``, rounded half-up to 6 decimals."""
    return (Decimal(minutes * replicas) * price_per_hour / 60).quantize(USD_QUANTUM, rounding=ROUND_HALF_UP)


def segments(phases: Iterable[Phase], now: datetime) -> list[Segment]:
    """The billed segments of a history, oldest first (see the module docstring for the rule)."""
    runs: list[tuple[datetime, datetime | None, int, Decimal]] = []
    for phase in phases:
        if phase.state not in BILLED_STATES or phase.replicas == 0:
            continue
        if runs:
            start, end, replicas, price = runs[-1]
            if end == phase.start and (replicas, price) == (phase.replicas, phase.price_per_hour):
                runs[-1] = (start, phase.end, replicas, price)
                continue
        runs.append((phase.start, phase.end, phase.replicas, phase.price_per_hour))
    result = []
    for start, end, replicas, price in runs:
        minutes = billed_minutes(((end or now) - start).total_seconds())
        result.append(Segment(start, end, replicas, price, minutes, segment_cost(minutes, replicas, price)))
    return result


def total(billed: Iterable[Segment]) -> Decimal:
    """The sum of the segments' rounded amounts."""
    return sum((s.usd for s in billed), Decimal("0"))
