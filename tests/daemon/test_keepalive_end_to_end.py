"""Learned keep-alive end to end: requests in the ledger -> the daemon's tick -> the emulator over HTTP -> the audit.

The endpoint saw traffic on 3 of the last 4 Mondays 09:00-10:00 (UTC) and measured a 3-minute cold start, so the
daemon resumes it at 08:57, keeps it warm through 09:00-10:00 despite short idle timeouts, and lets the idle policy
pause it after 10:00. Runs on SQLite and PostgreSQL (the ``ledger`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epmgr.clock import FakeClock
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Actor,
    EndpointRef,
    EndpointState,
    Hold,
    Outcome,
    RequestRecord,
    StateChange,
)
from epmgr.emulator import EmulatorServer
from epmgr.ledger import Ledger
from epmgr.service import Reconciler, TickReport
from tests.adapters.conftest import FAST, adapter_for
from tests.daemon.conftest import World, tick

# An interval of a minute: the daemon looks often enough to resume one 3-minute cold start ahead (keep-alive
# pre-warms are not on the edge job; they rely on interval ticks).
KEEP_ALIVE = """
[daemon]
interval = "1m"

[defaults]
scale_to_zero_after = "5m"
pause_after = "30m"
min_uptime = "1m"

[[endpoints]]
name = "mornings"
keep_alive = true
"""
MONDAY = datetime(2026, 3, 2, tzinfo=timezone.utc)  # the Monday of T0
BUSY = MONDAY + timedelta(hours=9)
EVIDENCE = "traffic seen in 3 of the last 4 Mondays 09:00-10:00"
COLD_START = timedelta(minutes=3)


@pytest.fixture
def world(ledger: Ledger, tmp_path: Path) -> Iterator[World]:
    """Like ``tests.daemon.conftest.world``, on each ledger engine, starting at 08:00 that Monday."""
    clock = FakeClock(BUSY - timedelta(hours=1))
    with EmulatorServer(timings=FAST, clock=clock, access_log=False) as server:
        api = adapter_for(server, backoff=Backoff(base_s=0.01, cap_s=0.02, attempts=2))
        yield World(clock, server, api, ledger, tmp_path)


def asleep_with_history(world: World) -> EndpointRef:
    """The endpoint, paused, with its learned history in the ledger.

    Requests on the Mondays 1, 2 and 3 weeks back at 09:00-10:00 (none 4 weeks back), a one-off on the Tuesday 4
    weeks back (so 4 weeks are known), and yesterday's wake from paused that took 3 minutes (the measured lead).
    """
    ref = world.create("mornings")
    world.api.pause("mornings")
    requests = [
        RequestRecord(ref, BUSY - weeks * timedelta(days=7) + timedelta(minutes=minute), status_code=200)
        for weeks in (1, 2, 3)
        for minute in (5, 40)
    ]
    one_off = MONDAY - timedelta(days=27) + timedelta(hours=15)
    requests.append(RequestRecord(ref, one_off, one_off + timedelta(seconds=1), 200))
    world.ledger.record_requests(requests)
    yesterday = MONDAY - timedelta(days=1)
    for minutes, state in (
        (0, EndpointState.PAUSED),
        (10, EndpointState.INITIALIZING),
        (13, EndpointState.RUNNING),
        (30, EndpointState.PAUSED),
    ):
        world.ledger.record_state_change(StateChange(ref, None, state, yesterday + timedelta(minutes=minutes)))
    return ref


def tick_at(world: World, daemon: Reconciler, moment: datetime) -> TickReport:
    """The daemon's tick at ``moment``."""
    world.clock.advance(moment - world.clock.now())
    return tick(daemon)


def daemon_actions(world: World, ref: EndpointRef) -> list[ActionRecord]:
    return [a for a in world.ledger.actions(ref) if a.actor == Actor.DAEMON]


