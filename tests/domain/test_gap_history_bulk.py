"""GapHistory.extend (epoch seconds in bulk) learns exactly what add() one request at a time does."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from epmgr.domain.gaps import GapHistory
from epmgr.simulate.traffic import KINDS


def _state(h: GapHistory) -> tuple[object, ...]:
    return (
        h.first, h.last, h.requests, h.version, h.gaps, h.counts, h.by_context, h.sizes, h.lone,
        list(h.bursts), h.gaps_per_day(), h.days.quiet_after(h.last, h.last, 30) if h.last else None,
    )  # fmt: skip


def _one_by_one(seconds: list[float]) -> GapHistory:
    history = GapHistory()
    for moment in seconds:
        history.add(datetime.fromtimestamp(moment, timezone.utc))
    return history


def _in_chunks(seconds: list[float], rng: random.Random) -> GapHistory:
    history, start = GapHistory(), 0
    while start < len(seconds):
        size = rng.randint(1, 200)
        history.extend(seconds[start : start + size])
        start += size
    return history


@pytest.mark.parametrize("seed", range(6))
def test_extend_equals_add_on_edge_cases(seed: int) -> None:
    """Same-instant requests, gaps of just under and exactly a minute, moments a fraction of a microsecond before a
    minute's end (the datetime rounds them into the next minute); requests earlier than the last are ignored."""
    rng, moment, seconds = random.Random(seed), 1.77e9, list[float]()
    for _ in range(3000):
        step = rng.choice((0.0, 4e-7, 59.9999999, 60.0, rng.expovariate(1 / 30), rng.expovariate(1 / 900)))
        moment += step if rng.random() < 0.9 else 60 - moment % 60 - 1e-7
        seconds.append(moment)
    history = _in_chunks(seconds, rng)
    history.extend([seconds[0], seconds[1]])  # earlier than the last learned: ignored, as by add()
    assert _state(history) == _state(_one_by_one(seconds))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_extend_equals_add_on_every_traffic_kind(kind: str) -> None:
    times = list(KINDS[kind](1, 7).times)
    bulk = GapHistory()
    bulk.extend(times)
    assert bulk.requests == len(times)
    assert _state(bulk) == _state(_one_by_one(times))
