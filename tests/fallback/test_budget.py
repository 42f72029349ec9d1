"""Acceptance (issue 14): an endpoint paused by its budget (on_exceed = "pause") keeps answering through its
serverless fallback, without a resume, and `epmgr cost` shows what the fallback answers cost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from epmgr.cli import cli
from epmgr.clock import SystemClock
from epmgr.domain.model import EndpointRef, EndpointState, Hold
from epmgr.emulator import DEMO_USER
from epmgr.fallback import FallbackClient
from tests.client.world import World
from tests.fallback.test_chain_emulator import CHAT, PHI3


def test_a_budget_paused_endpoint_answers_from_the_router_and_the_cost_report_shows_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.create("capped-fb", EndpointState.PAUSED)
    ledger = world.ledger()
    now = SystemClock().now()
    # What the daemon writes when a budget with on_exceed = "pause" is spent (epmgr.service)
    ledger.place_hold(
        Hold(EndpointRef(DEMO_USER, "capped-fb"), "budget", "daily $5 spent", now, now + timedelta(hours=3))
    )
    ledger.close()
    monkeypatch.setenv("EPMGR_HF_ROUTER_URL", world.server.url)
    with FallbackClient("capped-fb", fallback=[PHI3]) as client:
        answers = [client.chat_completion(CHAT, max_tokens=8) for _ in range(5)]
        text = client.text_generation("raw words here", max_new_tokens=8)
        assert not client.waking  # over budget: never woken
    assert {a.served_by for a in answers} == {PHI3} and text.served_by == PHI3
    assert text == "echo: raw words here"
    assert "POST /v2/endpoint/{namespace}/{name}/resume" not in world.counts()
    result = CliRunner().invoke(cli, ["cost", "--offline", "--json"], env=world.env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fallbacks = json.loads(result.output)["fallbacks"]
    assert [(f["endpoint"], f["served_by"], f["requests"]) for f in fallbacks] == [("capped-fb", PHI3, 6)]
    assert float(fallbacks[0]["usd"]) > 0  # serverless is priced per token by default
    table = CliRunner().invoke(cli, ["cost", "--offline"], env=world.env, catch_exceptions=False).output
    assert f"capped-fb  {PHI3}  6 requests" in table and "fallbacks cost $" in table
