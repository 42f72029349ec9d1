"""Seeded generators of one endpoint's traffic, for ``epmgr simulate``, the demo and the policy evaluation.

Each kind takes a ``seed`` and a length in ``days`` and returns a :class:`~epmgr.simulate.traces.Stream` starting on
Monday 2026-03-02 00:00 UTC; the same seed gives the same requests. The kinds (none tuned to a policy):

- ``office_hours``: weekdays 08:30-18:30 with a lunch break; work sessions arrive about every 25 min and last
  5-40 min, a request every ~30 s within one; nothing at night or at weekends.
- ``sporadic_dev``: 0-3 developer sessions a day (fewer at weekends) at random hours, 10-90 min each, a request
  every ~60 s with an occasional 3-12 min pause to think.
- ``periodic_batch``: a batch job every ``every_hours`` (2) with a minute of jitter: 20-60 requests over 2-5 min.
- ``nightly_batch``: the same batch once a night, started by cron at 02:00 UTC (a minute of jitter).
- ``diurnal_chat``: a global chat service: a Poisson stream whose rate follows the day (peak 2/min at 15:00 UTC,
  almost nothing at 03:00).
- ``bursts``: about 4 bursts a day at random moments, 10-200 requests over 1-15 min each.
- ``steady``: a Poisson stream at a fixed rate (the speed benchmark: 1 request/s for a month).

``python -m epmgr.simulate.traffic KIND --seed 1 --days 7 > requests.csv`` writes one as a CSV for ``--trace``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TextIO

from epmgr.simulate.traces import Stream

START = datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp()  # a Monday
DAY = 86400.0
HOUR = 3600.0


def _poisson(rng: random.Random, start: float, end: float, mean_gap: float) -> list[float]:
    times, t = [], start + rng.expovariate(1 / mean_gap)
    while t < end:
        times.append(t)
        t += rng.expovariate(1 / mean_gap)
    return times


def _stream(name: str, times: list[float], days: int) -> Stream:
    return Stream.of(name, times, START, START + days * DAY)


def office_hours(seed: int = 1, days: int = 14) -> Stream:
    rng, times = random.Random(seed), list[float]()
    for day in range(days):
        if day % 7 >= 5:
            continue
        base = START + day * DAY
        for open_h, close_h in ((8.5, 12.0), (13.0, 18.5)):
            t = base + open_h * HOUR + rng.expovariate(1 / 600)
            while t < base + close_h * HOUR:
                length = rng.uniform(5, 40) * 60
                times.extend(_poisson(rng, t, min(t + length, base + close_h * HOUR), 30))
                t += length + rng.expovariate(1 / (25 * 60))
    return _stream("office_hours", times, days)


def sporadic_dev(seed: int = 1, days: int = 14) -> Stream:
    rng, times = random.Random(seed), list[float]()
    for day in range(days):
        sessions = rng.choice((0, 1, 1, 2, 3)) if day % 7 < 5 else rng.choice((0, 0, 0, 1))
        for _ in range(sessions):
            t = START + day * DAY + rng.uniform(8, 23) * HOUR
            end = t + rng.uniform(10, 90) * 60
            while t < end:
                times.append(t)
                t += rng.uniform(3, 12) * 60 if rng.random() < 0.1 else rng.expovariate(1 / 60)
    return _stream("sporadic_dev", times, days)


def periodic_batch(seed: int = 1, days: int = 14, every_hours: float = 2.0, first_at: float | None = None) -> Stream:
    """A batch every ``every_hours``; the first at ``first_at`` hours after the start (random within a period)."""
    rng, times = random.Random(seed), list[float]()
    t = START + (rng.uniform(0, every_hours * HOUR) if first_at is None else first_at * HOUR)
    while t < START + days * DAY:
        begin = t + rng.uniform(-60, 60)
        length = rng.uniform(2, 5) * 60
        times.extend(sorted(rng.uniform(begin, begin + length) for _ in range(rng.randint(20, 60))))
        t += every_hours * HOUR
    return _stream("periodic_batch", times, days)


def nightly_batch(seed: int = 1, days: int = 14) -> Stream:
    stream = periodic_batch(seed, days, every_hours=24.0, first_at=2.0)
    return Stream("nightly_batch", stream.times, stream.start, stream.end)


def diurnal_chat(seed: int = 1, days: int = 14, peak_per_min: float = 2.0) -> Stream:
    rng, times = random.Random(seed), list[float]()
    peak = peak_per_min / 60
    for t in _poisson(rng, START, START + days * DAY, 1 / peak):
        hour = (t - START) % DAY / HOUR
        share = (0.5 + 0.5 * math.cos(2 * math.pi * (hour - 15) / 24)) ** 3
        if rng.random() < share:
            times.append(t)
    return _stream("diurnal_chat", times, days)


def bursts(seed: int = 1, days: int = 14, per_day: float = 4.0) -> Stream:
    rng, times = random.Random(seed), list[float]()
    for begin in _poisson(rng, START, START + days * DAY, DAY / per_day):
        length = rng.uniform(1, 15) * 60
        times.extend(rng.uniform(begin, begin + length) for _ in range(rng.randint(10, 200)))
    return _stream("bursts", times, days)


def steady(seed: int = 1, days: int = 30, per_second: float = 1.0) -> Stream:
    return _stream("steady", _poisson(random.Random(seed), START, START + days * DAY, 1 / per_second), days)


KINDS: dict[str, Callable[[int, int], Stream]] = {
    "office_hours": office_hours,
    "sporadic_dev": sporadic_dev,
    "periodic_batch": periodic_batch,
    "diurnal_chat": diurnal_chat,
    "bursts": bursts,
}
"""The kinds the policy evaluation runs (``nightly_batch`` is ``periodic_batch`` at another period)."""

GENERATORS: dict[str, Callable[[int, int], Stream]] = {**KINDS, "nightly_batch": nightly_batch, "steady": steady}
"""Every kind ``python -m epmgr.simulate.traffic`` can write."""


def write_csv(stream: Stream, out: TextIO) -> None:
    """The stream as a ``timestamp`` CSV (ISO-8601 UTC, microseconds) that ``epmgr simulate --trace`` reads."""
    out.write("timestamp\n")
    for moment in stream.times:
        out.write(datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m epmgr.simulate.traffic", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(GENERATORS))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    write_csv(GENERATORS[args.kind](args.seed, args.days), sys.stdout)


if __name__ == "__main__":
    main()
