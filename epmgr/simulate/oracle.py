"""The offline optimum: what an endpoint would cost if its whole future were known.

It keeps a replica through a gap between two requests only when the gap is shorter than the billed start-up;
otherwise it stops at once after a request and starts again exactly one start-up before the next one (pre-warmed
just in time), so no request ever waits. Every policy's cost is reported as a ratio to this one.
"""

from __future__ import annotations

from collections.abc import Sequence

from epmgr.simulate.billing import Run, Stretch
from epmgr.simulate.traces import Stream

NAME = "oracle"


def oracle_stretches(times: Sequence[float], startup: float) -> list[Stretch]:
    """The awake stretches of the oracle: one per run of requests whose gaps are shorter than ``startup``.

    Example:
        >>> [(s.start, s.running_at, s.end) for s in oracle_stretches([0.0, 60.0, 900.0], 240.0)]
        [(-240.0, 0.0, 60.0), (660.0, 900.0, 900.0)]
    """
    stretches: list[Stretch] = []
    if not times:
        return stretches
    first = last = times[0]
    for moment in times[1:]:
        if moment - last >= startup:
            stretches.append(Stretch(first - startup, first, last))
            first = moment
        last = moment
    stretches.append(Stretch(first - startup, first, last))
    return stretches


def oracle(stream: Stream, startup: float, *, keep: bool = False) -> Run:
    """The oracle's run on one stream: no cold start, no wait."""
    run = Run(NAME, requests=len(stream.times))
    run.bill(oracle_stretches(stream.times, startup), startup, keep=keep)
    return run
