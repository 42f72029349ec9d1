"""The state machine on a FakeClock: every transition at its exact instant, no sleeping."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from epmgr.clock import FakeClock
from epmgr.emulator import EmulatorState, EmulatorTimings, State
from epmgr.emulator.validation import ApiError
from tests.emulator.helpers import SLOW, T0, body

MINUTE = timedelta(minutes=1)


def wait(state: EmulatorState, seconds: float) -> None:
    assert isinstance(state.clock, FakeClock)
    state.clock.advance(timedelta(seconds=seconds))


def history(state: EmulatorState, namespace: str = "demo", name: str = "ep") -> list[tuple[State, Any]]:
    endpoint = state.get(namespace, name)
    return [(p.state, p.start - T0) for p in endpoint.lifecycle.phases]


def test_create_is_pending_then_initializing_then_running_at_exact_instants(state: EmulatorState) -> None:
    endpoint = state.create("demo", body(), user="demo")
    assert endpoint.state is State.PENDING
    wait(state, SLOW.pending - 0.001)
    assert state.get("demo", "ep").state is State.PENDING
    wait(state, 0.001)
    assert state.get("demo", "ep").state is State.INITIALIZING
    wait(state, SLOW.initializing)
    assert state.get("demo", "ep").state is State.RUNNING
    assert history(state) == [
        (State.PENDING, timedelta(0)),
        (State.INITIALIZING, timedelta(seconds=60)),
        (State.RUNNING, timedelta(seconds=300)),
    ]


def test_a_late_look_replays_every_transition_at_its_own_instant(state: EmulatorState) -> None:
    state.create("demo", body(scaling={"minReplica": 0, "scaleToZeroTimeout": 30}), user="demo")
    wait(state, 10 * 3600)
    assert history(state) == [
        (State.PENDING, timedelta(0)),
        (State.INITIALIZING, timedelta(seconds=60)),
        (State.RUNNING, timedelta(seconds=300)),
        (State.SCALED_TO_ZERO, timedelta(seconds=300) + 30 * MINUTE),
    ]


def test_pause_is_immediate_and_resume_goes_through_pending_and_initializing(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 400)
    assert state.pause("demo", "ep").state is State.PAUSED
    assert state.pause("demo", "ep").state is State.PAUSED  # idempotent, no new phase
    wait(state, 1000)
    assert state.resume("demo", "ep").state is State.PENDING
    wait(state, SLOW.pending + SLOW.initializing)
    assert [s for s, _ in history(state)] == [
        State.PENDING,
        State.INITIALIZING,
        State.RUNNING,
        State.PAUSED,
        State.PENDING,
        State.INITIALIZING,
        State.RUNNING,
    ]


def test_resuming_a_running_endpoint_is_a_400_saying_already_running(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 300)
    with pytest.raises(ApiError) as caught:
        state.resume("demo", "ep")
    assert caught.value.status == 400 and "already running" in caught.value.message


@pytest.mark.parametrize("elapsed", [0, 100, 310], ids=["pending", "initializing", "updating"])
def test_resuming_an_endpoint_on_its_way_up_changes_nothing(state: EmulatorState, elapsed: float) -> None:
    state.create("demo", body(), user="demo")
    wait(state, elapsed)
    if elapsed > 300:
        state.update("demo", "ep", {"tags": ["x"]})
    before = history(state)
    state.resume("demo", "ep")
    assert history(state) == before


def test_scale_to_zero_keeps_the_endpoint_and_a_request_is_a_cold_start(state: EmulatorState) -> None:
    endpoint = state.create("demo", body(), user="demo")
    wait(state, 300)
    assert state.scale_to_zero("demo", "ep").state is State.SCALED_TO_ZERO
    wait(state, 5000)
    assert state.request_arrived(endpoint) is State.INITIALIZING
    wait(state, SLOW.scale_up - 1)
    assert state.current_state(endpoint) is State.INITIALIZING
    wait(state, 1)
    assert state.current_state(endpoint) is State.RUNNING


def test_resume_of_a_scaled_to_zero_endpoint_is_a_cold_start(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 300)
    state.scale_to_zero("demo", "ep")
    assert state.resume("demo", "ep").state is State.INITIALIZING
    wait(state, SLOW.scale_up)
    assert state.get("demo", "ep").state is State.RUNNING


def test_each_request_restarts_the_idle_timer(state: EmulatorState) -> None:
    endpoint = state.create("demo", body(scaling={"minReplica": 0, "scaleToZeroTimeout": 10}), user="demo")
    wait(state, 300)
    for _ in range(3):
        wait(state, 9 * 60)
        assert state.request_arrived(endpoint) is State.RUNNING
    wait(state, 10 * 60 - 1)
    assert state.current_state(endpoint) is State.RUNNING
    wait(state, 1)
    assert state.current_state(endpoint) is State.SCALED_TO_ZERO
    assert endpoint.lifecycle.current.start == T0 + timedelta(seconds=300 + 3 * 9 * 60 + 10 * 60)


def test_without_a_timeout_min_replica_0_scales_to_zero_after_15_minutes(state: EmulatorState) -> None:
    state.create("demo", body(scaling={"minReplica": 0}), user="demo")
    wait(state, 300 + 15 * 60 - 1)
    assert state.get("demo", "ep").state is State.RUNNING
    wait(state, 1)
    assert state.get("demo", "ep").state is State.SCALED_TO_ZERO


def test_min_replica_1_never_scales_to_zero_by_itself(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 30 * 24 * 3600)
    assert state.get("demo", "ep").state is State.RUNNING


def test_the_emulated_minute_scales_the_idle_timeout() -> None:
    state = EmulatorState(FakeClock(T0), EmulatorTimings(pending=0, initializing=0, minute=2))
    state.create("demo", body(scaling={"minReplica": 0, "scaleToZeroTimeout": 15}), user="demo")
    wait(state, 29.9)
    assert state.get("demo", "ep").state is State.RUNNING
    wait(state, 0.1)
    assert state.get("demo", "ep").state is State.SCALED_TO_ZERO


def test_zero_durations_make_a_new_endpoint_run_at_once() -> None:
    state = EmulatorState(FakeClock(T0), EmulatorTimings(pending=0, initializing=0))
    assert state.create("demo", body(), user="demo").state is State.RUNNING


def test_an_update_of_a_running_endpoint_goes_through_updating(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 300)
    updated = state.update("demo", "ep", {"compute": {"scaling": {"maxReplica": 2}}})
    assert updated.state is State.UPDATING
    wait(state, SLOW.update)
    assert state.get("demo", "ep").state is State.RUNNING


def test_an_update_merges_deeply_into_the_stored_configuration(state: EmulatorState) -> None:
    created = body(model={**body()["model"], "env": {"A": "1"}}, tags=["prod"])
    state.create("demo", created, user="demo")
    config = state.update(
        "demo", "ep", {"model": {"env": {"B": "2"}}, "compute": {"scaling": {"maxReplica": 3}}}
    ).config
    assert config["model"]["env"] == {"A": "1", "B": "2"}
    assert config["model"]["repository"] == "gpt2"
    assert config["compute"]["scaling"] == {"minReplica": 1, "maxReplica": 3, "scaleToZeroTimeout": None}
    assert config["compute"]["instanceType"] == "intel-icl" and config["tags"] == ["prod"]


def test_raising_min_replica_clears_a_stored_scale_to_zero_timeout(state: EmulatorState) -> None:
    state.create("demo", body(scaling={"minReplica": 0, "scaleToZeroTimeout": 15}), user="demo")
    config = state.update("demo", "ep", {"compute": {"scaling": {"minReplica": 1}}}).config
    assert config["compute"]["scaling"]["scaleToZeroTimeout"] is None


def test_raising_min_replica_of_a_scaled_to_zero_endpoint_wakes_it(state: EmulatorState) -> None:
    state.create("demo", body(scaling={"minReplica": 0}), user="demo")
    wait(state, 300)
    state.scale_to_zero("demo", "ep")
    assert state.update("demo", "ep", {"compute": {"scaling": {"minReplica": 1}}}).state is State.INITIALIZING


def test_a_paused_endpoint_stays_paused_through_an_update(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    state.pause("demo", "ep")
    assert state.update("demo", "ep", {"tags": ["x"]}).state is State.PAUSED


@pytest.mark.parametrize("injected", [State.FAILED, State.UPDATE_FAILED])
def test_a_failed_endpoint_refuses_resume_pause_and_scale_to_zero(state: EmulatorState, injected: State) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 300)
    failed = state.fail("demo", "ep", injected, "disk full")
    assert failed.state is injected and failed.message == "disk full"
    for operation in (state.resume, state.pause, state.scale_to_zero):
        with pytest.raises(ApiError) as caught:
            operation("demo", "ep")
        assert caught.value.status == 400
    wait(state, 10**6)
    assert state.get("demo", "ep").state is injected


def test_only_failure_states_can_be_injected(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    with pytest.raises(ApiError, match="updateFailed"):
        state.fail("demo", "ep", State.RUNNING)


def test_scale_to_zero_of_a_paused_endpoint_is_refused(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    state.pause("demo", "ep")
    with pytest.raises(ApiError, match="paused"):
        state.scale_to_zero("demo", "ep")


def test_a_deleted_endpoint_is_gone_but_stays_in_the_books(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    wait(state, 400)
    state.delete("demo", "ep")
    with pytest.raises(ApiError) as caught:
        state.get("demo", "ep")
    assert caught.value.status == 404
    (deleted,) = state.endpoints(include_deleted=True)
    assert deleted.deleted_at == T0 + timedelta(seconds=400)
    assert deleted.lifecycle.current.end == deleted.deleted_at


def test_a_name_can_be_reused_after_delete_with_a_new_url_id(state: EmulatorState) -> None:
    first = state.create("demo", body(), user="demo").endpoint_id
    state.delete("demo", "ep")
    second = state.create("demo", body(), user="demo").endpoint_id
    assert first != second
    assert len(first) == 16 and first.isalnum() and first == first.lower()


def test_a_duplicate_name_is_a_409(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    with pytest.raises(ApiError) as caught:
        state.create("demo", body(), user="demo")
    assert caught.value.status == 409
    assert state.create("acme", body(), user="demo").namespace == "acme"  # other namespace: fine


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "My_Endpoint"}, "Invalid endpoint name"),
        ({"name": "a" * 33}, "Invalid endpoint name"),
        ({"name": ""}, "Invalid endpoint name"),
        ({"type": "secret"}, "Invalid endpoint type"),
        (
            {"compute": {"accelerator": "cpu", "instanceType": "c6i", "instanceSize": "medium"}},
            "Instance compute 'Cpu' - 'c6i' - 'medium' in 'aws' - 'us-east-1' not found",
        ),
        ({"compute": {"accelerator": "gpu"}}, "Instance compute 'Gpu' - 'intel-icl' - 'x2'"),
        ({"provider": {"vendor": "aws", "region": "mars-1"}}, "in 'aws' - 'mars-1' not found"),
        ({"scaling": {"scaleToZeroTimeout": 15}}, "scaleToZeroTimeout requires minReplica to be 0"),
        ({"scaling": {"minReplica": 2, "maxReplica": 1}}, "minReplica must not exceed maxReplica"),
        ({"scaling": {"minReplica": 0, "scaleToZeroTimeout": 0}}, "scaleToZeroTimeout must be"),
        ({"model": {"framework": "pytorch"}}, "Missing required field 'model.repository'"),
        ({"compute": "big"}, "Field 'compute' must be an object"),
    ],
    ids=[
        "uppercase-name",
        "long-name",
        "empty-name",
        "type",
        "unknown-compute",
        "wrong-accelerator",
        "unknown-region",
        "timeout-with-min-replica",
        "min-above-max",
        "zero-timeout",
        "no-repository",
        "compute-not-object",
    ],
)
def test_invalid_configurations_are_a_400_with_a_message(
    state: EmulatorState, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiError) as caught:
        state.create("demo", body(**changes), user="demo")
    assert caught.value.status == 400
    assert message in caught.value.message


def test_protected_is_still_accepted_as_a_type(state: EmulatorState) -> None:
    assert state.create("demo", body(type="protected"), user="demo").config["type"] == "protected"


def test_an_invalid_update_leaves_the_configuration_unchanged(state: EmulatorState) -> None:
    state.create("demo", body(), user="demo")
    with pytest.raises(ApiError, match="not found"):
        state.update("demo", "ep", {"compute": {"instanceType": "c6i"}})
    with pytest.raises(ApiError, match="cannot be changed"):
        state.update("demo", "ep", {"name": "other"})
    assert state.get("demo", "ep").config["compute"]["instanceType"] == "intel-icl"


def test_unknown_endpoints_are_a_404_for_every_operation(state: EmulatorState) -> None:
    operations = [state.get, state.pause, state.resume, state.scale_to_zero, state.delete]
    for operation in operations:
        with pytest.raises(ApiError) as caught:
            operation("demo", "nope")
        assert caught.value.status == 404
