"""The adapter survives 429s, 5xx, timeouts and resets, and says clearly when it gives up."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import respx

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.deadline import within
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointSpec, EndpointState, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, FaultConfig
from epmgr.errors import ApiError, ApiUnavailable, AuthError, BadRequest
from tests.adapters.conftest import FAST, adapter_for

BASE = "http://hf.test"
ENDPOINT_JSON = {
    "name": "ep",
    "type": "authenticated",
    "healthRoute": "/health",
    "model": {"repository": "gpt2", "framework": "pytorch", "revision": None, "task": None, "image": {}},
    "compute": {"accelerator": "cpu", "instanceType": "intel-spr", "instanceSize": "x1", "scaling": {}},
    "provider": {"vendor": "aws", "region": "us-east-1"},
    "status": {"state": "running", "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"},
}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def mocked_api(sleeps: Sleeps, attempts: int = 4) -> HfEndpointsAPI:
    backoff = Backoff(base_s=1.0, cap_s=4.0, attempts=attempts, max_retry_after_s=30.0)
    return HfEndpointsAPI(
        token="hf_secret", namespace="ns", api_url=BASE, backoff=backoff, sleep=sleeps, draw=lambda: 1.0
    )


def test_thirty_percent_faults_every_call_still_succeeds() -> None:
    faults = FaultConfig(rate=0.3, kinds=("429", "500", "503", "slow"), seed=7, slow_seconds=0.01, retry_after=0)
    with EmulatorServer(timings=FAST, faults=faults, access_log=False) as server:
        api = adapter_for(server, backoff=Backoff(base_s=0.001, cap_s=0.01, attempts=8, max_retry_after_s=0.01))
        clean = adapter_for(server)
        spec = EndpointSpec("flaky", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1"))
        assert api.create(spec).ref.name == "flaky"
        operations = 60
        for i in range(operations):
            if i % 3 == 0:
                assert [s.ref.name for s in api.list_endpoints()] == ["flaky"]
            else:
                assert api.get("flaky").ref.name == "flaky"
        assert api.pause("flaky").state == EndpointState.PAUSED
        assert api.resume("flaky").state in (EndpointState.PENDING, EndpointState.INITIALIZING)
        assert clean.get("flaky").state != EndpointState.PAUSED
        retried = api.calls - (operations + 3)
        assert retried > 0.15 * (operations + 3)  # faults really happened, and were ridden out


def test_a_retried_create_that_meets_409_returns_the_created_endpoint() -> None:
    sleeps = Sleeps()
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{BASE}/v2/endpoint/ns").mock(
            side_effect=[httpx.Response(502), httpx.Response(409, json={"error": "already exists"})]
        )
        mock.get(f"{BASE}/v2/endpoint/ns/ep").respond(json=ENDPOINT_JSON)
        created = mocked_api(sleeps).create(
            EndpointSpec("ep", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1"))
        )
    assert created.state == EndpointState.RUNNING and len(sleeps) == 1


def test_retry_after_is_honoured_and_backoff_is_capped() -> None:
    sleeps = Sleeps()
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/v2/endpoint/ns/ep").mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(429, headers={"RateLimit": '"api";r=0;t=3'}),
                httpx.Response(503),
                httpx.Response(200, json=ENDPOINT_JSON),
            ]
        )
        assert mocked_api(sleeps).get("ep").state == EndpointState.RUNNING
    assert route.call_count == 4
    assert sleeps == [7.0, 3.0, 4.0]  # Retry-After, RateLimit t=, then min(cap 4, 1 * 2**2) with draw 1.0


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset by peer")],
    ids=["connect-refused", "read-timeout", "connection-reset"],
)
def test_network_failures_are_retried_then_reported(failure: Exception) -> None:
    sleeps = Sleeps()
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/v2/endpoint/ns/ep").mock(side_effect=failure)
        with pytest.raises(ApiUnavailable, match="get ns/ep") as caught:
            mocked_api(sleeps, attempts=3).get("ep")
    assert route.call_count == 3 and len(sleeps) == 2
    assert "hf_secret" not in str(caught.value)


def test_5xx_gives_up_after_the_attempts_with_a_clear_error() -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/v2/endpoint/ns/ep/pause").respond(500, json={"error": "boom"})
        with pytest.raises(ApiUnavailable, match=r"pause ns/ep: the HF API is unavailable \(500: boom\)"):
            mocked_api(Sleeps(), attempts=2).pause("ep")


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(status: int) -> None:
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/v2/endpoint/ns/ep").respond(status, json={"error": "no"})
        with pytest.raises((BadRequest, AuthError, LookupError)):
            mocked_api(Sleeps()).get("ep")
    assert route.call_count == 1


def test_the_token_goes_on_every_call_and_never_into_repr() -> None:
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/v2/endpoint/ns/ep").respond(json=ENDPOINT_JSON)
        api = mocked_api(Sleeps())
        api.get("ep")
    assert route.calls.last.request.headers["authorization"] == "Bearer hf_secret"
    assert "hf_secret" not in repr(api)


def test_without_a_namespace_whoami_is_asked_once(emulator: EmulatorServer) -> None:
    api = HfEndpointsAPI(token=DEMO_TOKEN, api_url=emulator.url)
    assert api.namespace == DEMO_USER
    api.list_endpoints()
    api.list_endpoints()
    assert api.calls == 3  # one whoami, two lists


def test_pages_of_the_list_are_followed() -> None:
    first = {"items": [ENDPOINT_JSON], "nextCursor": "c2"}
    second = {"items": [{**ENDPOINT_JSON, "name": "ep2"}]}
    with respx.mock() as mock:
        mock.get(f"{BASE}/v2/endpoint/ns", params={"cursor": "c2"}).respond(json=second)
        listed = mock.get(f"{BASE}/v2/endpoint/ns").respond(json=first)
        names = [s.ref.name for s in mocked_api(Sleeps()).list_endpoints()]
    assert names == ["ep", "ep2"]
    assert listed.calls[0].request.url.params["limit"] == "100"  # fewer round trips than the route's default 20


class FakeMonotonic:
    """A monotonic clock that moves only when a (fake) request or sleep takes time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def hanging_api(clock: FakeMonotonic, call_timeout_s: float = 60.0) -> HfEndpointsAPI:
    backoff = Backoff(base_s=1.0, cap_s=4.0, attempts=5)
    return HfEndpointsAPI(
        token="hf_secret", namespace="ns", api_url=BASE, backoff=backoff, sleep=clock.sleep, draw=lambda: 1.0,
        monotonic=clock, call_timeout_s=call_timeout_s,
    )  # fmt: skip


