"""Is the daemon healthy? A verdict from its recent ticks and the clock (pure; the daemon serves it on /healthz).

Unhealthy when it is stopping, when no tick ran for ``stale_after`` intervals, or when the last ``failing_after``
ticks all failed (the tick raised, the ledger refused the lease, or every namespace and endpoint errored). A
standby daemon that keeps ticking is healthy: it is ready to take over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

STALE_AFTER_INTERVALS = 3
FAILING_AFTER_TICKS = 3
GRACE = timedelta(seconds=5)


@dataclass(frozen=True)
class TickRecord:
    """One finished tick: when, as what (``leader`` or ``standby``), and what failed (None: it worked)."""

    at: datetime
    role: str
    error: str | None = None


@dataclass(frozen=True)
class Health:
    healthy: bool
    status: str  # ok, standby, starting, stale, failing, stopping
    reason: str


def assess(
    ticks: Sequence[TickRecord],
    now: datetime,
    started_at: datetime,
    interval: timedelta,
    *,
    stopping: bool = False,
    stale_after: int = STALE_AFTER_INTERVALS,
    failing_after: int = FAILING_AFTER_TICKS,
) -> Health:
    """The verdict, newest tick last in ``ticks``.

    Example:
        >>> from datetime import timezone
        >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> assess([], t0 + timedelta(seconds=10), t0, timedelta(seconds=30)).status
        'starting'
    """
    if stopping:
        return Health(False, "stopping", "the daemon is shutting down")
    last = ticks[-1].at if ticks else started_at
    limit = stale_after * interval + GRACE
    if now - last > limit:
        since = "a tick" if ticks else "the start, and no tick ran"
        seconds = int((now - last).total_seconds())
        return Health(False, "stale", f"{seconds}s since {since} (more than {stale_after} intervals)")
    recent = list(ticks[-failing_after:])
    if len(recent) == failing_after and all(t.error for t in recent):
        return Health(False, "failing", f"the last {failing_after} ticks failed; the last: {recent[-1].error}")
    if not ticks:
        return Health(True, "starting", "no tick yet")
    if ticks[-1].role == "standby":
        return Health(True, "standby", "another daemon holds the lease; ready to take over")
    return Health(True, "ok", "ticking" if ticks[-1].error is None else f"the last tick failed: {ticks[-1].error}")
