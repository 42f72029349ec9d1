"""The proxy and the CLI's --wait paths at real HF time scales (accelerated clock shared with the emulator)."""

from __future__ import annotations

import re

import httpx
import pytest
from click.testing import CliRunner, Result

from epmgr.cli import cli
from epmgr.domain.model import EndpointState
from epmgr.emulator import FaultConfig
from epmgr.proxy import ProxyConfig, ProxyServer
from tests.realtime.conftest import Hf

WAKES = [(EndpointState.PAUSED, 270.0), (EndpointState.SCALED_TO_ZERO, 300.0)]
IDS = [s.value for s, _ in WAKES]


@pytest.mark.parametrize(("state", "takes_s"), WAKES, ids=IDS)
def test_a_minutes_long_wake_succeeds_through_the_proxy(hf: Hf, state: EndpointState, takes_s: float) -> None:
    hf.create("px-slow", state)
    started = hf.clock.now()
    with ProxyServer(ProxyConfig(clock=hf.clock)) as proxy:
        answer = httpx.post(f"{proxy.url}/px-slow/generate", json={"inputs": "a b"}, timeout=60)
    assert answer.status_code == 200 and answer.json() == {"generated_text": "echo: a b"}
    assert answer.headers["x-epmgr-cold-start"] == "true"
    assert hf.clock.since(started) >= takes_s  # it rode out the whole wake


def test_the_proxy_answers_504_naming_the_endpoint_when_the_wake_is_too_long(hf: Hf) -> None:
    hf.create("px-late", EndpointState.PAUSED)
    with ProxyServer(ProxyConfig(clock=hf.clock, wake_timeout=90)) as proxy:
        answer = httpx.post(f"{proxy.url}/px-late/generate", json={"inputs": "x"}, timeout=60)
    assert answer.status_code == 504
    assert answer.json()["error"].startswith("demo/px-late was not ready after")


def epmgr(hf: Hf, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=hf.env, catch_exceptions=False)


@pytest.mark.parametrize(("state", "takes_s"), WAKES, ids=IDS)
def test_resume_wait_rides_out_a_minutes_long_wake(hf: Hf, state: EndpointState, takes_s: float) -> None:
    hf.create("cli-slow", state)
    started = hf.clock.now()
    result = epmgr(hf, "resume", "cli-slow", "--wait", "--timeout", "10m")
    assert result.exit_code == 0, result.output
    assert "demo/cli-slow: resumed; now running" in result.output
    assert hf.clock.since(started) >= takes_s


def test_create_wait_and_wait_ride_out_a_fresh_deployment(hf: Hf) -> None:
    started = hf.clock.now()
    created = epmgr(
        hf, "create", "cli-new", "--repo", "openai-community/gpt2", "--vendor", "aws", "--region", "us-east-1",
        "--accelerator", "cpu", "--instance-type", "intel-spr", "--instance-size", "x1", "--task",
        "text-generation", "--wait",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert hf.clock.since(started) >= 270
    hf.api.pause("cli-new")
    hf.api.resume("cli-new")
    started = hf.clock.now()
    waited = epmgr(hf, "wait", "cli-new", "--timeout", "6m")
    assert waited.exit_code == 0, waited.output
    assert "demo/cli-new: ready; now running" in waited.output
    assert hf.clock.since(started) >= 260


def test_wait_past_its_timeout_is_one_line_naming_state_and_time(hf: Hf) -> None:
    hf.create("cli-asleep", EndpointState.SCALED_TO_ZERO)
    result = CliRunner().invoke(cli, ["wait", "cli-asleep", "--timeout", "2m"], env=hf.env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert re.fullmatch(
        r"Error: demo/cli-asleep was not ready after (\d+\.\d)s of waiting; last state scaledToZero "
        r"\(a scaled-to-zero endpoint wakes on a request or `epmgr resume`\)",
        lines[-1],
    )
    assert float(re.findall(r"after ([\d.]+)s", lines[-1])[0]) >= 120
    assert "Traceback" not in result.output


def test_wait_outlives_an_api_failing_most_of_the_time(hf: Hf) -> None:
    hf.create("cli-flaky", EndpointState.PAUSED)
    hf.api.resume("cli-flaky")
    hf.server.faults.configure(FaultConfig(rate=0.6, kinds=("503",), seed=11))
    result = epmgr(hf, "wait", "cli-flaky", "--timeout", "10m")
    assert result.exit_code == 0, result.output
    assert "demo/cli-flaky: ready; now running" in result.output
    assert hf.server.faults.injected["503"] >= 10