def never_answers(clock: FakeMonotonic, timeouts: list[float]) -> Callable[[httpx.Request], httpx.Response]:
    """A server that never answers: each request waits out its own read timeout, then times out."""

    def side_effect(request: httpx.Request) -> httpx.Response:
        read = float(request.extensions["timeout"]["read"])
        timeouts.append(read)
        clock.now += read
        raise httpx.ReadTimeout("no answer", request=request)

    return side_effect


def test_an_api_that_never_answers_fails_within_the_call_timeout() -> None:
    clock, timeouts = FakeMonotonic(), list[float]()
    with respx.mock() as mock:
        mock.post(f"{BASE}/v2/endpoint/ns/ep/pause").mock(side_effect=never_answers(clock, timeouts))
        started = clock.now
        with pytest.raises(ApiUnavailable, match="pause ns/ep"):
            hanging_api(clock, call_timeout_s=45.0).pause("ep")
    assert clock.now - started <= 45.0  # was 5 x 30 s + backoff = 156 s
    assert timeouts[0] == 30.0 and all(t <= 30.0 for t in timeouts)  # the default read timeout, then what is left


def test_a_caller_deadline_bounds_every_request_and_stops_the_retries() -> None:
    clock, timeouts = FakeMonotonic(), list[float]()
    with respx.mock() as mock:
        mock.post(f"{BASE}/v2/endpoint/ns/ep/pause").mock(side_effect=never_answers(clock, timeouts))
        started = clock.now
        with within(7.5, monotonic=clock), pytest.raises(ApiUnavailable, match="did not answer in time"):
            hanging_api(clock).pause("ep")
    assert timeouts == [7.5]  # the only request was given what the deadline left, and no retry was made
    assert clock.now - started == 7.5


def test_no_request_is_sent_once_the_deadline_has_passed() -> None:
    clock = FakeMonotonic()
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{BASE}/v2/endpoint/ns/ep/pause").respond(json=ENDPOINT_JSON)
        with within(0.0, monotonic=clock), pytest.raises(ApiUnavailable, match="deadline"):
            hanging_api(clock).pause("ep")
    assert route.call_count == 0


def test_a_request_timeout_status_is_retried_too() -> None:
    sleeps = Sleeps()
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/v2/endpoint/ns/ep").mock(
            side_effect=[httpx.Response(408), httpx.Response(200, json=ENDPOINT_JSON)]
        )
        assert mocked_api(sleeps).get("ep").ref.name == "ep"
    assert route.call_count == 2 and sleeps == [1.0]


def test_a_retried_delete_that_meets_404_is_done_but_a_first_404_is_not_found() -> None:
    sleeps = Sleeps()
    with respx.mock() as mock:
        route = mock.delete(f"{BASE}/v2/endpoint/ns/ep").mock(
            side_effect=[httpx.Response(503), httpx.Response(404, json={"error": "gone"}), httpx.Response(404)]
        )
        mocked_api(sleeps).delete("ep")
        with pytest.raises(LookupError, match="ns/ep was not found"):
            mocked_api(sleeps).delete("ep")
    assert route.call_count == 3


@pytest.mark.parametrize("answer", [{"type": "user"}, {"name": None}, ["demo"]], ids=["no-name", "null", "list"])
def test_a_whoami_without_a_name_is_one_clear_error(answer: object) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/api/whoami-v2").respond(json=answer)
        api = HfEndpointsAPI(token="hf_secret", api_url=BASE, backoff=Backoff(attempts=2), sleep=Sleeps())
        with pytest.raises(ApiError, match="find the default namespace: .* answered 200 with JSON that is not"):
            api.list_endpoints()


def test_the_token_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with respx.mock() as mock:
        mock.get(f"{BASE}/v2/endpoint/ns/ep").mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json=ENDPOINT_JSON)]
        )
        mocked_api(Sleeps()).get("ep")
    assert caplog.records and "hf_secret" not in caplog.text
