"""Two daemons, one ledger, real HF time scales on one FakeClock: a 90 s lease, API calls of 4 s, ticks longer
than the lease, a call that hangs past it, and a leader that stalls. At no moment are both acting, and no action
is sent after its lease expired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.daemon import LEASE_NAME, Daemon
from epmgr.deadline import remaining
from epmgr.domain.model import ActionKind, Actor, EndpointSnapshot, EndpointSpec, Outcome
from epmgr.errors import ApiUnavailable
from tests.daemon.conftest import CPU, World

ENDPOINTS = 30
CALL = timedelta(seconds=4)  # a real management call takes seconds


def config(count: int) -> str:
    head = '[daemon]\ninterval = "30s"\nlease_ttl = "90s"\n[defaults]\nscale_to_zero_after = "2m"\n'
    head += 'pause_after = "off"\nmin_uptime = "0s"\n'
    return head + "".join(f'[[endpoints]]\nname = "ep-{i:02}"\n' for i in range(count))


@dataclass
class Call:
    holder: str
    what: str
    start: datetime
    end: datetime
    lease_holder: str | None  # who held the lease in the ledger when the call was sent
    lease_expires: datetime | None


@dataclass
class Stage:
    """The shared world: every API call of each daemon takes fake time, during which the other daemon ticks."""

    world: World
    calls: list[Call] = field(default_factory=list)
    daemons: dict[str, Daemon] = field(default_factory=dict)
    next_tick: dict[str, datetime] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    hang: dict[tuple[str, str], timedelta] = field(default_factory=dict)  # (holder, name) -> how long it hangs
    stall_after: dict[tuple[str, str], timedelta] = field(default_factory=dict)  # the holder stalls after a call

    def advance(self, delta: timedelta) -> None:
        """Move the clock, running every idle daemon's ticks that fall due on the way."""
        target = self.world.clock.now() + delta
        while True:
            due = [(at, h) for h, at in self.next_tick.items() if h not in self.busy and at <= target]
            if not due:
                break
            at, holder = min(due)
            if at > self.world.clock.now():
                self.world.clock.advance(at - self.world.clock.now())
            self.run(holder)
        if target > self.world.clock.now():
            self.world.clock.advance(target - self.world.clock.now())

    def run(self, holder: str) -> None:
        self.next_tick[holder] = self.world.clock.now() + timedelta(seconds=30)
        self.busy.add(holder)
        try:
            self.daemons[holder].tick()
        finally:
            self.busy.discard(holder)

    def call(self, holder: str, what: str, name: str, operation: Callable[[], Any]) -> Any:
        lease = self.world.ledger.lease(LEASE_NAME)
        start = self.world.clock.now()
        hang = self.hang.get((holder, name))
        if hang is not None:  # an API that does not answer: the adapter gives up at the call's deadline
            left = remaining()
            assert left is not None, "an action was sent without a deadline"
            bounded = min(hang, timedelta(seconds=left))
            self.advance(bounded)
            self.calls.append(Call(holder, what, start, self.world.clock.now(), *_lease_of(lease)))
            if bounded < hang:
                raise ApiUnavailable(f"{what} {name}: the HF API did not answer in time")
        result = operation()
        self.advance(CALL)
        self.calls.append(Call(holder, what, start, self.world.clock.now(), *_lease_of(lease)))
        stall = self.stall_after.get((holder, name))
        if stall is not None:
            self.advance(stall)
        return result


def _lease_of(lease: Any) -> tuple[str | None, datetime | None]:
    return (lease.holder, lease.expires_at) if lease is not None else (None, None)


class SlowAPI:
    """The real adapter over HTTP to the emulator, each call taking :data:`CALL` of fake time."""

    def __init__(self, stage: Stage, holder: str, api: HfEndpointsAPI) -> None:
        self.stage, self.holder, self.api = stage, holder, api

    @property
    def namespace(self) -> str:
        return self.api.namespace

    def list_endpoints(self) -> list[EndpointSnapshot]:
        return list(self.stage.call(self.holder, "list", "", self.api.list_endpoints))

    def get(self, name: str) -> EndpointSnapshot:
        return self.api.get(name)  # reads are not actions

    def scale_to_zero(self, name: str) -> EndpointSnapshot:
        snapshot: EndpointSnapshot = self.stage.call(
            self.holder, "scale_to_zero", name, lambda: self.api.scale_to_zero(name)
        )
        return snapshot

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.api, attr)


