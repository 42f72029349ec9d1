"""A refusal's ``Retry-After`` (seconds or HTTP date, or ``RateLimit`` ``t=``) is honoured within the call's deadline.

HF's rate-limit window is 300 s: a wait that ends before the deadline is waited in full (no 60 s cap any more);
one that does not fails at once, saying when to retry. Time is a fake clock; respx injects the refusals.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
import respx

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.deadline import within
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointState
from epmgr.errors import ApiUnavailable
from tests.adapters.test_retries import BASE, ENDPOINT_JSON

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
ROUTE = f"{BASE}/v2/endpoint/ns/ep"


class Clocks:
    """A monotonic clock and a wall clock that move together, only when the adapter sleeps."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.mono - 1000.0)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.mono += seconds


def api(clocks: Clocks, call_timeout_s: float = 60.0) -> HfEndpointsAPI:
    return HfEndpointsAPI(
        token="hf_secret", namespace="ns", api_url=BASE, backoff=Backoff(base_s=1.0, cap_s=4.0, attempts=4),
        sleep=clocks.sleep, draw=lambda: 1.0, monotonic=clocks.monotonic, now=clocks.wall,
        call_timeout_s=call_timeout_s,
    )  # fmt: skip


def refused_then_ok(mock: respx.MockRouter, headers: dict[str, str], status: int = 429) -> respx.Route:
    return mock.get(ROUTE).mock(
        side_effect=[httpx.Response(status, headers=headers), httpx.Response(200, json=ENDPOINT_JSON)]
    )


def http_date(at: datetime) -> str:
    return format_datetime(at, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"Retry-After": http_date(T0 + timedelta(seconds=12))}, 12.0),
        ({"Retry-After": http_date(T0 - timedelta(minutes=5))}, 0.0),  # a date already past: retry now
        ({"Retry-After": "45"}, 45.0),
        ({"RateLimit": '"api";r=0;t=20'}, 20.0),
    ],
    ids=["http-date", "date-past", "seconds", "ratelimit-t"],
)
def test_the_wait_asked_for_is_waited(headers: dict[str, str], waited: float) -> None:
    clocks = Clocks()
    with respx.mock() as mock:
        route = refused_then_ok(mock, headers)
        assert api(clocks).get("ep").state == EndpointState.RUNNING
    assert route.call_count == 2 and clocks.sleeps == [waited]


def test_a_wait_over_a_minute_is_honoured_in_full_when_the_deadline_allows() -> None:
    clocks = Clocks()
    with respx.mock() as mock:
        refused_then_ok(mock, {"Retry-After": "240"}, status=503)
        assert api(clocks, call_timeout_s=300.0).get("ep").ref.name == "ep"
    assert clocks.sleeps == [240.0]  # was min(Retry-After, 60): a retry inside HF's window, refused again


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "120"}, {"Retry-After": http_date(T0 + timedelta(seconds=120))}, {"RateLimit": "t=120"}],
    ids=["seconds", "http-date", "ratelimit-t"],
)
def test_a_wait_past_the_deadline_fails_at_once_saying_when_to_retry(headers: dict[str, str]) -> None:
    clocks = Clocks()
    with respx.mock() as mock:
        route = refused_then_ok(mock, headers)
        with pytest.raises(ApiUnavailable) as caught:
            api(clocks).get("ep")
    assert route.call_count == 1 and clocks.sleeps == []
    message = str(caught.value)
    assert message.startswith("get ns/ep: the HF API asks to retry in 120 s (at 03:02:00 UTC), more than the 60 s")
    assert caught.value.status_code == 429 and "hf_secret" not in message


def test_the_callers_deadline_is_the_bound_too() -> None:
    clocks = Clocks()
    with respx.mock() as mock:
        route = refused_then_ok(mock, {"Retry-After": "45"})
        with within(30.0, monotonic=clocks.monotonic), pytest.raises(ApiUnavailable, match="retry after 03:00:45"):
            api(clocks).get("ep")
    assert route.call_count == 1 and clocks.sleeps == []
