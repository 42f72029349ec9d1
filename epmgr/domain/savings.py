"""What the same traffic would have cost without epmgr: always on, or under HF's own scale to zero.

The recorded requests are replayed through a model of the endpoint, and the model's history is billed by
:mod:`epmgr.domain.cost` exactly as the real history is, so the comparison is like for like.

HF's scale to zero, as modelled (docs/emulator.md; reference §8): the endpoint starts the window scaled to zero;
a request that finds it scaled to zero starts a cold start (``initializing``, billed) that lasts ``cold_start``,
then it runs; it scales to zero ``timeout`` after it became running or after the last request's arrival,
whichever is later. Every started minute of each awake stretch is billed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.domain.cost import Interval, Spend, spend_in
from epmgr.domain.model import EndpointState

HF_DEFAULT_TIMEOUTS = (timedelta(minutes=15), timedelta(hours=1))
"""HF's defaults: 15 minutes in the API (OpenAPI), 1 hour in the web UI."""

DEFAULT_COLD_START = timedelta(minutes=4)
"""HF: "Initializing, which usually takes about 3-5 minutes"; used when no cold start was observed."""


@dataclass(frozen=True)
class Baseline:
    """One counterfactual: its name, the assumptions in words, and what it would have cost."""

    name: str
    assumption: str
    spend: Spend
    wake_ups: int = 0


def always_on(start: datetime, end: datetime, replicas: int, price_per_hour: Decimal | None) -> Spend:
    """One segment running ``replicas`` the whole window (what an endpoint nobody pauses costs)."""
    return spend_in([Interval(start, end, EndpointState.RUNNING, replicas, price_per_hour)], start, end)


def scale_to_zero_history(
    arrivals: Iterable[datetime],
    start: datetime,
    end: datetime,
    *,
    timeout: timedelta,
    cold_start: timedelta,
    replicas: int,
    price_per_hour: Decimal | None,
) -> list[Interval]:
    """The endpoint's history under HF's scale to zero, for requests arriving at ``arrivals`` (any order)."""
    history: list[Interval] = []
    times = sorted(t for t in arrivals if start <= t < end)
    asleep_since = start
    index = 0
    while index < len(times):
        wake = times[index]
        running_from = wake + cold_start
        last = wake
        index += 1
        while True:
            sleep_at = max(running_from, last) + timeout
            if index < len(times) and times[index] < sleep_at:
                last = times[index]
                index += 1
                continue
            break
        if wake > asleep_since:
            history.append(Interval(asleep_since, wake, EndpointState.SCALED_TO_ZERO, 0, price_per_hour))
        history.append(Interval(wake, running_from, EndpointState.INITIALIZING, replicas, price_per_hour))
        history.append(Interval(running_from, sleep_at, EndpointState.RUNNING, replicas, price_per_hour))
        asleep_since = sleep_at
    history.append(Interval(asleep_since, None, EndpointState.SCALED_TO_ZERO, 0, price_per_hour))
    return history


def hf_scale_to_zero(
    arrivals: Sequence[datetime],
    start: datetime,
    end: datetime,
    *,
    timeout: timedelta,
    cold_start: timedelta = DEFAULT_COLD_START,
    replicas: int = 1,
    price_per_hour: Decimal | None,
) -> Baseline:
    """What HF's own scale to zero after ``timeout`` idle would have billed for the same requests."""
    history = scale_to_zero_history(
        arrivals, start, end, timeout=timeout, cold_start=cold_start, replicas=replicas, price_per_hour=price_per_hour
    )
    return hf_baseline(history, start, end, timeout=timeout, cold_start=cold_start, replicas=replicas)


def hf_baseline(
    history: Sequence[Interval], start: datetime, end: datetime, *, timeout: timedelta, cold_start: timedelta,
    replicas: int,
) -> Baseline:  # fmt: skip
    """The baseline of a :func:`scale_to_zero_history` (its bill over [start, end), its wakes, named and explained)."""
    wakes = sum(1 for i in history if i.state == EndpointState.INITIALIZING)
    minutes = int(timeout.total_seconds() // 60)
    name = (
        f"HF scale to zero after {minutes}m"
        if minutes < 60 or minutes % 60
        else f"HF scale to zero after {minutes // 60}h"
    )
    assumption = (
        f"starts scaled to zero; each request that finds it asleep costs a {int(cold_start.total_seconds())}s cold "
        f"start (billed); it sleeps {minutes} min after the last request; {replicas} replica(s)"
    )
    return Baseline(name, assumption, spend_in(history, start, end), wakes)
