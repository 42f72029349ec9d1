"""/healthz tells the truth: failing ticks and silence are 503 with the reason; standby is healthy."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from epmgr.daemon import Daemon, unauthenticated_warning
from epmgr.domain.health import TickRecord, assess
from epmgr.domain.model import EndpointSpec
from epmgr.emulator import FaultConfig
from tests.cli.conftest import Cli
from tests.cli.conftest import epmgr as epmgr  # noqa: F401 (the fixture)
from tests.conftest import T0
from tests.daemon.conftest import CPU, World

INTERVAL = timedelta(seconds=30)


def at(seconds: float) -> TickRecord:
    return TickRecord(T0 + timedelta(seconds=seconds), "leader")


def failed(seconds: float, error: str = "namespace demo: the HF API is unavailable (503)") -> TickRecord:
    return TickRecord(T0 + timedelta(seconds=seconds), "leader", error)


@pytest.mark.parametrize(
    ("ticks", "now_s", "status", "healthy"),
    [
        ([], 10, "starting", True),
        ([], 200, "stale", False),  # started, never ticked
        ([at(0), at(30)], 60, "ok", True),
        ([at(0), at(30)], 30 + 3 * 30 + 6, "stale", False),  # no tick for more than three intervals
        ([at(0), failed(30), failed(60)], 61, "ok", True),  # two failures: not yet
        ([failed(0), failed(30), failed(60)], 61, "failing", False),
        ([failed(0), failed(30), failed(60), at(90)], 91, "ok", True),  # recovered
        ([TickRecord(T0, "standby")], 20, "standby", True),
    ],
)
def test_the_verdict(ticks: list[TickRecord], now_s: float, status: str, healthy: bool) -> None:
    verdict = assess(ticks, T0 + timedelta(seconds=now_s), T0, INTERVAL)
    assert (verdict.status, verdict.healthy) == (status, healthy)


def test_healthz_is_503_while_every_tick_fails_and_200_once_they_work(world: World) -> None:
    world.api.create(EndpointSpec(name="watched", repository="openai-community/gpt2", instance=CPU))
    world.advance(seconds=1)
    settings = world.settings('[daemon]\ninterval = "30s"\n[[endpoints]]\nname = "watched"\n')
    daemon = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="127.0.0.1:0")
    daemon.start_http()
    try:
        assert daemon.http_address is not None
        url = "http://{}:{}/healthz".format(*daemon.http_address)
        world.server.faults.configure(FaultConfig(rate=1.0, kinds=("503",), retry_after=0))
        for _ in range(3):
            daemon.tick()
            world.advance(seconds=30)
        answer = httpx.get(url)
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "failing" and "503" in body["reason"] and body["leader"] is True
        world.server.faults.configure(FaultConfig())
        assert daemon.tick() is not None
        assert httpx.get(url).status_code == 200
    finally:
        daemon.shutdown()


def test_a_standby_daemon_is_healthy_and_says_so(world: World) -> None:
    settings = world.settings("")
    leader = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="a")
    standby = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="b")
    assert leader.tick() is not None and standby.tick() is None
    healthy, body = standby.health()
    assert healthy and body["status"] == "standby" and body["leader"] is False


def test_once_says_what_failed_instead_of_standby(epmgr: Cli, tmp_path: Path) -> None:
    ledger = epmgr.ledger()
    with ledger.engine.begin() as conn:  # the ledger is broken: the lease cannot even be read
        conn.execute(text("DROP TABLE leases"))
    ledger.close()
    result = epmgr("daemon", "--once")
    assert result.exit_code == 1
    assert "standby" not in result.output
    assert "cannot take the lease" in result.output and "leases" in result.output
    assert "Traceback" not in result.output


def test_the_heartbeat_renews_at_the_same_epoch_and_notices_a_lost_lease(world: World) -> None:
    settings = world.settings('[daemon]\ninterval = "30s"\nlease_ttl = "90s"\n')
    daemon = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="a")
    assert daemon.heartbeat() is None  # holds nothing yet
    daemon.tick()
    world.advance(seconds=80)
    renewed = daemon.heartbeat()
    assert (
        renewed is not None and renewed.epoch == 1 and renewed.expires_at == world.clock.now() + timedelta(seconds=90)
    )
    world.advance(seconds=91)  # no heartbeat for longer than the lease: another daemon takes it
    assert world.ledger.take_lease("daemon", "b", timedelta(seconds=90), world.clock.now()) is not None
    assert daemon.heartbeat() is None


@pytest.mark.parametrize(
    ("listen", "warned"),
    [("127.0.0.1:9465", False), ("[::1]:9465", False), ("localhost:1", False), ("0.0.0.0:9465", True),
     ("[::]:9465", True), ("10.0.0.5:9465", True)],
)  # fmt: skip
def test_a_listen_address_beyond_loopback_is_warned_about(listen: str, warned: bool) -> None:
    warning = unauthenticated_warning(listen)
    assert (warning is not None) == warned
    assert warning is None or "no authentication" in warning


def test_listen_errors_are_one_line(epmgr: Cli) -> None:
    garbage = epmgr("daemon", "--listen", "garbage")
    assert garbage.exit_code == 2 and "--listen" in garbage.output and "Traceback" not in garbage.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = epmgr("daemon", "--listen", f"127.0.0.1:{port}")
    assert in_use.exit_code == 1 and "Traceback" not in in_use.output
    assert f"cannot serve /healthz and /metrics on 127.0.0.1:{port}" in in_use.output
