"""`epmgr status`'s line on the notification outbox: what is still to be delivered, and what was given up."""

from __future__ import annotations

from datetime import datetime, timedelta

from epmgr.domain.durations import format_duration
from epmgr.domain.notify import Status
from epmgr.ledger import Ledger
from epmgr.ledger.outbox import Outbox

MAX_ERROR = 120
"""Characters of the last delivery error shown (errors are stored scrubbed of secrets)."""


def outbox_counts(ledger: Ledger) -> dict[str, int]:
    """Pending and dead notifications, for ``epmgr status --json``."""
    counts = Outbox(ledger.engine).counts()
    return {"pending": counts[Status.PENDING], "dead": counts[Status.DEAD]}


def outbox_line(ledger: Ledger, now: datetime) -> str | None:
    """One line when notifications are pending (not delivered yet, or retrying) or dead (given up); else None.

    Example: ``notifications: 2 pending (oldest 12m ago; last error: HTTP 503 from 'ops'), 1 dead (given up)``.
    """
    outbox = Outbox(ledger.engine)
    counts = outbox.counts()
    pending, dead = counts[Status.PENDING], counts[Status.DEAD]
    if not pending and not dead:
        return None
    parts = []
    if pending:
        waiting = outbox.notifications(status=Status.PENDING)
        age = format_duration(max(now - waiting[0].created_at, timedelta(0)))
        errors = [n.last_error for n in waiting if n.last_error]
        last = f"; last error: {errors[-1][:MAX_ERROR]}" if errors else ""
        parts.append(f"{pending} pending (oldest {age} ago{last})")
    if dead:
        parts.append(f"{dead} dead (given up after the last retry; see the daemon's log)")
    return "notifications: " + ", ".join(parts)
