"""How a simulated endpoint is billed, and what one policy's run on one stream came to.

HF bills per replica-minute while an endpoint is starting or running. In the simulation every start is billed as
the configured start-up (``startup``, default 4 min, whatever the wait users see) and then every second it runs;
each awake stretch is rounded up to whole minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from epmgr.domain.rules import Decision


@dataclass(frozen=True)
class Stretch:
    """One awake stretch: a start began at ``start``, served from ``running_at`` and stopped at ``end`` (epoch s)."""

    start: float
    running_at: float
    end: float

    def billed_minutes(self, startup: float) -> int:
        """The start-up plus the time it ran, in started minutes."""
        return math.ceil(round((startup + max(0.0, self.end - self.running_at)) / 60.0, 6))


@dataclass
class Run:
    """What one policy did on one or more streams (summed with :meth:`add`).

    Attributes:
        policy: The policy spec as written.
        requests: Requests replayed.
        billed_minutes: Replica-minutes billed.
        cold_starts: Starts that at least one request waited for.
        waits: Every added wait, in seconds (requests that found the endpoint asleep or starting).
        refused: Requests refused because a budget held the endpoint asleep.
        decisions: ``decide()`` calls made.
        stretches: The awake stretches (kept for the first stream only, for the timeline).
        actions: (epoch s, decision) of every decision that acted (when asked for).
    """

    policy: str
    requests: int = 0
    billed_minutes: int = 0
    cold_starts: int = 0
    waits: list[float] = field(default_factory=list)
    refused: int = 0
    decisions: int = 0
    stretches: list[Stretch] = field(default_factory=list)
    actions: list[tuple[float, Decision]] = field(default_factory=list)

    def bill(self, stretches: Iterable[Stretch], startup: float, *, keep: bool) -> None:
        for stretch in stretches:
            self.billed_minutes += stretch.billed_minutes(startup)
            if keep:
                self.stretches.append(stretch)

    def add(self, other: Run) -> None:
        self.requests += other.requests
        self.billed_minutes += other.billed_minutes
        self.cold_starts += other.cold_starts
        self.waits.extend(other.waits)
        self.refused += other.refused
        self.decisions += other.decisions
        if not self.stretches:
            self.stretches = other.stretches
        self.actions.extend(other.actions)

    @property
    def replica_hours(self) -> float:
        return self.billed_minutes / 60.0

    def usd(self, price_per_hour: float) -> float:
        return self.replica_hours * price_per_hour


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (0 when empty).

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([], 0.99)
        (2.0, 0.0)
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