def test_learned_traffic_prewarms_keeps_warm_then_lets_idle_pause(world: World) -> None:
    ref = asleep_with_history(world)
    daemon = world.reconciler(KEEP_ALIVE)

    # Before the busy hour: nothing yet, the next action is the pre-warm one cold start ahead.
    report = tick_at(world, daemon, BUSY - timedelta(hours=1, seconds=-2))
    (seen,) = report.endpoints
    assert (seen.decision.action, seen.decision.next_action) == (ActionKind.NONE, ActionKind.RESUME)
    assert seen.decision.next_at == BUSY - COLD_START
    assert report.next_edge is None  # not a schedule edge: the interval ticks find it
    assert world.state("mornings") == EndpointState.PAUSED

    # (a) One cold start before 09:00: resumed, audited with the learned evidence.
    prewarm_at = BUSY - COLD_START + timedelta(seconds=1)
    (seen,) = tick_at(world, daemon, prewarm_at).endpoints
    assert (seen.decision.action, seen.outcome) == (ActionKind.RESUME, Outcome.OK)
    world.advance(seconds=1)
    assert world.state("mornings") == EndpointState.RUNNING  # up before the first request at 09:00
    ((resume,),) = [daemon_actions(world, ref)]
    assert (resume.action, resume.outcome, resume.policy, resume.requested_at) == (
        ActionKind.RESUME,
        Outcome.OK,
        "keepalive",
        prewarm_at,
    )
    assert resume.reason == f"pre-warm, 3m ahead: {EVIDENCE}"

    # (b) In the busy hour, no request since the wake: past both idle timeouts, still kept warm.
    for moment in (BUSY + timedelta(minutes=35), BUSY + timedelta(minutes=59)):
        (seen,) = tick_at(world, daemon, moment).endpoints
        assert (seen.decision.policy, seen.decision.code, seen.outcome) == ("keepalive", "keep_warm", None)
        assert seen.decision.reason == f"kept warm until 2026-03-02T10:00+00:00: {EVIDENCE}"
        assert world.state("mornings") == EndpointState.RUNNING
    assert daemon_actions(world, ref) == [resume]  # keeping warm is no action and no audit entry

    # (c) After the busy hour: the idle policy applies again (idle since the wake: past pause_after).
    (seen,) = tick_at(world, daemon, BUSY + timedelta(hours=1, minutes=1)).endpoints
    assert (seen.decision.action, seen.outcome) == (ActionKind.PAUSE, Outcome.OK)
    assert world.state("mornings") == EndpointState.PAUSED
    paused = daemon_actions(world, ref)[-1]
    assert (paused.action, paused.policy) == (ActionKind.PAUSE, "idle")
    assert paused.reason == "no requests for 1h3m59s (to be paused after 30m)"  # since the 08:57 wake


def test_outside_busy_hours_the_idle_policy_applies(world: World) -> None:
    ref = asleep_with_history(world)
    daemon = world.reconciler(KEEP_ALIVE)
    world.api.resume("mornings")
    world.advance(seconds=1)
    tick_at(world, daemon, world.clock.now())  # woke at 08:00: no traffic learned for this hour
    (seen,) = tick_at(world, daemon, world.clock.now() + timedelta(minutes=6)).endpoints
    assert (seen.decision.action, seen.decision.policy, seen.outcome) == (
        ActionKind.SCALE_TO_ZERO,
        "idle",
        Outcome.OK,
    )
    assert world.state("mornings") == EndpointState.SCALED_TO_ZERO
    assert [(a.action, a.policy) for a in daemon_actions(world, ref)] == [(ActionKind.SCALE_TO_ZERO, "idle")]


def test_a_budget_hold_blocks_the_keepalive_resume(world: World) -> None:
    ref = asleep_with_history(world)
    daemon = world.reconciler(KEEP_ALIVE)
    hold_reason = "daily budget $1.00 exceeded"
    world.ledger.place_hold(Hold(ref, "budget", hold_reason, world.clock.now(), until=MONDAY + timedelta(days=1)))

    (seen,) = tick_at(world, daemon, BUSY - COLD_START + timedelta(seconds=1)).endpoints
    assert (seen.decision.action, seen.decision.code, seen.outcome) == (ActionKind.RESUME, "held", Outcome.SKIPPED)
    assert world.state("mornings") == EndpointState.PAUSED
    tick_at(world, daemon, BUSY + timedelta(minutes=10))  # the stretch was handled (held): no second try
    assert world.state("mornings") == EndpointState.PAUSED

    (held,) = daemon_actions(world, ref)
    assert (held.action, held.outcome, held.policy) == (ActionKind.RESUME, Outcome.SKIPPED, "keepalive")
    assert held.reason == f"pre-warm, 3m ahead: {EVIDENCE}; not resumed: hold in force ({hold_reason})"
