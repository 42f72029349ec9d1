"""The set-based tick decides exactly what the per-endpoint one did, on randomized ledgers.

Two copies of one randomized SQLite ledger run the same ticks of the real :class:`Reconciler`. One is the
:class:`Ledger` itself (each namespace read with one query per table, a list call's observations written in one
transaction); the other answers every set-based read by looping the per-endpoint methods the tick used before
(``active_hold``, ``actions``, ``state_changes``, ``last_state_change``, ``count_requests``, ``requests``; the
activity is computed from the requests in Python, since ``activity`` shares the set-based statement) and writes
each observation one endpoint at a time (``record_state_change``, ``upsert_endpoint``).
Their tick reports (decisions, reasons, states, spend, idle times, budgets, traffic, unseen requests) and
everything they wrote must be identical.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from epmgr.clock import FakeClock
from epmgr.config import Settings
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Activity,
    Actor,
    ChangeSource,
    EndpointRecord,
    EndpointRef,
    EndpointSnapshot,
    EndpointState,
    Hold,
    Instance,
    Outcome,
    RequestRecord,
    StateChange,
)
from epmgr.domain.observation import Observation
from epmgr.domain.policy import Budget, EndpointPolicy, IdlePolicy, KeepAlive, NamespaceBudget, Schedule, Traffic
from epmgr.domain.schedule import Window
from epmgr.ledger import Ledger, open_ledger
from epmgr.ledger.store import IN_FLIGHT_STALE_AFTER
from epmgr.ports import EndpointsAPI
from epmgr.service import Reconciler, TickReport
from epmgr.unseen_traffic import UNSEEN_CLIENT

NS = "acme"
T0 = datetime(2026, 3, 11, 9, 30, tzinfo=timezone.utc)  # a Wednesday
GPU = Instance("aws", "us-east-1", "gpu", "nvidia-l4", "x1")
CPU = Instance("aws", "us-east-1", "cpu", "intel-icl", "x2")
STATES = [EndpointState.RUNNING, EndpointState.SCALED_TO_ZERO, EndpointState.PAUSED, EndpointState.INITIALIZING,
          EndpointState.PENDING, EndpointState.FAILED, EndpointState.UPDATING, EndpointState.UNKNOWN]  # fmt: skip


class PerEndpointLedger(Ledger):
    """The ledger as the tick read and wrote it before it was set-based: one endpoint at a time."""

    def _refs(self, namespace: str) -> list[EndpointRef]:
        return [r.ref for r in self.endpoints() if r.ref.namespace == namespace]

    def endpoints_in(self, namespace: str) -> dict[EndpointRef, EndpointRecord]:
        return {ref: record for ref in self._refs(namespace) if (record := self.endpoint(ref)) is not None}

    def changes_in(self, namespace: str, since: datetime | None = None) -> dict[EndpointRef, list[StateChange]]:
        found = {}
        for ref in self._refs(namespace):
            changes = self.state_changes(ref)
            if since is not None:  # those since, and the last one before (the state then)
                changes = [c for c in changes if c.observed_at < since][-1:] + self.state_changes(ref, since=since)
            if changes:
                found[ref] = changes
        return found

    def last_changes(self, refs: Collection[EndpointRef]) -> dict[EndpointRef, StateChange]:
        return {ref: last for ref in refs if (last := self.last_state_change(ref)) is not None}

    def actions_in(self, namespace: str, since: datetime) -> dict[EndpointRef, list[ActionRecord]]:
        return {ref: found for ref in self._refs(namespace) if (found := self.actions(ref, since=since))}

    def created_in(self, namespace: str) -> set[EndpointRef]:
        created = (any(a.action == ActionKind.CREATE and a.outcome == Outcome.OK for a in self.actions(ref))
                   for ref in self._refs(namespace))  # fmt: skip
        return {ref for ref, yes in zip(self._refs(namespace), created, strict=True) if yes}

    def activity_in(self, namespace: str, now: datetime) -> dict[EndpointRef, Activity]:
        """From each endpoint's requests, in Python (``Ledger.activity`` shares the set-based statement)."""
        found = {}
        for ref in self._refs(namespace):
            requests = self.requests(ref)
            found[ref] = Activity(
                last_request_at=max((r.finished_at or r.started_at for r in requests), default=None),
                in_flight=sum(r.finished_at is None and r.started_at > now - IN_FLIGHT_STALE_AFTER for r in requests),
                requests_last_hour=sum(r.started_at > now - timedelta(hours=1) for r in requests),
            )
        return found

    def holds_in(self, namespace: str, now: datetime) -> dict[EndpointRef, Hold]:
        return {ref: hold for ref in self._refs(namespace) if (hold := self.active_hold(ref, now)) is not None}

    def request_counts_in(
        self, namespace: str, refs: Collection[EndpointRef], *, since: datetime, client_id: str
    ) -> dict[EndpointRef, int]:
        return {ref: self.count_requests(ref, since=since, client_id=client_id) for ref in refs}

    def request_starts_in(
        self, namespace: str, since: dict[EndpointRef, datetime], until: datetime
    ) -> dict[EndpointRef, list[datetime]]:
        return {ref: [r.started_at for r in self.requests(ref, since=at, until=until)] for ref, at in since.items()}

    def record_observations(self, observations: Sequence[Observation]) -> list[StateChange]:
        written = []
        for seen in observations:
            for change in seen.changes:
                written.append(replace(change, id=self.record_state_change(change)))
            self.upsert_endpoint(seen.record, seen_at=seen.seen_at)
        return written


