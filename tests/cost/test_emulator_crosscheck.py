"""epmgr's accounting against the emulator's own billing: same scenario, same billed minutes and dollars."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.clock import FakeClock
from epmgr.domain.cost import spend_between
from epmgr.domain.model import EndpointRef, EndpointSpec, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings
from epmgr.ledger import Ledger
from epmgr.observe import observe_namespace
from tests.adapters.conftest import adapter_for
from tests.conftest import T0

# Seconds of (fake) time; one emulated scale-to-zero minute lasts 30 s, so a 2-minute timeout is 60 s idle.
TIMINGS = EmulatorTimings(pending=5, initializing=40, scale_up=25, update=10, minute=30)
ICL = Instance("aws", "us-east-1", "cpu", "intel-icl", "x2")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[EmulatorServer]:
    with EmulatorServer(timings=TIMINGS, clock=clock, access_log=False) as emulator:
        yield emulator


def run_scenario(server: EmulatorServer, clock: FakeClock, ledger: Ledger, api: HfEndpointsAPI, poll: int) -> None:
    """create, traffic, idle -> HF scales to zero, a request wakes it, pause, resume; observed every ``poll`` s."""

    def tick(seconds: int) -> None:
        for _ in range(seconds // poll):
            clock.advance(timedelta(seconds=poll))
            observe_namespace(api, ledger, clock, max_gap=timedelta(seconds=3 * poll))

    def infer(url: str) -> int:
        response = httpx.post(url, json={"inputs": "hi"}, headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
        return response.status_code

    api.create(EndpointSpec("ep", "gpt2", ICL, min_replica=0, max_replica=1, scale_to_zero_timeout_min=2))
    observe_namespace(api, ledger, clock)
    tick(50)  # pending 5 s, initializing 40 s, running
    url = api.get("ep").url
    assert url is not None
    for _ in range(3):  # traffic
        assert infer(url) == 200
        tick(30)
    tick(120)  # idle: scaled to zero 60 s after the last request
    assert api.get("ep").state.value == "scaledToZero"
    assert infer(url) == 503  # wakes it: a 25 s cold start
    tick(40)
    assert infer(url) == 200
    tick(10)
    api.pause("ep")
    tick(30)
    api.resume("ep")
    tick(90)
    api.pause("ep")
    tick(10)


@pytest.mark.parametrize("poll", [1, 5], ids=["poll-1s", "poll-5s"])
def test_billed_minutes_and_dollars_equal_the_emulators_bill(
    server: EmulatorServer, clock: FakeClock, ledger: Ledger, poll: int
) -> None:
    api = adapter_for(server)
    run_scenario(server, clock, ledger, api, poll)
    bill = httpx.get(f"{server.url}/_emulator/billing", params={"namespace": DEMO_USER}).json()
    (billed,) = bill["endpoints"]
    assert len(billed["segments"]) == 3  # first run, the wake-up, the resume
    price = Decimal(billed["segments"][0]["pricePerHour"])

    changes = ledger.state_changes(EndpointRef(DEMO_USER, "ep"))
    spend = spend_between(changes, T0, clock.now(), price_of=lambda _: price)

    assert spend.replica_minutes == billed["replicaMinutes"]
    assert spend.usd == Decimal(billed["usd"])
    assert spend.unknown == timedelta(0)
