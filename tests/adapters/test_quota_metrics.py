"""The adapter over quota refusals (one clear error, never retried) and over the endpoint metrics route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.adapters.hf_metrics import request_counts
from epmgr.adapters.hf_quota import is_quota_refusal
from epmgr.clock import FakeClock
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointChanges, EndpointSpec, Instance
from epmgr.emulator import DEMO_TOKEN, EmulatorServer, EmulatorTimings
from epmgr.errors import BadRequest, EndpointNotFound, QuotaExceeded
from tests.adapters.conftest import adapter_for

T4 = Instance("aws", "us-east-1", "gpu", "nvidia-t4", "x4")
CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")
T0 = datetime(2026, 5, 19, 12, 0, tzinfo=timezone.utc)
SLOW = EmulatorTimings(pending=60, initializing=240, scale_up=180, update=120, minute=60)


@pytest.fixture
def clocked() -> Iterator[EmulatorServer]:
    with EmulatorServer(timings=SLOW, clock=FakeClock(T0), access_log=False) as server:
        yield server


def spec(name: str, instance: Instance = T4, max_replica: int = 1) -> EndpointSpec:
    return EndpointSpec(name=name, repository="gpt2", instance=instance, max_replica=max_replica)


def test_a_resume_past_the_quota_names_the_instance_type_and_the_quota(
    api: HfEndpointsAPI, emulator: EmulatorServer
) -> None:
    api.create(spec("monday"))
    api.pause("monday")
    api.create(spec("someone-else"))  # takes the 4 GPUs the paused endpoint freed
    calls = api.calls
    with pytest.raises(QuotaExceeded) as caught:
        api.resume("monday")
    refusal = caught.value
    assert str(refusal) == (
        "resume demo/monday: quota exceeded for nvidia-t4 x4 in aws/us-east-1: it needs 4 accelerator(s), 4 of "
        "the 4 allowed for nvidia-t4 are in use; pause or delete another endpoint, or ask HF for more quota"
    )
    assert (refusal.limit, refusal.used, refusal.needed, refusal.instance) == (4, 4, 4, str(T4))
    assert refusal.status_code == 400 and "Quota exceeded" in refusal.server_message
    assert api.calls - calls == 3  # the refused resume (never retried), the GET, the hardware listing
    assert api.get("monday").state.value == "paused"


def test_create_and_update_past_the_quota(api: HfEndpointsAPI, emulator: EmulatorServer) -> None:
    with pytest.raises(QuotaExceeded, match="it needs 8 accelerator"):
        api.create(spec("too-big", max_replica=2))
    api.create(spec("small", Instance("aws", "us-east-1", "gpu", "nvidia-t4", "x1")))
    with pytest.raises(QuotaExceeded, match=r"nvidia-t4 x1 in aws/us-east-1: it needs 5 accelerator\(s\), 1 of the 4"):
        api.update("small", EndpointChanges(max_replica=5))


def test_a_quota_refusal_as_a_429_is_not_retried(api: HfEndpointsAPI, emulator: EmulatorServer) -> None:
    httpx.put(f"{emulator.url}/_emulator/behaviour", json={"quota_status": 429}).raise_for_status()
    httpx.put(f"{emulator.url}/_emulator/quota", json={"gpu": 0}).raise_for_status()
    calls = api.calls
    with pytest.raises(QuotaExceeded, match="0 of the 0 allowed") as caught:
        api.create(spec("none"))
    assert caught.value.status_code == 429 and api.calls - calls == 2  # the create and the hardware listing


def test_quota_refusals_are_told_apart_by_their_text() -> None:
    assert is_quota_refusal(400, "Quota exceeded for instance type 'nvidia-t4'")
    assert is_quota_refusal(403, "Not enough QUOTA")
    assert not is_quota_refusal(400, "Endpoint ep is already running")
    assert not is_quota_refusal(503, "quota service down")


def test_other_bad_requests_stay_bad_requests(api: HfEndpointsAPI) -> None:
    with pytest.raises(BadRequest, match="not found") as caught:
        api.create(spec("old-names", Instance("aws", "us-east-1", "cpu", "c6i", "medium")))
    assert not isinstance(caught.value, QuotaExceeded)


def test_request_counts_include_requests_that_bypassed_epmgr(clocked: EmulatorServer) -> None:
    api = adapter_for(clocked, backoff=Backoff(base_s=0.01, cap_s=0.05, attempts=3, max_retry_after_s=0.05))
    api.create(spec("shared", CPU))
    clock = clocked.state.clock
    assert isinstance(clock, FakeClock)
    clock.advance(timedelta(seconds=SLOW.pending + SLOW.initializing))
    url = api.get("shared").url
    assert url is not None
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    for _ in range(3):  # a teammate's curl, straight to the URL
        assert httpx.post(url, json={"inputs": "hi"}, headers=headers).status_code == 200
    clock.advance(timedelta(minutes=1))
    assert httpx.post(url, json={"inputs": "hi"}, headers=headers).status_code == 200
    start = int(T0.timestamp()) + 300
    counts = api.request_counts("shared", start=start, end=start + 180)
    assert counts == [
        (datetime.fromtimestamp(start, timezone.utc), 3),
        (datetime.fromtimestamp(start + 60, timezone.utc), 1),
        (datetime.fromtimestamp(start + 120, timezone.utc), 0),
    ]


def test_a_metrics_answer_of_another_shape_is_refused() -> None:
    assert request_counts({"data": {"result": []}}) == []
    summed = request_counts(
        {"data": {"result": [{"values": [[60, "2"], [120, "0"]]}, {"values": [[60, "1"], [120, "4"]]}]}}
    )
    assert [n for _, n in summed] == [3, 4]
    with pytest.raises(TypeError):
        request_counts({"items": []})
    with pytest.raises(TypeError):
        request_counts({"data": {"result": [{"values": [[60]]}]}})
    with pytest.raises(ValueError):
        request_counts({"data": {"result": [{"values": [[60, "many"]]}]}})


def test_the_metrics_route_of_an_unknown_endpoint_is_not_found(api: HfEndpointsAPI) -> None:
    with pytest.raises(EndpointNotFound):
        api.request_counts("nope", start=0, end=60)
