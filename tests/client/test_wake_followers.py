"""A follower of another process's wake (it never saw the endpoint running) learns its URL and probes its health.

HF's time scales on one fake clock shared with the emulator; the leader is another holder of the lease in the
ledger, which publishes one state and is never heard from again (its lease lasts the whole test).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from epmgr.client.coordinator import LedgerCoordinator
from epmgr.client.waker import Waker
from epmgr.clock import FakeClock
from epmgr.domain.model import EndpointRef, EndpointSpec, EndpointState
from epmgr.domain.wake import PollCadence
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorTimings
from epmgr.errors import WakeTimeout
from tests.client.world import CPU, World, emulated_world

HF_TIMINGS = EmulatorTimings(pending=60, initializing=240, scale_up=180, update=120, minute=60)  # real seconds
GET = "GET /v2/endpoint/{namespace}/{name}"
RESUME = "POST /v2/endpoint/{namespace}/{name}/resume"
REF = EndpointRef(DEMO_USER, "shared")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 5, 9, tzinfo=timezone.utc))


@pytest.fixture
def resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[World]:
    """A paused endpoint that another process (the lease's holder for an hour) has just resumed."""
    with emulated_world(tmp_path, monkeypatch, clock=clock, timings=HF_TIMINGS) as world:
        spec = EndpointSpec(name="shared", repository="openai-community/gpt2", instance=CPU, task="text-generation")
        world.api.create(spec)
        clock.advance(timedelta(minutes=10))
        world.api.pause("shared")
        ledger = world.ledger()
        leader = LedgerCoordinator(ledger, clock, lease_ttl=timedelta(hours=1))
        assert leader.lead(REF, "another-process", clock.now())
        world.api.resume("shared")
        leader.publish(world.api.get("shared"), clock.now())  # pending: no URL yet
        try:
            yield world
        finally:
            ledger.close()


@contextmanager
def follower(world: World, clock: FakeClock, timeout: timedelta) -> Iterator[Waker]:
    ledger = world.ledger()
    waker = Waker(REF, api=world.api, ledger=ledger, clock=clock, token=DEMO_TOKEN, timeout=timeout)
    try:
        yield waker
    finally:
        waker.close()
        ledger.close()


def test_a_follower_asks_the_api_once_for_the_url_and_returns_within_a_health_poll_of_ready(
    resumed: World, clock: FakeClock
) -> None:
    clock.advance(timedelta(seconds=90))  # initializing: the leader publishes it, the API shows the URL
    with closing(resumed.ledger()) as ledger:
        LedgerCoordinator(ledger, clock).publish(resumed.api.get("shared"), clock.now())
    resumed.clear_counts()
    with follower(resumed, clock, timedelta(minutes=10)) as waker:
        ready = waker.ensure_awake()
        returned_at = clock.now()
    transitions = httpx.get(f"{resumed.server.url}/_emulator/billing").json()["endpoints"][0]["transitions"]
    running_at = datetime.fromisoformat(transitions[-1]["at"].replace("Z", "+00:00"))
    assert transitions[-1]["state"] == "running" and ready.url == waker.url is not None
    # Before: it could probe nothing and waited for the lease (here an hour: a WakeTimeout after 10 minutes).
    assert timedelta(0) <= returned_at - running_at <= PollCadence().health_cap == timedelta(milliseconds=250)
    counts = resumed.counts()
    assert counts.get(GET) == 1 and RESUME not in counts and waker.resume_calls == 0


def test_a_follower_asks_nothing_while_the_published_state_shows_no_url(resumed: World, clock: FakeClock) -> None:
    resumed.clear_counts()
    with follower(resumed, clock, timedelta(seconds=30)) as waker, pytest.raises(WakeTimeout) as caught:
        waker.ensure_awake()  # pending for 60 s, as last published
    assert caught.value.last_state == EndpointState.PENDING.value
    assert GET not in resumed.counts()