def random_world(rng: random.Random, url: str) -> tuple[list[EndpointSnapshot], Settings]:
    """A ledger of 40 endpoints with random histories, requests, audit entries and holds; the list call's
    snapshots (some endpoints gone, some new) and settings with every kind of policy."""
    ledger = open_ledger(url)
    names = [f"ep-{i:02d}" for i in range(40)]
    snapshots, policies = [], []
    for i, name in enumerate(names):
        ref = EndpointRef(NS, name)
        instance = rng.choice([GPU, CPU])
        known = i < 34  # the last six are new to the ledger
        if known:
            at = T0 - timedelta(days=rng.uniform(1, 40))
            state: EndpointState | None = None
            for _ in range(rng.randint(0, 12)):
                to = rng.choice(STATES)
                replicas = rng.choice([None, 0, 1, 2])
                price = rng.choice([None, Decimal("0.8"), Decimal("1.5")])
                ledger.record_state_change(StateChange(ref, state, to, at, ChangeSource.OBSERVED, replicas,
                                                       instance, price))  # fmt: skip
                state = to
                at += timedelta(minutes=rng.choice([0, 1, 7, 45, 300, 1500]))
            ledger.upsert_endpoint(EndpointRecord(ref, instance, managed=rng.random() < 0.5), seen_at=T0 - timedelta(
                minutes=rng.choice([1, 3, 20, 600])))  # fmt: skip
            requests = []
            for _ in range(rng.randint(0, 30)):
                started = T0 - timedelta(minutes=rng.uniform(0, rng.choice([90, 60 * 24 * 3])))
                finished = None if rng.random() < 0.1 else started + timedelta(seconds=rng.uniform(0, 90))
                client = UNSEEN_CLIENT if rng.random() < 0.2 else "app"
                requests.append(RequestRecord(ref, started, finished, 200, None, client))
            ledger.record_requests(requests)
            for _ in range(rng.randint(0, 5)):
                kind = rng.choice(list(ActionKind))
                actor = rng.choice(list(Actor))
                outcome = rng.choice([Outcome.OK, Outcome.OK, Outcome.FAILED, Outcome.SKIPPED])
                when = T0 - timedelta(hours=rng.uniform(0, 24 * 12))
                ledger.record_action(ActionRecord(ref, kind, "random", actor, when, outcome,
                                                  policy=rng.choice([None, "idle", "schedule", "budget"])))  # fmt: skip
            for k in range(rng.choice([0, 0, 0, 1, 2, 3])):  # several: the newest in force counts
                until = rng.choice([None, T0 - timedelta(hours=1), T0 + timedelta(days=1)])
                placed = T0 - timedelta(hours=rng.uniform(1, 48))
                ledger.place_hold(Hold(ref, "budget", f"over budget #{k}", placed, until=until))
                if rng.random() < 0.2:
                    ledger.release_holds(ref, placed + timedelta(minutes=1), "someone")
        listed = rng.random() < 0.9 or not known  # some known endpoints are gone from the list
        if listed:
            state = rng.choice(STATES[:-1])
            snapshots.append(EndpointSnapshot(
                ref, state, instance, url=f"https://{name}.example", target_replicas=rng.choice([0, 1, 2]),
                max_replica=2, created_at=T0 - timedelta(days=rng.choice([0, 2, 50])),
                updated_at=T0 - timedelta(minutes=rng.choice([0, 2, 30, 5000])),
                raw={"tags": ["epmgr"] if rng.random() < 0.5 else []},
            ))  # fmt: skip
        if rng.random() < 0.7:
            policies.append(random_policy(rng, name))
    ledger.close()
    settings = Settings(
        namespace=NS,
        endpoints=tuple(policies),
        managed_tag="epmgr",
        namespaces=(NamespaceBudget(NS, Budget(daily_usd=Decimal(rng.choice([1, 50, 1000])))),),
    )
    return snapshots, settings


