"""The adaptive keep-alive's memory between ticks, fed from the ledger set-based."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from epmgr.domain.model import EndpointRef, EndpointSnapshot, EndpointState, Instance, RequestRecord
from epmgr.domain.policy import EndpointPolicy, KeepAlive
from epmgr.gather import Seen
from epmgr.learned_gaps import HISTORY_LOOKBACK, LATE_RECORDS, LearnedGaps
from epmgr.ledger import open_ledger

T0 = datetime(2026, 3, 11, 9, 30, tzinfo=timezone.utc)
CPU = Instance("aws", "us-east-1", "cpu", "intel-icl", "x2")


def seen(ref: EndpointRef, keep_alive: KeepAlive) -> Seen:
    snapshot = EndpointSnapshot(ref, EndpointState.RUNNING, CPU)
    policy = EndpointPolicy(name=ref.name, namespace=None, keep_alive=keep_alive)  # no namespace configured
    return Seen(snapshot, policy, [], Decimal(0), Decimal(0), None, None, timedelta(minutes=5))


def test_each_tick_learns_the_requests_since_the_last_one_of_every_adaptive_endpoint(tmp_path: Path) -> None:
    ledger = open_ledger(str(tmp_path / "ledger.db"))
    adaptive, fixed = EndpointRef("acme", "learns"), EndpointRef("acme", "fixed")
    too_old = T0 - HISTORY_LOOKBACK - timedelta(hours=1)
    starts = [too_old, T0 - timedelta(hours=3), T0 - timedelta(hours=2), T0 - timedelta(minutes=1)]
    ledger.record_requests([RequestRecord(ref, at, at) for ref in (adaptive, fixed) for at in starts])
    gaps = LearnedGaps(ledger)
    gaps.learn([seen(adaptive, KeepAlive.ADAPTIVE), seen(fixed, KeepAlive.OFF)], T0)
    assert gaps[adaptive].last == starts[-1]  # found in the endpoint's own namespace though none is configured
    assert (gaps[adaptive].first, gaps[adaptive].requests) == (starts[1], 3)  # the one too old is not read
    # A request recorded late (started before the last tick, within LATE_RECORDS) and a new one are learned next.
    late, new = T0 - timedelta(seconds=30), T0 + timedelta(minutes=30)
    assert late > T0 - LATE_RECORDS
    ledger.record_requests([RequestRecord(adaptive, late, late), RequestRecord(adaptive, new, new)])
    gaps.learn([seen(adaptive, KeepAlive.ADAPTIVE)], T0 + timedelta(hours=1))
    assert (gaps[adaptive].last, gaps[adaptive].requests) == (new, 5)
    with pytest.raises(KeyError):  # an endpoint without the adaptive keep-alive learns nothing
        gaps[fixed]
    ledger.close()
