"""Pre-warm end to end: the daemon resumes one lead before the window, so the endpoint runs at the window start."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from epmgr.domain.model import ActionKind, Actor, EndpointState, Outcome, StateChange
from tests.daemon.conftest import World, tick

OFFICE = """
[daemon]
interval = "1h"

[defaults]
scale_to_zero_after = "off"
pause_after = "2h"

[[endpoints]]
name = "office"
schedule = {{ tz = "Europe/Berlin", active = ["Mon-Fri 10:30-19:00"], on_start = "resume", on_end = "pause"{extra} }}
"""
WINDOW_START = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # 10:30 in Berlin; T0 is 09:00 UTC


def move_to(world: World, moment: datetime) -> None:
    world.clock.advance(moment - world.clock.now())


def daemon_resumes(world: World) -> list[tuple[datetime, Outcome, str]]:
    return [
        (a.requested_at, a.outcome, a.reason)
        for a in world.ledger.actions()
        if a.actor == Actor.DAEMON and a.action == ActionKind.RESUME
    ]


def test_a_fixed_prewarm_has_the_endpoint_running_at_the_window_start(world: World) -> None:
    world.create("office")
    world.api.pause("office")
    daemon = world.reconciler(OFFICE.format(extra=', prewarm = "5m"'))
    report = tick(daemon)
    assert report.next_edge == WINDOW_START - timedelta(minutes=5)  # the daemon's edge job fires at the lead
    assert world.state("office") == EndpointState.PAUSED

    move_to(world, WINDOW_START - timedelta(minutes=5) + timedelta(seconds=1))
    report = tick(daemon)
    assert (report.endpoints[0].decision.action, report.endpoints[0].outcome) == (ActionKind.RESUME, Outcome.OK)
    world.advance(seconds=1)  # the emulator's cold start (short timings) is over long before the edge

    move_to(world, WINDOW_START)
    assert world.state("office") == EndpointState.RUNNING  # the first user at 10:30 does not wait
    assert tick(daemon).endpoints[0].decision.code == "in_window"  # no second resume at the edge itself
    ((at, outcome, reason),) = daemon_resumes(world)
    assert (at, outcome) == (WINDOW_START - timedelta(minutes=5) + timedelta(seconds=1), Outcome.OK)
    assert "opens at 2026-03-02T09:30+00:00 (pre-warm, 5m early" in reason


def test_auto_prewarm_uses_the_measured_cold_start(world: World) -> None:
    ref = world.create("office")
    world.api.pause("office")
    yesterday = world.clock.now() - timedelta(days=1)
    for minutes, state in ((0, EndpointState.PAUSED), (10, EndpointState.INITIALIZING), (13, EndpointState.RUNNING)):
        world.ledger.record_state_change(StateChange(ref, None, state, yesterday + timedelta(minutes=minutes)))
    daemon = world.reconciler(OFFICE.format(extra=""))  # prewarm = "auto"
    assert tick(daemon).next_edge == WINDOW_START - timedelta(minutes=3)

    move_to(world, WINDOW_START - timedelta(minutes=3, seconds=-1))
    assert tick(daemon).endpoints[0].outcome == Outcome.OK
    world.advance(seconds=1)
    move_to(world, WINDOW_START)
    assert world.state("office") == EndpointState.RUNNING
