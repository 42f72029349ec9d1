"""Traffic epmgr did not see: the endpoint metrics route read before an idle action, its excess recorded.

Before the daemon takes an endpoint down for idleness it asks the management API how many requests the endpoint
really received since its idle timer started. Requests the ledger did not record (curl, another service, a
notebook straight at the URL) are recorded as requests of client ``hf-metrics`` at the end of their step: they
reset the idle timer like any request, and ``epmgr status`` and the cost report count them as "not seen by
epmgr". Reads are rare: only for an endpoint about to be acted on, and a route that fails (a real account without
it) is left alone for :data:`RETRY_FAILED`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.domain.unseen import unseen_requests
from epmgr.errors import EpmgrError
from epmgr.ledger import Ledger
from epmgr.ports import EndpointsAPI

log = logging.getLogger("epmgr.service")

UNSEEN_CLIENT = "hf-metrics"
"""``client_id`` of the requests recorded from the metrics route."""
STEP = timedelta(minutes=1)
MAX_WINDOW = timedelta(days=1)
"""The longest look back (1440 steps, well under the route's 11 000 points)."""
SETTLE = timedelta(seconds=10)
"""The newest seconds are left out: a request epmgr saw may not be in the ledger yet (the recorder flushes)."""
RETRY_FAILED = timedelta(hours=1)


@dataclass
class UnseenTraffic:
    """Reads the metrics route for endpoints about to be acted on, and records what the ledger missed."""

    ledger: Ledger
    failed_at: dict[EndpointRef, datetime] = field(default_factory=dict)

    def import_unseen(self, api: EndpointsAPI, ref: EndpointRef, since: datetime, now: datetime) -> int | None:
        """Record the requests received since ``since`` that the ledger missed; how many (None: no signal).

        Never raises an epmgr error: without the metrics route the daemon decides from the ledger alone.
        """
        failed = self.failed_at.get(ref)
        if failed is not None and now - failed < RETRY_FAILED:
            return None
        step_s = int(STEP.total_seconds())
        start = _floor(max(since, now - MAX_WINDOW), step_s)
        end = _floor(now - SETTLE, step_s)
        if end <= start:
            return 0
        try:
            counts = api.request_counts(ref.name, start=start, end=end, step_s=step_s)
        except EpmgrError as exc:
            self.failed_at[ref] = now
            log.info("no second activity signal: %s", exc, extra={"endpoint": str(ref)})
            return None
        self.failed_at.pop(ref, None)
        window = (_at(start), _at(end))
        recorded = [r.started_at for r in self.ledger.requests(ref, since=window[0], until=window[1])]
        found = unseen_requests(counts, recorded, STEP, window[1] - timedelta(microseconds=1))
        if found:
            self.ledger.record_requests(
                [RequestRecord(ref, moment, moment, client_id=UNSEEN_CLIENT, latency=timedelta(0)) for moment in found]
            )
            log.info("%d request(s) not seen by epmgr", len(found), extra={"endpoint": str(ref)})
        return len(found)


def _floor(moment: datetime, step_s: int) -> int:
    return math.floor(moment.timestamp() / step_s) * step_s


def _at(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, timezone.utc)