def random_policy(rng: random.Random, name: str) -> EndpointPolicy:
    idle = IdlePolicy(
        scale_to_zero_after=rng.choice([None, timedelta(minutes=10), timedelta(minutes=30)]),
        pause_after=rng.choice([None, timedelta(hours=2), timedelta(hours=12)]),
        min_uptime=rng.choice([timedelta(0), timedelta(minutes=5)]),
    )
    schedule = None
    if rng.random() < 0.3:
        window = Window(frozenset(range(5)), time(8, 0), time(18, 0))
        schedule = Schedule(tz=rng.choice(["UTC", "Europe/Paris"]), active=(window,), enforce=rng.random() < 0.5,
                            holidays=frozenset({date(2026, 3, 13)}))  # fmt: skip
    budget = None
    if rng.random() < 0.3:
        budget = Budget(daily_usd=Decimal(rng.choice(["0.5", "5", "500"])), monthly_usd=Decimal("40"))
    return EndpointPolicy(
        name=name,
        namespace=NS,
        idle=idle,
        schedule=schedule,
        budget=budget,
        protect=rng.random() < 0.1,
        keep_alive=rng.choice([KeepAlive.OFF, KeepAlive.ADAPTIVE]),
        price_per_hour=rng.choice([None, Decimal("2.5")]),
        traffic=rng.choice([None, None, Traffic.EPMGR, Traffic.SHARED]),
    )


