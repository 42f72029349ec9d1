"""Intent before act: a daemon that dies mid-call leaves a 'started' action; the next leader audits its outcome."""

from __future__ import annotations

from typing import Any

import pytest

from epmgr.daemon import Daemon
from epmgr.domain.model import ActionKind, Actor, EndpointSnapshot, EndpointState, Outcome
from epmgr.emulator import FaultConfig
from epmgr.ports import EndpointsAPI
from tests.daemon.conftest import World

CONFIG = """
[daemon]
interval = "30s"
lease_ttl = "90s"
[defaults]
scale_to_zero_after = "2m"
pause_after = "off"
min_uptime = "0s"
[[endpoints]]
name = "ep"
"""


class Killed(BaseException):
    """The process dies here (nothing after this line of the daemon runs)."""


class DiesDuringCall:
    """The real adapter; the daemon dies just before its scale-to-zero is sent, or just after HF applied it."""

    def __init__(self, api: EndpointsAPI, *, applied: bool) -> None:
        self.api, self.applied = api, applied

    def scale_to_zero(self, name: str) -> EndpointSnapshot:
        if self.applied:
            self.api.scale_to_zero(name)
        raise Killed

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.api, attr)


@pytest.mark.parametrize(("applied", "outcome"), [(True, Outcome.OK), (False, Outcome.FAILED)])
def test_the_next_leader_reconciles_an_interrupted_action_once(world: World, applied: bool, outcome: Outcome) -> None:
    world.create("ep")
    settings = world.settings(CONFIG)
    doomed = Daemon(settings, world.ledger, world.clock, lambda _ns: DiesDuringCall(world.api, applied=applied),
                    listen="", holder="doomed")  # fmt: skip
    doomed.tick()
    world.advance(minutes=3)
    with pytest.raises(Killed):
        doomed.tick()
    (started,) = [a for a in world.ledger.actions() if a.actor == Actor.DAEMON]
    assert started.outcome == Outcome.STARTED and started.holder == "doomed"

    world.advance(seconds=91)  # the dead daemon's lease expires
    heir = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="heir")
    report = heir.tick()
    assert report is not None and report.reconciled == 1
    ours = [a for a in world.ledger.actions() if a.actor == Actor.DAEMON]
    first = ours[0]
    assert (first.id, first.outcome, first.holder) == (started.id, outcome, "doomed")
    assert first.detail is not None and first.detail.startswith("reconciled after a restart")
    if applied:  # done once: audited once, and not sent again
        assert len(ours) == 1 and world.state("ep") == EndpointState.SCALED_TO_ZERO
    else:  # never sent: audited as not applied, then done by the heir
        assert "before the API applied it" in (first.error or "")
        assert [(a.action, a.outcome, a.holder) for a in ours[1:]] == [(ActionKind.SCALE_TO_ZERO, Outcome.OK, "heir")]
    heir.tick()
    assert world.ledger.unfinished_actions() == [] and heir.tick() is not None
    assert len([a for a in world.ledger.actions() if a.actor == Actor.DAEMON]) == len(ours)


def test_an_interrupted_action_stays_started_while_the_api_cannot_tell(world: World) -> None:
    world.create("ep")
    settings = world.settings(CONFIG)
    doomed = Daemon(settings, world.ledger, world.clock, lambda _ns: DiesDuringCall(world.api, applied=True),
                    listen="", holder="doomed")  # fmt: skip
    doomed.tick()
    world.advance(minutes=3)
    with pytest.raises(Killed):
        doomed.tick()
    world.advance(seconds=91)
    world.server.faults.configure(FaultConfig(rate=1.0, kinds=("503",), retry_after=0))
    heir = Daemon(settings, world.ledger, world.clock, lambda _ns: world.api, listen="", holder="heir")
    heir.tick()
    assert [a.outcome for a in world.ledger.unfinished_actions()] == [Outcome.STARTED]
    world.server.faults.configure(FaultConfig())
    world.advance(seconds=30)
    heir.tick()
    assert world.ledger.unfinished_actions() == []
