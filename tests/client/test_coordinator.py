"""The ledger's WakeCoordinator on SQLite and PostgreSQL: one leader per endpoint, followers read what it
publishes, a crashed leader is replaced once its lease expires, budget holds are seen (fake clock)."""

from __future__ import annotations

from datetime import timedelta

from epmgr.client.coordinator import InProcessCoordinator, LedgerCoordinator
from epmgr.clock import FakeClock
from epmgr.domain.model import EndpointRef, EndpointSnapshot, EndpointState, Hold, Instance
from epmgr.ledger import Ledger
from tests.conftest import T0

REF = EndpointRef("demo", "shared")
CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")


def test_one_leader_then_a_takeover_after_the_lease_expires(ledger: Ledger) -> None:
    clock = FakeClock(T0)
    first, second = LedgerCoordinator(ledger, clock), LedgerCoordinator(ledger, clock)
    assert first.lead(REF, "a", clock.now())
    assert not second.lead(REF, "b", clock.now())  # a follower while the lease is held
    clock.advance(timedelta(seconds=29))
    assert not second.lead(REF, "b", clock.now())
    clock.advance(timedelta(seconds=2))  # the leader died: its 30 s lease expired
    assert second.lead(REF, "b", clock.now())
    assert not first.fence(REF, "a", clock.now())  # fenced: the old leader may not resume any more
    second.release(REF, "b")
    assert first.lead(REF, "a", clock.now())


def test_followers_read_the_published_state_and_budget_holds(ledger: Ledger) -> None:
    clock = FakeClock(T0)
    coordinator = LedgerCoordinator(ledger, clock)
    assert coordinator.last_state(REF) is None
    coordinator.publish(EndpointSnapshot(REF, EndpointState.INITIALIZING, CPU), clock.now())
    assert coordinator.last_state(REF) == EndpointState.INITIALIZING
    assert coordinator.budget(REF, clock.now()) is None
    ledger.place_hold(Hold(REF, "budget", "daily $5 spent", T0, T0 + timedelta(hours=3)))
    assert coordinator.budget(REF, clock.now()) == ("daily $5 spent", T0 + timedelta(hours=3))


def test_the_in_process_coordinator_always_leads_and_publishes_nothing() -> None:
    coordinator = InProcessCoordinator()
    assert coordinator.lead(REF, "a", T0) and coordinator.lead(REF, "b", T0) and coordinator.fence(REF, "b", T0)
    coordinator.publish(EndpointSnapshot(REF, EndpointState.RUNNING, CPU), T0)
    assert coordinator.last_state(REF) is None and coordinator.budget(REF, T0) is None