class ListOnly:
    """The namespace's list call and metrics route (what a plan-only tick reads); nothing else is called."""

    def __init__(self, snapshots: list[EndpointSnapshot]) -> None:
        self.snapshots = snapshots

    @property
    def namespace(self) -> str:
        return NS

    def list_endpoints(self) -> list[EndpointSnapshot]:
        return list(self.snapshots)

    def request_counts(self, name: str, *, start: int, end: int, step_s: int = 60) -> list[tuple[datetime, int]]:
        """The metrics route: one request in every third step (some of them unseen by the ledger)."""
        return [(datetime.fromtimestamp(at, timezone.utc), 1 if (at // step_s) % 3 == 0 else 0)
                for at in range(start, end, step_s)]  # fmt: skip


def facts(report: TickReport) -> list[tuple[object, ...]]:
    return [
        (e.ref, e.state, e.decision, e.outcome, e.idle_for, e.spent_today, e.spent_month, e.budget_left, e.managed,
         e.traffic, e.unseen_today)
        for e in report.endpoints
    ]  # fmt: skip


def written(ledger: Ledger) -> tuple[object, ...]:
    return ledger.endpoints(), ledger.state_changes(), ledger.actions()


@pytest.mark.parametrize("seed", range(8))
def test_the_set_based_tick_decides_as_the_per_endpoint_one(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    snapshots, settings = random_world(rng, str(tmp_path / "world.db"))
    shutil.copy(tmp_path / "world.db", tmp_path / "each.db")
    fleet = open_ledger(str(tmp_path / "world.db"))
    each = PerEndpointLedger(open_ledger(str(tmp_path / "each.db")).engine)
    clocks = FakeClock(T0), FakeClock(T0)
    ticks = [Reconciler(settings, ledger, clock, lambda ns: cast(EndpointsAPI, ListOnly(snapshots)), plan_only=True)
             for ledger, clock in zip((fleet, each), clocks, strict=True)]  # fmt: skip
    codes: set[str] = set()
    for step in range(3):  # later ticks learn only new requests, and see the first tick's observations
        reports = [tick.tick() for tick in ticks]
        codes |= {e.decision.code for e in reports[0].endpoints}
        assert not reports[0].errors and not reports[1].errors
        assert len(reports[0].endpoints) == len(snapshots)
        assert facts(reports[0]) == facts(reports[1])
        assert written(fleet) == written(each)
        later = [RequestRecord(s.ref, T0 + timedelta(minutes=5 * step + 1), None, None, None, "app")
                 for s in snapshots if rng.random() < 0.3]  # fmt: skip
        step_by = timedelta(minutes=rng.choice([1, 5, 45]))
        for ledger, clock in zip((fleet, each), clocks, strict=True):
            ledger.record_requests(later)
            clock.advance(step_by)
    assert len(codes) >= 3, codes  # the worlds are varied enough to decide several things for several reasons
    fleet.close()
    each.close()


@pytest.mark.parametrize("seed", range(8, 11))
def test_each_set_based_read_answers_what_the_per_endpoint_reads_do(ledger_url: str, seed: int) -> None:
    random_world(random.Random(seed), ledger_url)
    fleet = open_ledger(ledger_url)
    each = PerEndpointLedger(fleet.engine)
    refs = {r.ref for r in fleet.endpoints()}
    since = {ref: T0 - timedelta(hours=i % 50) for i, ref in enumerate(sorted(refs, key=str))}
    for ledger in (fleet, each):
        assert ledger.endpoints_in("nobody") == {} and ledger.activity_in("nobody", T0) == {}
    assert fleet.endpoints_in(NS) == each.endpoints_in(NS)
    assert fleet.changes_in(NS) == each.changes_in(NS)
    for start in (T0 - timedelta(days=50), T0 - timedelta(days=3), T0 - timedelta(hours=1), T0 + timedelta(days=1)):
        assert fleet.changes_in(NS, start) == each.changes_in(NS, start)
    assert fleet.last_changes(refs) == each.last_changes(refs)
    assert fleet.actions_in(NS, T0 - timedelta(days=5)) == each.actions_in(NS, T0 - timedelta(days=5))
    assert fleet.created_in(NS) == each.created_in(NS)
    for now in (T0, T0 + timedelta(minutes=50), T0 + timedelta(days=2)):
        assert fleet.activity_in(NS, now) == each.activity_in(NS, now)
        assert fleet.holds_in(NS, now) == each.holds_in(NS, now)
    day = T0 - timedelta(hours=30)
    assert fleet.request_counts_in(NS, refs, since=day, client_id=UNSEEN_CLIENT) == each.request_counts_in(
        NS, refs, since=day, client_id=UNSEEN_CLIENT
    )
    assert fleet.request_starts_in(NS, since, T0) == each.request_starts_in(NS, since, T0)
    assert any(fleet.holds_in(NS, T0).values()) and any(a.in_flight for a in fleet.activity_in(NS, T0).values())
    fleet.close()
