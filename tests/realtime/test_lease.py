"""The wake's one resume call is fenced by its lease: a waker whose lease was taken over while an API call hung
does not resume; it resumes (once) only after it holds the lease again. FakeClock shared with the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.client.waker import Waker
from epmgr.clock import FakeClock
from epmgr.domain.model import ActionKind, EndpointRef, EndpointSnapshot, EndpointSpec, EndpointState
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import Ledger, open_ledger
from tests.client.world import CPU
from tests.conftest import T0
from tests.realtime.conftest import REAL_HF

LEASE = f"wake:{DEMO_USER}/fenced"


class HangingOnce:
    """The real adapter; its first look hangs for two minutes, during which another process takes the lease."""

    def __init__(self, api: HfEndpointsAPI, ledger: Ledger, clock: FakeClock) -> None:
        self.api, self.ledger, self.clock = api, ledger, clock
        self.namespace = api.namespace
        self.intruder_until: datetime | None = None
        self.resumed_at: list[datetime] = []

    def get(self, name: str) -> EndpointSnapshot:
        if self.intruder_until is None:
            self.clock.advance(timedelta(minutes=2))  # the call hangs past the waker's lease
            assert self.ledger.acquire_lease(LEASE, "intruder", timedelta(seconds=90), self.clock.now())
            self.intruder_until = self.clock.now() + timedelta(seconds=90)
        return self.api.get(name)

    def resume(self, name: str, *, running_ok: bool = True) -> EndpointSnapshot:
        self.resumed_at.append(self.clock.now())
        return self.api.resume(name, running_ok=running_ok)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[HangingOnce, Ledger, FakeClock]]:
    clock = FakeClock(T0)
    with EmulatorServer(timings=REAL_HF, clock=clock, access_log=False) as server:
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        api.create(
            EndpointSpec(name="fenced", repository="openai-community/gpt2", instance=CPU, task="text-generation")
        )
        api.pause("fenced")
        ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
        yield HangingOnce(api, ledger, clock), ledger, clock
        ledger.close()


def test_no_resume_is_sent_by_a_waker_whose_lease_was_taken(setup: tuple[HangingOnce, Ledger, FakeClock]) -> None:
    api, ledger, clock = setup
    waker = Waker(
        EndpointRef(DEMO_USER, "fenced"),
        api=api,  # type: ignore[arg-type]
        ledger=ledger,
        token=DEMO_TOKEN,
        lease_ttl=timedelta(seconds=30),
        clock=clock,
        timeout=timedelta(minutes=15),
    )
    try:
        ready = waker.ensure_awake()
    finally:
        waker.close()
    assert ready.url and api.intruder_until is not None
    assert len(api.resumed_at) == 1  # one resume in all
    assert api.resumed_at[0] >= api.intruder_until  # and only once the intruder's lease had expired
    actions = ledger.actions(EndpointRef(DEMO_USER, "fenced"))
    assert [a.action for a in actions] == [ActionKind.RESUME]
    assert ledger.lease(LEASE) is None or ledger.lease(LEASE).holder != "intruder"  # type: ignore[union-attr]
    assert api.api.get("fenced").state == EndpointState.RUNNING
