"""The simulator and the daemon take the same decisions for the same inputs.

The daemon runs for real: its reconcile tick on a FakeClock, a SQLite ledger, and the emulator as an HTTP server
driven through the huggingface_hub adapter; requests are recorded in the ledger as the clock passes them. The
simulator replays the same request times under the same policy (from the same configuration file). Every tick's
decision (action, reason, code, next planned action) must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from epmgr.clock import FakeClock
from epmgr.domain.backoff import Backoff
from epmgr.domain.keepalive import DEFAULT_COLD_START
from epmgr.domain.model import RequestRecord
from epmgr.domain.rules import Decision
from epmgr.emulator import EmulatorServer
from epmgr.ledger import open_ledger
from epmgr.simulate.engine import Params, simulate
from epmgr.simulate.specs import parse
from epmgr.simulate.traces import Stream
from tests.adapters.conftest import FAST, adapter_for
from tests.conftest import T0
from tests.daemon.conftest import World, tick

CONFIG = """
[daemon]
interval = "1m"

[[endpoints]]
name = "twin"
scale_to_zero_after = "10m"
pause_after = "30m"
min_uptime = "1m"
price_per_hour = 1.0
{extra}
"""
MINUTE = timedelta(minutes=1)
UP = T0 + MINUTE  # the daemon first sees it running here: when it came up, for both
# The simulated endpoint is pre-warmed for its first request, one cold start before it: the daemon's default
# (unmeasured) cold start, so both see it come up at UP.
REQUESTS = [UP + DEFAULT_COLD_START + timedelta(seconds=s) for s in (0, 150, 310)]
END = T0 + timedelta(hours=1, minutes=30)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(T0)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with EmulatorServer(timings=FAST, clock=clock, access_log=False) as server:
        api = adapter_for(server, backoff=Backoff(base_s=0.01, cap_s=0.02, attempts=2))
        yield World(clock, server, api, ledger, tmp_path)
    ledger.close()


def daemon_decisions(world: World, toml: str) -> dict[datetime, Decision]:
    ref = world.create("twin")  # the clock is now T0 + 1 s
    reconciler = world.reconciler(toml)
    world.clock.advance(UP - world.clock.now())
    decisions: dict[datetime, Decision] = {}
    pending = list(REQUESTS)
    while world.clock.now() <= END:
        now = world.clock.now()
        arrived = [t for t in pending if t <= now]
        if arrived:
            world.ledger.record_requests([RequestRecord(ref, t, t, 200) for t in arrived])
            pending = pending[len(arrived) :]
        [report] = tick(reconciler).endpoints
        decisions[now] = report.decision
        world.clock.advance(MINUTE)
    return decisions


@pytest.mark.parametrize("extra", ["", 'keep_alive = "adaptive"'], ids=["idle", "adaptive"])
def test_every_tick_decides_the_same(world: World, extra: str) -> None:
    toml = CONFIG.format(extra=extra)
    daemon = daemon_decisions(world, toml)
    path = world.tmp / "epmgr.toml"
    path.write_text(toml)
    spec = parse(f"config:{path}#twin")
    assert spec.policy is not None
    cold = DEFAULT_COLD_START.total_seconds()
    params = Params(price_per_hour=1.0, startup=cold, latency=cold, tick=60.0, stepping=True)
    stream = Stream.of("twin", [t.timestamp() for t in REQUESTS], end=END.timestamp())
    run = simulate(spec.policy, stream, params, keep=True, every_decision=True)
    simulated = {datetime.fromtimestamp(at, T0.tzinfo): decision for at, decision in run.actions}
    compared = sorted(set(simulated) & set(daemon))
    assert compared[0] == REQUESTS[0].replace(second=0) and compared[-1] == END
    assert [(at, simulated[at]) for at in compared] == [(at, daemon[at]) for at in compared]
    acted = [d.action.value for d in simulated.values() if d.acts]
    assert acted and set(acted) <= {"scale_to_zero", "pause"}
