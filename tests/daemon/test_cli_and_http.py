"""`epmgr daemon --once`, `epmgr status`, `epmgr resume --force`, /healthz and /metrics, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from epmgr.daemon import Daemon
from epmgr.domain.model import EndpointRef, EndpointSpec, Hold
from epmgr.emulator import DEMO_USER
from epmgr.logs import configure
from tests.cli.conftest import Cli
from tests.cli.conftest import epmgr as epmgr  # noqa: F401 (the fixture)
from tests.daemon.conftest import CPU, World

CONFIG = """
[defaults]
scale_to_zero_after = "1s"
pause_after = "off"
min_uptime = "0s"

[[endpoints]]
name = "cli-ep"
budget = { daily_usd = 100 }
"""


def running(epmgr: Cli, name: str) -> None:
    api_result = epmgr("create", name, "--repo", "openai-community/gpt2", "--vendor", "aws", "--region",
                       "us-east-1", "--accelerator", "cpu", "--instance-type", "intel-spr", "--instance-size", "x1",
                       "--wait")  # fmt: skip
    assert api_result.exit_code == 0, api_result.output


def test_daemon_once_acts_and_status_shows_the_table(epmgr: Cli, tmp_path: Path) -> None:
    config = tmp_path / "epmgr.toml"
    config.write_text(CONFIG)
    running(epmgr, "cli-ep")
    status = epmgr("--config", str(config), "status")
    assert status.exit_code == 0, status.output
    assert "ENDPOINT" in status.output and "BUDGET LEFT" in status.output and f"{DEMO_USER}/cli-ep" in status.output
    assert "daemon: none running" in status.output
    time.sleep(1.1)  # scale_to_zero_after = "1s" since status first saw it

    dry = epmgr("--config", str(config), "daemon", "--once", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    data = json.loads(dry.output[dry.output.index("{") :])
    assert data["endpoints"][0]["decision"]["outcome"] == "dry_run"

    result = epmgr("--config", str(config), "daemon", "--once", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    assert data["endpoints"][0]["decision"]["action"] == "scale_to_zero"
    assert data["endpoints"][0]["decision"]["outcome"] == "ok"

    as_json = epmgr("--config", str(config), "status", "--json")
    row = json.loads(as_json.output)["endpoints"][0]
    assert row["state"] == "scaledToZero" and row["budget_left_usd"] is not None


def test_resume_refuses_a_budget_hold_without_force(epmgr: Cli) -> None:
    running(epmgr, "held-ep")
    assert epmgr("pause", "held-ep").exit_code == 0
    ledger = epmgr.ledger()
    ref = EndpointRef(DEMO_USER, "held-ep")
    now = datetime.now(timezone.utc)
    ledger.place_hold(
        Hold(ref, "budget", "endpoint daily budget: $20.00 of $20.00 spent", now, now + timedelta(hours=1))
    )
    refused = epmgr("resume", "held-ep")
    assert refused.exit_code == 1
    assert "held asleep" in refused.output and "--force" in refused.output and "daily budget" in refused.output
    forced = epmgr("resume", "held-ep", "--force")
    assert forced.exit_code == 0, forced.output
    assert "hold released" in forced.output
    assert ledger.active_hold(ref, datetime.now(timezone.utc)) is None
    ledger.close()


def test_healthz_and_metrics(world: World) -> None:
    world.api.create(EndpointSpec(name="metered", repository="openai-community/gpt2", instance=CPU))
    world.advance(seconds=1)
    settings = world.settings('[[endpoints]]\nname = "metered"\n')
    daemon = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="127.0.0.1:0")
    daemon.start_http()
    try:
        assert daemon.http_address is not None
        host, port = daemon.http_address
        base = f"http://{host}:{port}"
        assert daemon.tick() is not None
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["leader"] is True
        metrics = httpx.get(f"{base}/metrics").text
        assert 'epmgr_endpoints{state="running"} 1.0' in metrics
        assert "epmgr_last_tick_duration_seconds" in metrics
        assert 'epmgr_spend_usd{endpoint="demo/metered",period="today"}' in metrics
        world.advance(minutes=5)  # no tick for a while: stale
        assert httpx.get(f"{base}/healthz").status_code == 503
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        daemon.shutdown()
    assert world.ledger.lease("daemon") is None


def test_a_second_daemon_on_the_same_ledger_stays_on_standby(world: World) -> None:
    settings = world.settings("")
    first = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="a")
    second = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="b")
    assert first.tick() is not None and second.tick() is None
    world.advance(seconds=settings.daemon.lease_ttl.total_seconds() + 1)  # "a" died without renewing
    assert second.tick() is not None and first.tick() is None


def test_json_logs_carry_the_decision_fields(world: World) -> None:
    stream = io.StringIO()
    configure("json", stream=stream)
    try:
        world.create("logged")
        settings = world.settings(
            '[daemon]\ninterval = "10m"\n[defaults]\nscale_to_zero_after = "1m"\nmin_uptime = "0s"\n'
            '[[endpoints]]\nname = "logged"\n'
        )
        daemon = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="")
        daemon.tick()
        world.advance(minutes=2)
        daemon.tick()
    finally:
        configure("text", stream=io.StringIO(), level=logging.WARNING)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    acted = [line for line in lines if line.get("action") == "scale_to_zero"]
    assert (
        acted and acted[0]["endpoint"] == "demo/logged" and acted[0]["outcome"] == "ok" and acted[0]["policy"] == "idle"
    )
    assert all("hf_" not in json.dumps(line) for line in lines)  # never a token
