"""The daemon's tick against the emulator over real HTTP, with short timings on one FakeClock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from epmgr.client.waker import Waker
from epmgr.domain.model import ActionKind, ActionRecord, Actor, EndpointState, Outcome, RequestRecord
from epmgr.errors import ApiUnavailable, BudgetExceeded
from epmgr.operations import Operator
from epmgr.service import Reconciler
from tests.daemon.conftest import World, tick

# The tests move the clock by minutes between ticks: an interval that long keeps the observation continuous.
IDLE = """
[daemon]
interval = "10m"

[defaults]
scale_to_zero_after = "2m"
pause_after = "10m"
min_uptime = "1m"

[[endpoints]]
name = "idle-ep"
"""


def daemon_actions(world: World, name: str) -> list[ActionRecord]:
    return [a for a in world.ledger.actions() if a.ref.name == name and a.actor == Actor.DAEMON]


def test_idle_endpoint_is_scaled_to_zero_then_paused(world: World) -> None:
    ref = world.create("idle-ep")
    daemon = world.reconciler(IDLE)
    tick(daemon)
    world.advance(seconds=90)
    assert tick(daemon).endpoints[0].decision.action == ActionKind.NONE
    assert world.state("idle-ep") == EndpointState.RUNNING

    world.advance(seconds=40)  # 2m10s idle
    report = tick(daemon)
    assert report.endpoints[0].outcome == Outcome.OK
    assert world.state("idle-ep") == EndpointState.SCALED_TO_ZERO

    world.advance(minutes=8)  # 10m10s idle
    tick(daemon)
    assert world.state("idle-ep") == EndpointState.PAUSED
    acted = [(a.action, a.outcome, a.policy) for a in daemon_actions(world, ref.name)]
    assert acted == [(ActionKind.SCALE_TO_ZERO, Outcome.OK, "idle"), (ActionKind.PAUSE, Outcome.OK, "idle")]
    assert "no requests for" in daemon_actions(world, ref.name)[0].reason


def test_a_request_in_flight_keeps_it_up_and_the_skip_is_audited_once(world: World) -> None:
    ref = world.create("idle-ep")
    daemon = world.reconciler(IDLE)
    tick(daemon)
    world.ledger.record_requests([RequestRecord(ref, world.clock.now())])  # in flight, never finished
    world.advance(minutes=3)
    tick(daemon)
    world.advance(minutes=3)
    tick(daemon)
    world.advance(minutes=3)
    tick(daemon)
    assert world.state("idle-ep") == EndpointState.RUNNING
    skipped = [a for a in daemon_actions(world, ref.name) if a.outcome == Outcome.SKIPPED]
    assert len(skipped) == 1 and "in flight" in skipped[0].reason


def test_min_uptime_holds_off_a_freshly_woken_endpoint(world: World) -> None:
    ref = world.create("idle-ep")
    daemon = world.reconciler(IDLE.replace('min_uptime = "1m"', 'min_uptime = "10m"'))
    report = tick(daemon)  # first seen now: awake since now
    world.ledger.record_requests([RequestRecord(ref, world.clock.now(), world.clock.now() + timedelta(seconds=1), 200)])
    world.advance(minutes=3)
    report = tick(daemon)
    decision = report.endpoints[0].decision
    assert decision.skipped and decision.code == "min_uptime"
    assert world.state("idle-ep") == EndpointState.RUNNING


SCHEDULE = """
[daemon]
interval = "1h"

[defaults]
scale_to_zero_after = "off"
pause_after = "2h"

[[endpoints]]
name = "office"
schedule = { tz = "Europe/Berlin", active = ["Mon-Fri 10:30-19:00"], prewarm = "0s", on_end = "pause" }
"""


def test_schedule_edge_resumes_a_paused_endpoint_before_the_first_user(world: World) -> None:
    # T0 is Monday 09:00 UTC = 10:00 in Berlin: half an hour before the window opens.
    world.create("office")
    world.api.pause("office")
    daemon = world.reconciler(SCHEDULE)
    report = tick(daemon)
    assert report.endpoints[0].decision.action in (ActionKind.PAUSE, ActionKind.NONE)
    assert report.next_edge == datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    assert world.state("office") == EndpointState.PAUSED

    world.advance(minutes=30, seconds=1)
    report = tick(daemon)
    assert (report.endpoints[0].decision.action, report.endpoints[0].outcome) == (ActionKind.RESUME, Outcome.OK)
    world.advance(seconds=1)
    assert world.state("office") == EndpointState.RUNNING
    world.advance(minutes=1)
    assert tick(daemon).endpoints[0].decision.code == "in_window"  # once per edge; idle is off in the window


def test_window_end_pauses_and_a_manual_resume_inside_the_off_window_is_respected(world: World) -> None:
    world.create("office")
    daemon = world.reconciler(SCHEDULE)
    world.clock.advance(datetime(2026, 3, 2, 18, 0, 30, tzinfo=timezone.utc) - world.clock.now())  # 19:00:30 Berlin
    tick(daemon)
    assert world.state("office") == EndpointState.PAUSED

    world.advance(minutes=10)
    person = Operator(world.api, world.ledger, world.clock)  # the CLI's actor
    person.act(ActionKind.RESUME, "office", "resumed by hand", lambda: world.api.resume("office"))
    for _ in range(3):
        world.advance(minutes=10)
        tick(daemon)
    assert world.state("office") == EndpointState.RUNNING  # not paused again before pause_after (2h) of idleness
    world.advance(hours=2)
    tick(daemon)
    assert world.state("office") == EndpointState.PAUSED  # ... then the idle policy takes it


def test_enforce_pauses_again_after_a_manual_resume(world: World) -> None:
    world.create("office")
    daemon = world.reconciler(SCHEDULE.replace('on_end = "pause" }', 'on_end = "pause", enforce = true }'))
    world.clock.advance(datetime(2026, 3, 2, 18, 0, 30, tzinfo=timezone.utc) - world.clock.now())
    tick(daemon)
    Operator(world.api, world.ledger, world.clock).act(
        ActionKind.RESUME, "office", "by hand", lambda: world.api.resume("office")
    )
    world.advance(minutes=1)
    tick(daemon)
    assert world.state("office") == EndpointState.PAUSED


BUDGET = """
[daemon]
interval = "10m"

