"""Ledger histories at two scales for the report tests: two minutes (like `make demo`) and thirty days."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.domain.model import EndpointRecord, EndpointRef, EndpointState, Instance, RequestRecord, StateChange
from epmgr.ledger import Ledger

S = EndpointState
L4 = Instance("aws", "us-east-1", "gpu", "nvidia-l4", "x1")
PRICE = Decimal("0.8")


class Writer:
    """Writes one endpoint's state changes in order, each from the previous state."""

    def __init__(self, ledger: Ledger, ref: EndpointRef) -> None:
        self.ledger = ledger
        self.ref = ref
        self.state_: EndpointState | None = None

    def go(self, moment: datetime, state: EndpointState, replicas: int | None = None) -> None:
        if state == self.state_:
            return
        billed = state in (S.RUNNING, S.INITIALIZING, S.UPDATING)
        count = replicas if replicas is not None else (1 if billed else 0)
        self.ledger.record_state_change(
            StateChange(self.ref, self.state_, state, moment, replicas=count, instance=L4, price_per_hour=PRICE)
        )
        self.state_ = state

    def requests(self, moments: list[datetime]) -> None:
        self.ledger.record_requests([RequestRecord(self.ref, m, m + timedelta(seconds=1), 200) for m in moments])


def two_minutes(ledger: Ledger, start: datetime) -> datetime:
    """A demo-sized history: one endpoint serves, then is scaled to zero; another serves throughout. Returns the end."""
    chat, dev = Writer(ledger, EndpointRef("demo", "chat")), Writer(ledger, EndpointRef("demo", "dev"))
    chat.go(start, S.INITIALIZING)
    chat.go(start + timedelta(seconds=10), S.RUNNING)
    chat.requests([start + timedelta(seconds=12 + 3 * i) for i in range(6)])
    chat.go(start + timedelta(seconds=45), S.SCALED_TO_ZERO)  # idle: epmgr scaled it to zero
    dev.go(start, S.RUNNING)
    dev.requests([start + timedelta(seconds=5 * i) for i in range(20)])
    end = start + timedelta(minutes=2)
    for ref in (chat.ref, dev.ref):
        ledger.upsert_endpoint(EndpointRecord(ref, L4), seen_at=end)
    return end


def thirty_days(ledger: Ledger, start: datetime, seed: int = 15) -> datetime:
    """A month under epmgr: an office-hours chat model, a nightly batch, a sporadic developer. Returns the end.

    The chat model is pre-warmed at 08:00 on weekdays and paused at 19:00; the batch runs 01:00-02:00; the
    developer's endpoint wakes on a request and is scaled to zero after 15 idle minutes.
    """
    rng = random.Random(seed)
    chat = Writer(ledger, EndpointRef("acme", "chat"))
    batch = Writer(ledger, EndpointRef("acme", "nightly-batch"))
    dev = Writer(ledger, EndpointRef("acme", "dev-sandbox"))
    chat.go(start, S.PAUSED)
    batch.go(start, S.SCALED_TO_ZERO)
    dev.go(start, S.SCALED_TO_ZERO)
    for day in range(30):
        midnight = start + timedelta(days=day)
        batch.go(midnight + timedelta(hours=1), S.INITIALIZING)
        batch.go(midnight + timedelta(hours=1, minutes=4), S.RUNNING)
        batch.requests([midnight + timedelta(hours=1, minutes=4, seconds=20 * i) for i in range(150)])
        batch.go(midnight + timedelta(hours=2), S.SCALED_TO_ZERO)
        if midnight.weekday() < 5:
            chat.go(midnight + timedelta(hours=7, minutes=56), S.INITIALIZING)
            chat.go(midnight + timedelta(hours=8), S.RUNNING)
            chat.requests(sorted(midnight + timedelta(hours=8, seconds=rng.uniform(0, 11 * 3600)) for _ in range(60)))
            chat.go(midnight + timedelta(hours=19), S.PAUSED)
        if rng.random() < 0.4:
            at = midnight + timedelta(hours=rng.uniform(10, 20))
            dev.requests([at + timedelta(minutes=2 * i) for i in range(5)])
            dev.go(at, S.INITIALIZING)
            dev.go(at + timedelta(minutes=4), S.RUNNING)
            dev.go(at + timedelta(minutes=8 + 15), S.SCALED_TO_ZERO)
    end = start + timedelta(days=30)
    for writer in (chat, batch, dev):
        ledger.upsert_endpoint(EndpointRecord(writer.ref, L4), seen_at=end)
    return end
