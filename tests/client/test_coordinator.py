"""The ledger's WakeCoordinator on SQLite and PostgreSQL: one leader per endpoint, followers read what it
publishes, a crashed leader is replaced once its lease expires and may not resume any more, budget holds are seen
(fake clock)."""

from __future__ import annotations

from datetime import timedelta

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.client.coordinator import InProcessCoordinator, LedgerCoordinator
from epmgr.clock import FakeClock
from epmgr.domain.model import (
    ActionKind,
    EndpointRef,
    EndpointSnapshot,
    EndpointSpec,
    EndpointState,
    Hold,
    Instance,
    Outcome,
)
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import Ledger
from tests.adapters.conftest import FAST
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


def test_the_resume_goes_through_the_one_executor_fenced_by_the_wake_lease(ledger: Ledger) -> None:
    clock = FakeClock(T0)
    with EmulatorServer(clock=clock, timings=FAST, access_log=False) as server:
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        api.create(EndpointSpec(name="shared", repository="openai-community/gpt2", instance=CPU))
        clock.advance(timedelta(minutes=1))
        api.pause("shared")
        ref = EndpointRef(DEMO_USER, "shared")
        stale, leader = LedgerCoordinator(ledger, clock), LedgerCoordinator(ledger, clock)
        assert stale.lead(ref, "a", clock.now())
        clock.advance(timedelta(seconds=31))  # a's lease expired and b took it over
        assert leader.lead(ref, "b", clock.now())
        assert stale.resumer(api, "shared", "a")() is None  # fenced: nothing sent, nothing audited
        assert api.get("shared").state == EndpointState.PAUSED and ledger.actions(ref) == []
        resumed = leader.resumer(api, "shared", "b")()
        assert resumed is not None and resumed.state == EndpointState.PENDING
    [action] = ledger.actions(ref)
    assert (action.action, action.outcome, action.holder) == (ActionKind.RESUME, Outcome.OK, "b")
    assert ledger.last_state_change(ref) is not None
