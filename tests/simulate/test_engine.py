"""The simulated endpoint under each kind of policy: costs by hand, schedules, budgets, the adaptive keep-alive's
reasons, and event-driven stepping giving exactly what stepping every tick gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from benchmarks import traffic
from epmgr.domain.model import ActionKind
from epmgr.simulate.billing import Run
from epmgr.simulate.engine import Params, simulate
from epmgr.simulate.specs import parse
from epmgr.simulate.traces import Stream

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc).timestamp()  # a Monday 09:00 UTC
MIN = 60.0
PARAMS = Params(price_per_hour=1.0, startup=240.0, latency=240.0, tick=60.0)


def run(spec: str, times: list[float], params: Params = PARAMS, *, stepping: bool = False) -> Run:
    policy = parse(spec).policy
    assert policy is not None
    return simulate(policy, Stream.of("t", times), replace(params, stepping=stepping), keep=True)


def acted(result: Run) -> list[tuple[float, ActionKind, str]]:
    return [((at - T0) / MIN, d.action, d.policy) for at, d in result.actions]


def test_fixed_timeout_by_hand() -> None:
    # Requests at 09:00, 09:01, 09:30 and 10:10. HF's scale to zero after 15 min without requests:
    # - up at 09:00 (pre-warmed), scaled to zero at 09:16: 4 min start-up + 16 min = 20 min;
    # - 09:30 finds it scaled to zero: a cold start (waits 4 min), serving at 09:34, scaled to zero at 09:45
    #   (15 min after the request that woke it): 4 + 11 = 15 min;
    # - 10:10 wakes it again (waits 4 min) at the end of the trace: 4 min. Total 39 replica-minutes.
    result = run("fixed:15m", [T0, T0 + MIN, T0 + 30 * MIN, T0 + 70 * MIN])
    assert result.billed_minutes == 39
    assert (result.cold_starts, result.waits) == (2, [240.0, 240.0])
    assert acted(result) == [(16.0, ActionKind.SCALE_TO_ZERO, "idle"), (45.0, ActionKind.SCALE_TO_ZERO, "idle")]


def test_always_on_is_one_stretch() -> None:
    result = run("always-on", [T0, T0 + 30 * MIN, T0 + 70 * MIN])
    assert (result.billed_minutes, result.cold_starts, result.actions) == (74, 0, [])


def test_a_paused_endpoint_is_woken_by_the_client_and_the_request_waits() -> None:
    result = run("two-stage:5m,10m", [T0, T0 + 40 * MIN])
    assert acted(result) == [(5.0, ActionKind.SCALE_TO_ZERO, "idle"), (10.0, ActionKind.PAUSE, "idle")]
    assert (result.cold_starts, result.waits, result.billed_minutes) == (1, [240.0], 9 + 4)


def test_a_request_during_a_start_waits_for_the_rest_of_it() -> None:
    result = run("fixed:5m", [T0, T0 + 20 * MIN, T0 + 21 * MIN])
    assert result.waits == [240.0, 180.0]
    assert result.cold_starts == 1  # one start, two requests waited for it


CONFIG = """
[daemon]
interval = "1m"

[[endpoints]]
name = "office"
scale_to_zero_after = "10m"
pause_after = "6h"
min_uptime = "0s"
schedule = {{ tz = "UTC", active = ["Mon-Fri 09:00-10:00"], on_start = "resume", on_end = "pause" }}
{budget}
"""


def test_a_configured_schedule_pre_warms_one_cold_start_ahead_and_pauses_at_the_edge(tmp_path: Path) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(CONFIG.format(budget=""))
    result = run(f"config:{path}#office", [T0 - 60 * MIN, T0 + 120 * MIN])
    assert acted(result) == [
        (-60.0, ActionKind.PAUSE, "schedule"),  # first seen in an off window whose edge was never handled
        (-4.0, ActionKind.RESUME, "schedule"),  # the measured cold start (4 min) ahead of 09:00
        (60.0, ActionKind.PAUSE, "schedule"),
    ]
    assert (result.cold_starts, result.waits) == (1, [240.0])  # 11:00 finds it paused


def test_a_budget_pauses_on_simulated_spend_and_its_hold_refuses_requests(tmp_path: Path) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(CONFIG.format(budget="budget = { daily_usd = 0.5, on_exceed = 'pause' }").replace("schedule", "#"))
    result = run(f"config:{path}#office", [T0 + m * MIN for m in (0, 5, 10, 15, 20, 25, 60)])
    # Up from 08:56 (pre-warmed for 09:00); $0.50 at $1/h is 30 minutes: paused at 09:26 until midnight.
    assert acted(result) == [(26.0, ActionKind.PAUSE, "budget")]
    assert (result.refused, result.cold_starts) == (1, 0)


def test_the_adaptive_keep_alive_explains_every_action() -> None:
    stream = traffic.periodic_batch(1, 2)
    policy = parse("adaptive").policy
    assert policy is not None
    result = simulate(policy, stream, PARAMS, keep=True)
    reasons = [d.reason for _, d in result.actions]
    assert any(r.startswith("pre-warm") and "bursts every 2h" in r for r in reasons), reasons
    assert any(r.startswith("stop now") for r in reasons), reasons
    assert all(d.policy in ("keepalive", "idle") and d.reason for _, d in result.actions)


GENERATED = [make(7, 3) for make in traffic.KINDS.values()]


@pytest.mark.parametrize("spec", ["always-on", "fixed:5m", "fixed:60m", "two-stage:10m,1h", "adaptive"])
@pytest.mark.parametrize("stream", GENERATED, ids=[s.name for s in GENERATED])
def test_event_driven_stepping_gives_what_stepping_every_tick_gives(spec: str, stream: Stream) -> None:
    policy = parse(spec).policy
    assert policy is not None
    jumping = simulate(policy, stream, PARAMS, keep=True)
    stepping = simulate(policy, stream, replace(PARAMS, stepping=True), keep=True)
    assert jumping.billed_minutes == stepping.billed_minutes
    assert (jumping.cold_starts, jumping.waits, jumping.requests) == (
        stepping.cold_starts,
        stepping.waits,
        stepping.requests,
    )
    assert [(at, d.action, d.reason) for at, d in jumping.actions] == [
        (at, d.action, d.reason) for at, d in stepping.actions
    ]
    assert jumping.decisions < stepping.decisions


def test_event_driven_stepping_with_a_schedule(tmp_path: Path) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(CONFIG.format(budget=""))
    stream = traffic.office_hours(3, 7)
    spec = parse(f"config:{path}#office")
    assert spec.policy is not None
    jumping = simulate(spec.policy, stream, PARAMS, keep=True)
    stepping = simulate(spec.policy, stream, replace(PARAMS, stepping=True), keep=True)
    assert [(at, d.action) for at, d in jumping.actions] == [(at, d.action) for at, d in stepping.actions]
    assert jumping.billed_minutes == stepping.billed_minutes
    assert any(d.policy == "schedule" for _, d in jumping.actions)


def test_an_empty_stream_costs_nothing() -> None:
    assert run("fixed:15m", []).billed_minutes == 0


def test_timestamps_are_utc_minutes() -> None:
    assert datetime.fromtimestamp(T0, timezone.utc).weekday() == 0
    assert timedelta(seconds=PARAMS.tick) == timedelta(minutes=1)