[defaults]
scale_to_zero_after = "off"
pause_after = "off"

[[endpoints]]
name = "pricey"
price_per_hour = 60
budget = { daily_usd = 2, on_exceed = "pause" }
"""


def test_budget_exceeded_pauses_and_holds_the_endpoint_until_the_day_resets(world: World) -> None:
    ref = world.create("pricey")  # $1 per minute
    daemon = world.reconciler(BUDGET)
    tick(daemon)
    world.advance(seconds=50)
    report = tick(daemon)
    assert report.endpoints[0].decision.action == ActionKind.NONE
    world.advance(minutes=2)
    report = tick(daemon)
    assert (report.endpoints[0].decision.action, report.endpoints[0].outcome) == (ActionKind.PAUSE, Outcome.OK)
    assert world.state("pricey") == EndpointState.PAUSED
    hold = world.ledger.active_hold(ref, world.clock.now())
    assert hold is not None and hold.kind == "budget"
    assert hold.until == datetime(2026, 3, 3, tzinfo=timezone.utc)
    assert "daily budget" in hold.reason
    warnings = [a for a in daemon_actions(world, "pricey") if a.action == ActionKind.WARN]
    assert len(warnings) == 1  # once per period, however many ticks

    waker = Waker(ref, api=world.api, ledger=world.ledger, clock=world.clock, timeout=timedelta(seconds=5))
    try:
        with pytest.raises(BudgetExceeded, match="daily budget"):
            waker.ensure_awake()  # the client refuses to wake it
    finally:
        waker.close()
    assert world.state("pricey") == EndpointState.PAUSED

    world.advance(minutes=5)
    tick(daemon)  # held: the schedule or anything else does not wake it
    assert world.state("pricey") == EndpointState.PAUSED
    assert world.ledger.active_hold(ref, datetime(2026, 3, 3, 0, 1, tzinfo=timezone.utc)) is None


def test_dry_run_audits_decisions_without_acting(world: World) -> None:
    world.create("idle-ep")
    daemon = world.reconciler(IDLE, dry_run=True)
    tick(daemon)
    world.advance(minutes=3)
    report = tick(daemon)
    assert report.endpoints[0].outcome == Outcome.DRY_RUN
    assert world.state("idle-ep") == EndpointState.RUNNING
    assert [a.outcome for a in daemon_actions(world, "idle-ep")] == [Outcome.DRY_RUN]


def test_protected_and_unlisted_endpoints_are_observed_but_never_touched(world: World) -> None:
    world.create("idle-ep")
    world.create("stranger")
    daemon = world.reconciler(IDLE + "protect = true\n")
    for _ in range(15):  # 7 hours, watched
        world.advance(minutes=28)
        report = tick(daemon)
    assert {e.ref.name: e.decision.code for e in report.endpoints} == {"idle-ep": "protected", "stranger": "unmanaged"}
    assert world.state("idle-ep") == world.state("stranger") == EndpointState.RUNNING
    assert [a for a in world.ledger.actions() if a.action != ActionKind.CREATE] == []
    assert all(e.spent_today > 0 for e in report.endpoints)  # costed all the same


class FailingPause:
    """The real adapter, except that pausing ``name`` fails (as after the adapter's retries)."""

    def __init__(self, world: World, name: str) -> None:
        self._api = world.api
        self._name = name

    def __getattr__(self, attribute: str) -> object:
        return getattr(self._api, attribute)

    def scale_to_zero(self, name: str) -> object:
        if name == self._name:
            raise ApiUnavailable("503 Service Unavailable (after 2 attempts)", endpoint=name)
        return self._api.scale_to_zero(name)


def test_a_failure_on_one_endpoint_never_stops_the_others(world: World) -> None:
    world.create("first")
    world.create("second")
    toml = '[defaults]\nscale_to_zero_after = "1m"\nmin_uptime = "0s"\n'
    toml += '[[endpoints]]\nname = "first"\n[[endpoints]]\nname = "second"\n'
    settings = world.settings(toml)
    daemon = Reconciler(settings, world.ledger, world.clock, lambda _ns: FailingPause(world, "first"))  # type: ignore[arg-type,return-value]
    daemon.tick()
    world.advance(minutes=2)
    report = daemon.tick()
    outcomes = {e.ref.name: (e.outcome, e.error) for e in report.endpoints}
    assert outcomes["first"][0] == Outcome.FAILED and "503" in str(outcomes["first"][1])
    assert outcomes["second"] == (Outcome.OK, None)
    failed = [a for a in daemon_actions(world, "first") if a.outcome == Outcome.FAILED]
    assert failed and failed[0].error and "503" in failed[0].error
