"""Billing on a FakeClock: per replica-minute in initializing/running/updating, rounded up per segment."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epmgr.clock import FakeClock
from epmgr.emulator import EmulatorState, EmulatorTimings, State
from epmgr.emulator.billing import billed_minutes, segment_cost, segments, total
from epmgr.emulator.lifecycle import BILLED_STATES
from epmgr.emulator.validation import ApiError
from tests.emulator.helpers import T0, body

ICL_X2 = Decimal("0.064")  # aws intel-icl x2, USD per replica-hour
TIMINGS = EmulatorTimings(pending=30, initializing=10, scale_up=10, update=20, minute=60)


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState(FakeClock(T0), TIMINGS)


def wait(state: EmulatorState, seconds: float) -> None:
    assert isinstance(state.clock, FakeClock)
    state.clock.advance(timedelta(seconds=seconds))


def bill(state: EmulatorState, name: str = "ep") -> list[tuple[float, float | None, int, int, Decimal]]:
    """(start s, end s, replicas, minutes, usd) per segment, times relative to T0."""
    (endpoint,) = [e for e in state.endpoints(include_deleted=True) if e.name == name]
    return [
        ((s.start - T0).total_seconds(), (s.end - T0).total_seconds() if s.end else None, s.replicas, s.minutes, s.usd)
        for s in state.segments(endpoint)
    ]


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(0, 0), (0.001, 1), (10, 1), (60, 1), (60.001, 2), (3600, 60), (3601, 61)],
)
def test_a_started_minute_is_a_billed_minute(seconds: float, minutes: int) -> None:
    assert billed_minutes(seconds) == minutes


def test_segment_cost_is_price_per_minute_rounded_half_up_to_six_decimals() -> None:
    assert segment_cost(1, 1, Decimal("0.067")) == Decimal("0.001117")  # 0.0011166...
    assert segment_cost(65, 1, ICL_X2) == Decimal("0.069333")
    assert segment_cost(60, 2, Decimal("4.5")) == Decimal("9.000000")
    assert segment_cost(1, 1, Decimal("0.00003")) == Decimal("0.000001")  # 0.0000005 rounds half up


def test_pending_is_free_and_initializing_plus_running_is_one_segment(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 30 + 10 + 50)  # pending 30 s, initializing 10 s, running 50 s
    state.pause("demo", "ep")
    assert bill(state) == [(30.0, 90.0, 1, 1, Decimal("0.001067"))]


def test_a_ten_second_cold_start_alone_costs_one_minute(state: EmulatorState) -> None:
    endpoint = state.create("demo", body(), user="demo")
    wait(state, 40 + 3600)
    state.scale_to_zero("demo", "ep")
    wait(state, 7200)
    state.request_arrived(endpoint)
    wait(state, 10)
    state.scale_to_zero("demo", "ep")  # scaled down again as soon as it ran
    assert [(minutes, usd) for *_, minutes, usd in bill(state)] == [
        (61, segment_cost(61, 1, ICL_X2)),  # 10 s initializing + 3600 s running
        (1, segment_cost(1, 1, ICL_X2)),  # the 10 s cold start
    ]


def test_paused_and_scaled_to_zero_time_costs_nothing(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 40)  # running from 40 s
    state.pause("demo", "ep")
    wait(state, 10 * 3600)
    state.resume("demo", "ep")
    wait(state, 40 + 120)  # pending 30 s, initializing 10 s, then 120 s running
    state.scale_to_zero("demo", "ep")
    wait(state, 10 * 3600)
    segments_ = bill(state)
    assert [(start, end, minutes) for start, end, _, minutes, _ in segments_] == [
        (30.0, 40.0, 1),
        (36040.0 + 30, 36040.0 + 160, 3),
    ]
    assert total(state.segments(state.get("demo", "ep"))) == segment_cost(1, 1, ICL_X2) + segment_cost(3, 1, ICL_X2)


def test_replicas_multiply_the_minutes(state: EmulatorState) -> None:
    state.create("demo", body(scaling={"minReplica": 3, "maxReplica": 4}), user="demo")
    wait(state, 40 + 3600)
    state.pause("demo", "ep")
    ((_, _, replicas, minutes, usd),) = bill(state)
    assert (replicas, minutes, usd) == (3, 61, Decimal("0.195200"))  # 183 replica-minutes at 0.064/h


def test_an_update_to_another_instance_starts_a_segment_at_the_new_price(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 40 + 600)
    state.update("demo", "ep", {"compute": {"instanceType": "intel-spr", "instanceSize": "x4"}})
    wait(state, 20 + 600)  # updating 20 s, then running
    state.pause("demo", "ep")
    assert bill(state) == [
        (30.0, 640.0, 1, 11, segment_cost(11, 1, ICL_X2)),
        (640.0, 1260.0, 1, 11, segment_cost(11, 1, Decimal("0.134"))),
    ]


def test_an_open_segment_is_billed_up_to_now(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 30 + 61)
    assert bill(state) == [(30.0, None, 1, 2, segment_cost(2, 1, ICL_X2))]


def test_a_deleted_endpoint_is_billed_until_its_deletion(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 30 + 300)
    state.delete("demo", "ep")
    wait(state, 10 * 3600)
    assert bill(state) == [(30.0, 330.0, 1, 5, segment_cost(5, 1, ICL_X2))]


def test_a_failed_endpoint_stops_costing(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 30 + 100)
    state.fail("demo", "ep")
    wait(state, 10 * 3600)
    assert bill(state) == [(30.0, 130.0, 1, 2, segment_cost(2, 1, ICL_X2))]


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["pause", "resume", "scale_to_zero", "request", "update", "wait"]),
        st.floats(min_value=0, max_value=4000, allow_nan=False),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(actions=ACTIONS, min_replica=st.sampled_from([0, 1, 2]))
def test_any_history_is_contiguous_and_billed_by_the_rule(actions: list[tuple[str, float]], min_replica: int) -> None:
    state = EmulatorState(FakeClock(T0), TIMINGS)
    scaling = {"minReplica": min_replica, "maxReplica": 2}
    if min_replica == 0:
        scaling["scaleToZeroTimeout"] = 5
    endpoint = state.create("demo", body(scaling=scaling), user="demo")
    for action, seconds in actions:
        wait(state, seconds)
        try:
            if action == "request":
                state.request_arrived(endpoint)
            elif action == "update":
                state.update("demo", "ep", {"tags": [str(seconds)]})
            elif action != "wait":
                getattr(state, action)("demo", "ep")
        except ApiError as refused:
            assert refused.status == 400
    now = state.now()
    phases = state.get("demo", "ep").lifecycle.phases
    for before, after in zip(phases, phases[1:], strict=False):
        assert before.end == after.start and before.start <= after.start
    billed_seconds = sum(
        ((p.end or now) - p.start).total_seconds() * p.replicas for p in phases if p.state in BILLED_STATES
    )
    billed = segments(phases, now)
    replica_minutes = sum(s.replica_minutes for s in billed)
    assert billed_seconds / 60 <= replica_minutes < billed_seconds / 60 + 2 * len(billed) + 1e-9
    assert all(p.replicas == 0 for p in phases if p.state not in BILLED_STATES)
    assert total(billed) == sum((s.usd for s in billed), Decimal(0))
    assert {p.state for p in phases} <= set(State)
