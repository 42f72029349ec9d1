"""A world for end-to-end daemon tests: the emulator and the service on one FakeClock, a real SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.clock import FakeClock
from epmgr.config import Settings, load_settings
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import ActionKind, EndpointRef, EndpointSpec, EndpointState, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import Ledger, open_ledger
from epmgr.operations import Operator
from epmgr.service import Reconciler, TickReport
from tests.adapters.conftest import FAST, adapter_for
from tests.conftest import T0

CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")


@dataclass
class World:
    clock: FakeClock
    server: EmulatorServer
    api: HfEndpointsAPI
    ledger: Ledger
    tmp: Path

    def settings(self, toml: str) -> Settings:
        path = self.tmp / "epmgr.toml"
        path.write_text(toml)
        return load_settings(path, env={"EPMGR_NAMESPACE": DEMO_USER, "HF_TOKEN": DEMO_TOKEN})

    def reconciler(self, toml: str, *, dry_run: bool = False) -> Reconciler:
        return Reconciler(self.settings(toml), self.ledger, self.clock, lambda _ns: self.api, dry_run=dry_run)

    def create(self, name: str, *, by_epmgr: bool = True) -> EndpointRef:
        """A running endpoint (the clock is moved past its start-up), created as ``epmgr create`` does (audited:
        its traffic defaults to "epmgr") or, with ``by_epmgr=False``, outside epmgr (its traffic is "shared")."""
        spec = EndpointSpec(name=name, repository="openai-community/gpt2", instance=CPU)
        if by_epmgr:
            Operator(self.api, self.ledger, self.clock).act(
                ActionKind.CREATE, name, "created", lambda: self.api.create(spec)
            )
        else:
            self.api.create(spec)
        self.advance(seconds=1)
        assert self.state(name) == EndpointState.RUNNING
        return EndpointRef(DEMO_USER, name)

    def state(self, name: str) -> EndpointState:
        return self.api.get(name).state

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))


def tick(reconciler: Reconciler) -> TickReport:
    report = reconciler.tick()
    assert report.errors == []
    return report


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(T0)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with EmulatorServer(timings=FAST, clock=clock, access_log=False) as server:
        api = adapter_for(server, backoff=Backoff(base_s=0.01, cap_s=0.02, attempts=2))
        yield World(clock, server, api, ledger, tmp_path)
    ledger.close()
