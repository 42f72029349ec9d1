"""The adaptive keep-alive's memory between ticks: each endpoint's learned idle gaps, fed set-based."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from epmgr.domain.adaptive import GapHistory
from epmgr.domain.model import EndpointRef
from epmgr.domain.policy import KeepAlive
from epmgr.gather import Seen
from epmgr.ledger import Ledger

HISTORY_LOOKBACK = timedelta(days=28)
"""How far back the adaptive keep-alive's first look at an endpoint's requests goes."""
LATE_RECORDS = timedelta(minutes=10)
"""Requests recorded up to this long after they started (batched or queued writes) still reach the learned gaps."""


class LearnedGaps:
    """Each adaptive endpoint's :class:`GapHistory`, kept for the life of the process and fed each tick."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._gaps: dict[EndpointRef, tuple[datetime, GapHistory]] = {}

    def __getitem__(self, ref: EndpointRef) -> GapHistory:
        return self._gaps[ref][1]

    def learn(self, seen: Sequence[Seen], now: datetime) -> None:
        """Feed each adaptive endpoint of ``seen`` (one namespace's) the requests that started after the last one it
        learned: one query per distinct start (the first tick reads the last :data:`HISTORY_LOOKBACK`; later ticks
        re-read :data:`LATE_RECORDS` before the last tick, for requests recorded after it that started before it)."""
        starts: dict[datetime, dict[EndpointRef, datetime]] = {}
        for item in seen:
            policy, ref = item.policy, item.snapshot.ref
            if not (policy.acts and policy.keep_alive == KeepAlive.ADAPTIVE):
                continue
            if ref not in self._gaps:
                tz: tzinfo = ZoneInfo(policy.schedule.tz) if policy.schedule is not None else timezone.utc
                self._gaps[ref] = (now - HISTORY_LOOKBACK + LATE_RECORDS, GapHistory(tz))
            since = self._gaps[ref][0] - LATE_RECORDS
            starts.setdefault(since, {})[ref] = since
        for group in starts.values():
            namespace = next(iter(group)).namespace
            for ref, times in self.ledger.request_starts_in(namespace, group, now).items():
                history, last = self._gaps[ref][1], self._gaps[ref][1].last
                history.extend([t.timestamp() for t in times if last is None or t > last])  # in bulk: in time order
                self._gaps[ref] = (now, history)
