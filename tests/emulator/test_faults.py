"""Fault injection: seeded, roughly at the configured rate, only on /v2, with real rate-limit headers."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from epmgr.emulator import EmulatorServer, FaultConfig, FaultInjector


def draws(config: FaultConfig, count: int) -> list[str | None]:
    injector = FaultInjector(config)
    return [injector.draw() for _ in range(count)]


def test_the_rate_is_roughly_honoured_and_kinds_are_uniform() -> None:
    faults = draws(FaultConfig(rate=0.3, seed=1), 4000)
    kinds = Counter(f for f in faults if f is not None)
    assert 0.27 < sum(kinds.values()) / len(faults) < 0.33
    assert set(kinds) == {"429", "500", "503", "slow"}
    assert all(0.2 < n / sum(kinds.values()) < 0.3 for n in kinds.values())


def test_the_same_seed_gives_the_same_faults() -> None:
    config = FaultConfig(rate=0.5, kinds=("429", "503"), seed=42)
    assert draws(config, 200) == draws(config, 200)
    assert draws(config, 200) != draws(FaultConfig(rate=0.5, kinds=("429", "503"), seed=43), 200)


def test_rate_zero_never_faults_and_rate_one_always_does() -> None:
    assert set(draws(FaultConfig(rate=0, seed=1), 100)) == {None}
    assert set(draws(FaultConfig(rate=1, kinds=("500",), seed=1), 100)) == {"500"}


@pytest.mark.parametrize(
    "bad",
    [{"rate": 1.5}, {"kinds": ("418",)}, {"kinds": ()}, {"slow_seconds": -1}],
    ids=["rate", "unknown-kind", "no-kind", "negative-delay"],
)
def test_invalid_configurations_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultConfig(**bad)  # type: ignore[arg-type]


def test_faults_over_http_hit_only_management_calls(http: httpx.Client) -> None:
    configured = http.put("/_emulator/faults", json={"rate": 0.5, "kinds": ["429", "500", "503"], "seed": 3})
    assert configured.status_code == 200 and configured.json()["rate"] == 0.5
    statuses = Counter(http.get("/v2/endpoint/demo").status_code for _ in range(200))
    assert 70 < statuses[200] < 130
    assert set(statuses) == {200, 429, 500, 503}
    assert {http.get("/api/agent-harnesses").status_code for _ in range(30)} == {200}
    assert {http.get("/_emulator/requests").status_code for _ in range(30)} == {200}
    reported = http.get("/_emulator/faults").json()
    assert sum(reported["injected"].values()) == 200 - statuses[200]


def test_a_429_carries_retry_after_and_ratelimit_headers(http: httpx.Client, hf_api: HfApi) -> None:
    http.put("/_emulator/faults", json={"rate": 1, "kinds": ["429"], "retry_after": 7})
    response = http.get("/v2/endpoint/demo")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.headers["RateLimit"] == '"api";r=0;t=7'
    assert response.headers["RateLimit-Policy"] == '"fixed window";"api";q=500;w=300'
    with pytest.raises(HfHubHTTPError) as caught:  # huggingface_hub parses the headers into its message
        hf_api.list_inference_endpoints(namespace="demo")
    assert "reached your 'api' rate limit" in str(caught.value)
    assert "Retry after 7 seconds (0/500 requests remaining in current 300s window)" in str(caught.value)
    assert caught.value.response.status_code == 429


def test_a_slow_fault_delays_a_normal_answer(http: httpx.Client) -> None:
    http.put("/_emulator/faults", json={"rate": 1, "kinds": ["slow"], "slow_seconds": 0.2})
    started = time.monotonic()
    assert http.get("/v2/endpoint/demo").json() == {"items": []}
    assert time.monotonic() - started >= 0.2


def test_a_bad_fault_configuration_is_a_400(http: httpx.Client) -> None:
    for payload in ({"rate": 2}, {"kinds": ["teapot"]}, {"nope": 1}, ["rate"]):
        response = http.put("/_emulator/faults", json=payload)
        assert response.status_code == 400 and "Invalid fault configuration" in response.json()["error"]


def test_faults_can_be_given_when_the_server_starts() -> None:
    config = FaultConfig(rate=1, kinds=("503",), seed=0)
    with EmulatorServer(faults=config, access_log=False) as server:
        assert httpx.get(f"{server.url}/v2/endpoint/demo").status_code == 503
        assert server.faults.injected == Counter({"503": 1})
