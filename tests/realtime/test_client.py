"""The auto-wake client at real HF time scales: 4.5- and 5-minute wakes, 4-second API calls, a timeout."""

from __future__ import annotations

import asyncio

import pytest

from epmgr.client import AsyncEndpointClient, EndpointClient
from epmgr.domain.model import ActionKind, EndpointRef, EndpointState
from epmgr.emulator import DEMO_USER, FaultConfig
from epmgr.errors import WakeTimeout
from tests.realtime.conftest import Hf

WAKES = [(EndpointState.PAUSED, 270.0), (EndpointState.SCALED_TO_ZERO, 300.0)]  # pending 30 s + init 4 min; cold


@pytest.mark.parametrize(("state", "takes_s"), WAKES, ids=[s.value for s, _ in WAKES])
def test_a_minutes_long_wake_succeeds_through_the_client(hf: Hf, state: EndpointState, takes_s: float) -> None:
    hf.create("slowpoke", state)
    started = hf.clock.now()
    with EndpointClient("slowpoke", clock=hf.clock) as client:
        assert client.text_generation("still there?", max_new_tokens=5) == "echo: still there?"
    waited = hf.clock.since(started)
    assert waited >= takes_s  # it really rode out the whole wake
    ledger = hf.ledger()
    ref = EndpointRef(DEMO_USER, "slowpoke")
    resumes = [a for a in ledger.actions(ref) if a.action == ActionKind.RESUME]
    assert len(resumes) == (1 if state == EndpointState.PAUSED else 0)  # a cold start needs no resume call
    assert ledger.count_requests(ref) == 1
    ledger.close()


def test_the_async_client_rides_out_a_paused_wake(hf: Hf) -> None:
    hf.create("slow-async", EndpointState.PAUSED)

    async def main() -> list[str]:
        async with AsyncEndpointClient("slow-async", clock=hf.clock) as client:
            return list(await asyncio.gather(*(client.text_generation(f"q{i}", max_new_tokens=3) for i in range(5))))

    assert asyncio.run(main()) == [f"echo: q{i}" for i in range(5)]
    ledger = hf.ledger()
    actions = ledger.actions(EndpointRef(DEMO_USER, "slow-async"))
    assert [a.action for a in actions] == [ActionKind.RESUME]  # five callers, one resume
    ledger.close()


def test_a_cold_start_without_holding_polls_the_api_at_its_cadence(hf: Hf) -> None:
    """hold=False: the first request gets 503 and starts the scale-up; the wake then asks the rate-limited API at
    most every 5 s (PollCadence.api_cap) for the whole 5 minutes, and watches readiness on the health route."""
    hf.create("nohold", EndpointState.SCALED_TO_ZERO)
    hf.server.requests.clear()
    started = hf.clock.now()
    with EndpointClient("nohold", clock=hf.clock, hold=False) as client:
        assert client.text_generation("x", max_new_tokens=2) == "echo: x"
    waited = hf.clock.since(started)
    assert waited >= 300
    assert hf.api_calls() <= waited / 5 + 3


def test_a_wake_over_the_timeout_names_endpoint_last_state_and_time(hf: Hf) -> None:
    hf.create("too-slow", EndpointState.PAUSED)
    with (
        EndpointClient("too-slow", clock=hf.clock, wake_timeout=120) as client,
        pytest.raises(WakeTimeout) as caught,
    ):
        client.text_generation("hi")
    error = caught.value
    assert error.endpoint == "demo/too-slow" and error.last_state == "initializing"
    assert error.waited_s is not None and error.waited_s >= 120
    assert f"demo/too-slow was not ready after {error.waited_s:.1f}s of waiting; last state initializing" == str(error)


def test_a_wake_outlives_an_api_failing_most_of_the_time(hf: Hf) -> None:
    """60% of management calls fail (503): after the adapter's retries some looks and resume calls still fail;
    the wake treats each as "no news" and keeps going until the endpoint serves."""
    hf.create("flaky", EndpointState.PAUSED)
    hf.server.faults.configure(FaultConfig(rate=0.6, kinds=("503",), seed=7))
    with EndpointClient("flaky", clock=hf.clock) as client:
        assert client.text_generation("hi", max_new_tokens=2) == "echo: hi"
    assert hf.server.faults.injected["503"] >= 10