def stage_for(world: World, count: int = ENDPOINTS) -> Stage:
    for i in range(count):
        world.api.create(EndpointSpec(name=f"ep-{i:02}", repository="openai-community/gpt2", instance=CPU))
    world.advance(seconds=1)
    stage = Stage(world)
    settings = world.settings(config(count))
    for holder in ("a", "b"):
        api = SlowAPI(stage, holder, world.api)
        stage.daemons[holder] = Daemon(settings, world.ledger, world.clock, lambda _ns, api=api: api,  # type: ignore[misc]
                                       listen="", holder=holder)  # fmt: skip
    stage.run("a")  # "a" leads; its first tick only observes (nothing idle yet)
    stage.next_tick["b"] = world.clock.now() + timedelta(seconds=15)
    return stage


def acting(stage: Stage) -> list[Call]:
    return [c for c in stage.calls if c.what != "list"]


def assert_never_both_acting(stage: Stage) -> None:
    calls = sorted(stage.calls, key=lambda c: c.start)
    for first, second in zip(calls, calls[1:], strict=False):
        if first.holder != second.holder:
            assert second.start >= first.end, f"{first} overlaps {second}"


def assert_no_action_after_its_lease(stage: Stage) -> None:
    for call in acting(stage):
        assert call.lease_holder == call.holder, f"{call.holder} acted while {call.lease_holder} held the lease"
        assert call.lease_expires is not None and call.start < call.lease_expires, f"sent after expiry: {call}"


def test_a_tick_longer_than_the_lease_keeps_it_and_the_other_daemon_never_acts(world: World) -> None:
    stage = stage_for(world)
    stage.advance(timedelta(minutes=3))  # every endpoint idle 3 min: "a" scales 30 of them down, 4 s each
    scaled = acting(stage)
    assert len(scaled) == ENDPOINTS and {c.holder for c in scaled} == {"a"}
    assert scaled[-1].end - scaled[0].start >= timedelta(seconds=ENDPOINTS * 4)  # 120 s: longer than the lease
    assert_never_both_acting(stage)
    assert_no_action_after_its_lease(stage)
    audited = [a for a in world.ledger.actions() if a.actor == Actor.DAEMON and a.action == ActionKind.SCALE_TO_ZERO]
    assert len(audited) == ENDPOINTS and {(a.outcome, a.holder) for a in audited} == {(Outcome.OK, "a")}


def test_a_call_that_never_answers_ends_before_the_lease_and_nobody_else_acts_meanwhile(world: World) -> None:
    stage = stage_for(world, count=6)
    stage.hang[("a", "ep-02")] = timedelta(minutes=10)
    stage.advance(timedelta(minutes=3))
    hung = next(c for c in stage.calls if c.holder == "a" and c.what == "scale_to_zero" and c.end - c.start > CALL)
    assert hung.end - hung.start <= timedelta(seconds=90)  # bounded by the lease, not by the hang
    assert_never_both_acting(stage)
    assert_no_action_after_its_lease(stage)
    failed = [a for a in world.ledger.actions() if a.outcome == Outcome.FAILED]
    assert failed and {a.ref.name for a in failed} == {"ep-02"}  # it hangs again on each tick, bounded each time
    assert all("did not answer" in (a.error or "") for a in failed)


def test_a_leader_that_stalls_past_its_lease_sends_nothing_more(world: World) -> None:
    stage = stage_for(world, count=6)
    stage.stall_after[("a", "ep-01")] = timedelta(seconds=150)  # "a" freezes (GC, SIGSTOP) after its 2nd action
    stage.advance(timedelta(minutes=3))
    by_a = [c for c in acting(stage) if c.holder == "a"]
    by_b = [c for c in acting(stage) if c.holder == "b"]
    assert [c.what for c in by_a] == ["scale_to_zero"] * 2  # "a" woke up to a lost lease: nothing more sent
    assert len(by_b) == 4  # "b" took over and did the rest
    assert_never_both_acting(stage)
    assert_no_action_after_its_lease(stage)
    assert stage.daemons["a"].leader is False
    lease = world.ledger.lease(LEASE_NAME)
    assert lease is not None and lease.holder == "b" and lease.epoch == 2
    assert [a for a in world.ledger.actions() if a.outcome == Outcome.STARTED] == []
