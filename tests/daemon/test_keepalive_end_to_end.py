"""Adaptive keep-alive end to end: requests in the ledger -> the daemon's tick -> the emulator over HTTP -> the audit.

A batch job hits the endpoint every 2 hours (a 2-minute burst) and its cold start was measured at 3 minutes. The
daemon learns the gaps from the ledger, pre-warms 4 minutes (one start-up and a minute's margin) before the next
burst, keeps the replica warm through the burst, and scales it to zero two minutes after it, long before the 15
minutes of ``scale_to_zero_after``. ``keep_alive = true`` is the adaptive keep-alive. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epmgr.clock import FakeClock
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import ActionKind, ActionRecord, Actor, EndpointRef, EndpointState, Outcome, RequestRecord
from epmgr.domain.model import StateChange as Change
from epmgr.emulator import EmulatorServer
from epmgr.ledger import Ledger
from epmgr.service import Reconciler, TickReport
from tests.adapters.conftest import FAST, adapter_for
from tests.daemon.conftest import World, tick

CONFIG = """
[daemon]
interval = "1m"

[defaults]
scale_to_zero_after = "15m"
pause_after = "6h"
min_uptime = "1m"

[[endpoints]]
name = "batch"
keep_alive = true
"""
BURST = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)  # the next burst the history predicts
EVERY = timedelta(hours=2)
BURST_REQUESTS = [timedelta(seconds=s) for s in (0, 30, 60, 90, 120)]
COLD_START = timedelta(minutes=3)


@pytest.fixture
def world(ledger: Ledger, tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(BURST - timedelta(minutes=20))
    with EmulatorServer(timings=FAST, clock=clock, access_log=False) as server:
        api = adapter_for(server, backoff=Backoff(base_s=0.01, cap_s=0.02, attempts=2))
        yield World(clock, server, api, ledger, tmp_path)


def record_burst(world: World, ref: EndpointRef, start: datetime) -> None:
    done = timedelta(seconds=1)
    world.ledger.record_requests([RequestRecord(ref, start + t, start + t + done, 200) for t in BURST_REQUESTS])


def asleep_with_history(world: World) -> EndpointRef:
    """The endpoint, scaled to zero, with 24 past bursts (two days) and a measured 3-minute cold start."""
    ref = world.create("batch")
    world.api.scale_to_zero("batch")
    for k in range(24, 0, -1):
        record_burst(world, ref, BURST - k * EVERY)
    woke = BURST - timedelta(days=1, minutes=10)
    zero, starting, running = EndpointState.SCALED_TO_ZERO, EndpointState.INITIALIZING, EndpointState.RUNNING
    for offset, state in ((0, zero), (1, starting), (4, running)):
        world.ledger.record_state_change(Change(ref, None, state, woke + timedelta(minutes=offset)))
    return ref


def tick_at(world: World, daemon: Reconciler, moment: datetime) -> TickReport:
    world.clock.advance(moment - world.clock.now())
    return tick(daemon)


def daemon_actions(world: World, ref: EndpointRef) -> list[ActionRecord]:
    return [a for a in world.ledger.actions(ref) if a.actor == Actor.DAEMON]


def test_prewarms_before_the_burst_keeps_warm_through_it_then_stops(world: World) -> None:
    ref = asleep_with_history(world)
    daemon = world.reconciler(CONFIG)
    prewarm_at = BURST - COLD_START - timedelta(minutes=1)

    # Before: nothing to do, the pre-warm is planned one start-up and a minute's margin ahead.
    (seen,) = tick_at(world, daemon, BURST - timedelta(minutes=10)).endpoints
    assert (seen.decision.action, seen.decision.next_action, seen.decision.next_at) == (
        ActionKind.NONE,
        ActionKind.RESUME,
        prewarm_at,
    )
    assert world.state("batch") == EndpointState.SCALED_TO_ZERO

    # The pre-warm: resumed, audited with the learned period.
    (seen,) = tick_at(world, daemon, prewarm_at).endpoints
    assert (seen.decision.action, seen.outcome) == (ActionKind.RESUME, Outcome.OK)
    world.advance(seconds=1)
    assert world.state("batch") == EndpointState.RUNNING
    (resume,) = daemon_actions(world, ref)
    assert (resume.policy, resume.requested_at) == ("keepalive", prewarm_at)
    assert resume.reason == (
        "pre-warm, 4m ahead: next burst expected at 2026-03-02T12:00+00:00, bursts every 2h "
        "(the last 11 intervals within 6m)"
    )

    # Waiting for the burst: kept warm, no action.
    (seen,) = tick_at(world, daemon, BURST - timedelta(minutes=1)).endpoints
    assert (seen.decision.code, seen.outcome) == ("keep_warm", None)
    assert seen.decision.reason == (
        "keep warm until 2026-03-02T12:06+00:00: burst expected at 2026-03-02T12:00+00:00, bursts every 2h "
        "(the last 11 intervals within 6m)"
    )

    # The burst comes and goes; one minute after it, still warm (a pause of a minute is not an idle gap yet).
    record_burst(world, ref, BURST)
    (seen,) = tick_at(world, daemon, BURST + timedelta(minutes=2, seconds=30)).endpoints
    assert (seen.decision.code, seen.outcome) == ("keep_warm", None)
    assert seen.decision.reason == (
        "keep warm until 2026-03-02T12:03+00:00: idle for 29s only (shorter pauses are not idle gaps)"
    )

    # Two minutes after it: every learned gap lasted much longer than a start-up, so it stops now.
    (seen,) = tick_at(world, daemon, BURST + timedelta(minutes=4)).endpoints
    assert (seen.decision.action, seen.decision.code, seen.outcome) == (
        ActionKind.SCALE_TO_ZERO,
        "keepalive_stop",
        Outcome.OK,
    )
    assert world.state("batch") == EndpointState.SCALED_TO_ZERO
    stop = daemon_actions(world, ref)[-1]
    assert stop.policy == "keepalive"
    assert stop.reason == (  # priced at the emulator's catalogue price of the instance
        "stop now: 100% of the last 24 gaps after 5-19 requests in an hour still idle after 1m59s lasted 3m more; "
        "next burst expected at 2026-03-02T14:00+00:00; expected saving $0.06"
    )


def test_a_young_endpoint_keeps_warm_for_the_ski_rental_time(world: World) -> None:
    ref = world.create("batch")
    now = world.clock.now()
    world.ledger.record_requests([RequestRecord(ref, now, now + timedelta(seconds=1), 200)])
    daemon = world.reconciler(CONFIG)
    tick_at(world, daemon, now + timedelta(seconds=1))  # first seen, just after the request

    (seen,) = tick_at(world, daemon, now + timedelta(minutes=10)).endpoints
    assert (seen.decision.code, seen.outcome) == ("keep_warm", None)
    assert "only 0 idle gaps seen" in seen.decision.reason  # 5m start-up (none measured) + 10m: 15m in all
    (seen,) = tick_at(world, daemon, now + timedelta(minutes=16)).endpoints
    assert (seen.decision.action, seen.outcome) == (ActionKind.SCALE_TO_ZERO, Outcome.OK)
    assert world.state("batch") == EndpointState.SCALED_TO_ZERO


def test_a_request_recorded_after_a_tick_that_started_before_it_is_learned(world: World) -> None:
    ref = world.create("batch")
    now = world.clock.now()
    world.ledger.record_requests([RequestRecord(ref, now, now + timedelta(seconds=1), 200)])
    daemon = world.reconciler(CONFIG)
    tick_at(world, daemon, now + timedelta(minutes=5))
    # Written after that tick (a client's batched or queued write), started before it: an idle gap of 4 minutes.
    late = now + timedelta(minutes=4)
    world.ledger.record_requests([RequestRecord(ref, late, late + timedelta(seconds=1), 200)])
    (seen,) = tick_at(world, daemon, now + timedelta(minutes=6)).endpoints
    assert seen.decision.code == "keep_warm"
    assert "only 1 idle gaps seen" in seen.decision.reason
    world.ledger.record_requests([RequestRecord(ref, late, late + timedelta(seconds=1), 200)])  # the same again
    (seen,) = tick_at(world, daemon, now + timedelta(minutes=7)).endpoints
    assert "only 1 idle gaps seen" in seen.decision.reason  # not learned twice
