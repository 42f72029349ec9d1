"""The endpoint's measured cold start: the lead of every pre-warm, and the billed start-up the keep-alive weighs.

:func:`cold_start_estimate` is the median of the recent cold starts the ledger observed (leaving paused or scaled to
zero, to the next ``running``), used by a schedule's ``prewarm = "auto"`` and by the adaptive keep-alive
(:mod:`epmgr.domain.adaptive`). The hour-of-week traffic profile that used to live here is retired: it kept whole hours
warm on a single request; the adaptive keep-alive reasons in idle gaps and money instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from epmgr.domain.model import EndpointState, StateChange

DEFAULT_COLD_START = timedelta(minutes=5)
"""The lead when no cold start was measured yet (HF: "usually takes about 3-5 minutes")."""
MAX_COLD_START = timedelta(minutes=30)
"""A measured cold start is capped here (a stuck start or a long unobserved gap is not a cold start)."""
RECENT_COLD_STARTS = 5
_ASLEEP = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})
_STARTING = frozenset({EndpointState.PENDING, EndpointState.INITIALIZING, EndpointState.UPDATING})


# -- cold start ---------------------------------------------------------------------------------------------------


def cold_starts(changes: Iterable[StateChange]) -> list[timedelta]:
    """Every measured cold start, oldest first: from leaving paused or scaled to zero (to pending or initializing)
    to the next ``running``.

    A jump straight from asleep to running (not observed in between) or a gap in observation (``unknown``) gives no
    sample. Samples are as fine as the observation: a tick interval can add up to one interval.
    """
    samples: list[timedelta] = []
    started: datetime | None = None
    last: EndpointState | None = None
    for change in changes:
        state = change.to_state
        if state == EndpointState.RUNNING and started is not None:
            samples.append(change.observed_at - started)
            started = None
        elif state in _STARTING and last in _ASLEEP:
            started = change.observed_at
        elif state not in _STARTING:
            started = None
        last = state
    return samples


def cold_start_estimate(
    changes: Iterable[StateChange],
    *,
    recent: int = RECENT_COLD_STARTS,
    default: timedelta = DEFAULT_COLD_START,
    cap: timedelta = MAX_COLD_START,
) -> timedelta:
    """The median of the ``recent`` last measured cold starts, capped at ``cap``; ``default`` when none.

    Example:
        >>> cold_start_estimate([])
        datetime.timedelta(seconds=300)
    """
    samples = sorted(cold_starts(changes)[-recent:])
    if not samples:
        return default
    middle = len(samples) // 2
    median = samples[middle] if len(samples) % 2 else (samples[middle - 1] + samples[middle]) / 2
    return min(median, cap)
