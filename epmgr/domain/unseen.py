"""Requests an endpoint received that the ledger did not record: the metrics route's counts against the ledger's.

The management API counts every request the endpoint's URL received, whoever sent it; the ledger records those
that went through epmgr's client or proxy. Walking the steps in order, the running excess of the first over the
second is a request epmgr did not see. A client stamps a request before the server receives it, so a request near
a step's edge lands in the ledger's step or an earlier one, never a later one: the running totals absorb it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

EDGE = timedelta(microseconds=1)


def unseen_requests(
    counts: Sequence[tuple[datetime, int]], recorded: Sequence[datetime], step: timedelta, end: datetime
) -> list[datetime]:
    """When the requests epmgr did not see happened, at the last instant of their step (at most ``end``).

    Args:
        counts: ``(start of step, requests)`` from the metrics route, oldest first.
        recorded: When the ledger's requests in the same window started (the ones imported before included).
        step: The metrics' step.
        end: The window's end: no instant is placed after it.

    Example:
        >>> from datetime import timezone
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> minute = timedelta(minutes=1)
        >>> [d.isoformat() for d in unseen_requests([(t, 2), (t + minute, 0)], [t], minute, t + 2 * minute)]
        ['2026-01-01T00:00:59.999999+00:00']
    """
    moments = sorted(recorded)
    found: list[datetime] = []
    seen = counted = index = 0
    for start, count in sorted(counts):
        counted += count
        while index < len(moments) and moments[index] < start + step:
            index += 1
        seen = index + len(found)
        excess = counted - seen
        if excess > 0:
            found += [min(start + step - EDGE, end)] * excess
    return found
