"""One contract, through the real HF adapter: against the emulator always, against real HF when asked.

Live run (creates, pauses, resumes and deletes a small CPU endpoint; it costs a few cents):
    EPMGR_LIVE_HF=1 HF_TOKEN=hf_... EPMGR_LIVE_NAMESPACE=my-org pytest tests/adapters/test_contract.py
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.model import EndpointChanges, EndpointSnapshot, EndpointSpec, EndpointState, Instance
from epmgr.emulator import EmulatorServer
from epmgr.errors import AlreadyRunning, AuthError, BadRequest, ConflictError, EndpointNotFound
from tests.adapters.conftest import FAST, adapter_for

LIVE = os.environ.get("EPMGR_LIVE_HF") == "1"
LIVE_TOKEN = os.environ.get("HF_TOKEN")
LIVE_NAMESPACE = os.environ.get("EPMGR_LIVE_NAMESPACE")
CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")


@dataclass
class Target:
    """Where the contract runs: the adapter, and how long transitions may take there."""

    api: HfEndpointsAPI
    patience_s: float
    bad_token_api: HfEndpointsAPI


@pytest.fixture(params=["emulator", pytest.param("hf_live", marks=pytest.mark.live)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "emulator":
        with EmulatorServer(timings=FAST, access_log=False) as server:
            yield Target(adapter_for(server), 10.0, adapter_for(server, token="hf_wrong"))
        return
    if not (LIVE and LIVE_TOKEN and LIVE_NAMESPACE):
        pytest.skip("live HF contract: set EPMGR_LIVE_HF=1, HF_TOKEN and EPMGR_LIVE_NAMESPACE")
    yield Target(
        HfEndpointsAPI(token=LIVE_TOKEN, namespace=LIVE_NAMESPACE),
        1200.0,
        HfEndpointsAPI(token="hf_wrong", namespace=LIVE_NAMESPACE),
    )


@pytest.fixture
def endpoint(target: Target) -> Iterator[EndpointSnapshot]:
    """A fresh CPU endpoint, deleted afterwards."""
    name = f"contract-{uuid.uuid4().hex[:8]}"
    spec = EndpointSpec(name=name, repository="openai-community/gpt2", instance=CPU, task="text-generation")
    created = target.api.create(spec)
    yield created
    with contextlib.suppress(EndpointNotFound):
        target.api.delete(name)


def until(target: Target, name: str, accept: Callable[[EndpointSnapshot], bool]) -> EndpointSnapshot:
    deadline = time.monotonic() + target.patience_s
    while True:
        snapshot = target.api.get(name)
        if accept(snapshot):
            return snapshot
        assert time.monotonic() < deadline, f"{name} stayed {snapshot.state.value}"
        time.sleep(min(0.05 * target.patience_s, 5.0))


def running(target: Target, name: str) -> EndpointSnapshot:
    return until(target, name, lambda s: s.state == EndpointState.RUNNING and target.api.is_healthy(s))


def test_create_starts_pending_without_url_then_runs_with_one(target: Target, endpoint: EndpointSnapshot) -> None:
    assert endpoint.state in (EndpointState.PENDING, EndpointState.INITIALIZING)
    assert endpoint.url is None
    assert endpoint.instance == CPU and endpoint.repository == "openai-community/gpt2"
    ready = running(target, endpoint.ref.name)
    assert ready.url and ready.ready_replicas >= 1 and ready.created_at is not None
    assert ready.ref.namespace == target.api.namespace


def test_list_returns_the_namespace_in_one_call(target: Target, endpoint: EndpointSnapshot) -> None:
    before = target.api.calls
    names = {s.ref.name for s in target.api.list_endpoints()}
    assert endpoint.ref.name in names
    assert target.api.calls - before == 1


def test_pause_drops_the_url_and_resume_brings_the_same_one_back(target: Target, endpoint: EndpointSnapshot) -> None:
    name = endpoint.ref.name
    url = running(target, name).url
    paused = target.api.pause(name)
    assert paused.state == EndpointState.PAUSED and paused.url is None
    assert not target.api.is_healthy(paused)
    resumed = target.api.resume(name)
    assert resumed.state in (EndpointState.PENDING, EndpointState.INITIALIZING, EndpointState.RUNNING)
    assert running(target, name).url == url


def test_resume_of_a_running_endpoint(target: Target, endpoint: EndpointSnapshot) -> None:
    name = endpoint.ref.name
    running(target, name)
    assert target.api.resume(name, running_ok=True).state == EndpointState.RUNNING
    with pytest.raises(AlreadyRunning, match="resume .*already running"):
        target.api.resume(name, running_ok=False)


def test_scale_to_zero_keeps_the_url(target: Target, endpoint: EndpointSnapshot) -> None:
    name = endpoint.ref.name
    url = running(target, name).url
    scaled = target.api.scale_to_zero(name)
    assert scaled.state == EndpointState.SCALED_TO_ZERO and scaled.url == url


def test_update_merges_only_the_given_fields(target: Target, endpoint: EndpointSnapshot) -> None:
    name = endpoint.ref.name
    running(target, name)
    updated = target.api.update(name, EndpointChanges(min_replica=0, scale_to_zero_timeout_min=30))
    assert updated.min_replica == 0 and updated.scale_to_zero_timeout_min == 30
    assert updated.repository == "openai-community/gpt2" and updated.instance == CPU
    settled = until(target, name, lambda s: s.state == EndpointState.RUNNING)
    assert settled.max_replica == 1


def test_hardware_prices_the_instance(target: Target) -> None:
    options = [o for o in target.api.hardware() if o.matches(CPU)]
    assert len(options) == 1 and options[0].price_per_hour > 0


def test_delete_then_it_is_gone(target: Target, endpoint: EndpointSnapshot) -> None:
    target.api.delete(endpoint.ref.name)
    with pytest.raises(EndpointNotFound):
        target.api.get(endpoint.ref.name)


def test_errors_map_onto_the_tree(target: Target, endpoint: EndpointSnapshot) -> None:
    with pytest.raises(EndpointNotFound, match="not found"):
        target.api.get("no-such-endpoint-here")
    with pytest.raises(ConflictError):
        target.api.create(EndpointSpec(name=endpoint.ref.name, repository="openai-community/gpt2", instance=CPU))
    bad = Instance("aws", "us-east-1", "cpu", "c6i", "medium")
    with pytest.raises(BadRequest, match="Instance compute 'Cpu' - 'c6i' - 'medium' in 'aws' - 'us-east-1' not found"):
        target.api.create(EndpointSpec(name="contract-bad-instance", repository="openai-community/gpt2", instance=bad))
    with pytest.raises(AuthError, match="refused the token") as caught:
        target.bad_token_api.list_endpoints()
    assert "hf_wrong" not in str(caught.value)
