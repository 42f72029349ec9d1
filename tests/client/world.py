"""An emulator over HTTP, a SQLite ledger and the environment the CLI reads, with endpoints in any state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.client.context import close_shared_ledgers
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointSnapshot, EndpointSpec, EndpointState, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import Ledger, open_ledger
from tests.adapters.conftest import FAST

CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")


@dataclass
class World:
    server: EmulatorServer
    api: HfEndpointsAPI
    db_url: str
    env: dict[str, str]

    def ledger(self) -> Ledger:
        return open_ledger(self.db_url)

    def create(self, name: str, state: EndpointState = EndpointState.RUNNING, min_replica: int = 0) -> EndpointSnapshot:
        """An endpoint in ``state`` (running first, then paused, scaled to zero, failed or restarting)."""
        spec = EndpointSpec(name=name, repository="openai-community/gpt2", instance=CPU, min_replica=min_replica)
        spec = EndpointSpec(**{**spec.__dict__, "task": "text-generation"})
        self.api.create(spec)
        self.until(name, EndpointState.RUNNING)
        if state == EndpointState.PAUSED:
            self.api.pause(name)
        elif state == EndpointState.SCALED_TO_ZERO:
            self.api.scale_to_zero(name)
        elif state == EndpointState.FAILED:
            httpx.post(f"{self.server.url}/_emulator/endpoint/{DEMO_USER}/{name}/fail").raise_for_status()
        elif state == EndpointState.INITIALIZING:
            self.api.scale_to_zero(name)
            self.api.resume(name)
        snapshot = self.api.get(name)
        assert snapshot.state == state, snapshot.state
        return snapshot

    def until(self, name: str, state: EndpointState, patience_s: float = 10) -> EndpointSnapshot:
        deadline = time.monotonic() + patience_s
        while True:
            snapshot = self.api.get(name)
            if snapshot.state == state:
                return snapshot
            assert time.monotonic() < deadline, f"{name} stayed {snapshot.state}"
            time.sleep(0.05)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{self.server.url}/_emulator/requests").json()["counts"]
        return counts

    def clear_counts(self) -> None:
        httpx.delete(f"{self.server.url}/_emulator/requests").raise_for_status()


@contextmanager
def emulated_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **server: Any) -> Iterator[World]:
    """An emulator (``server`` options: timings, clock, faults) and the environment that points epmgr at it, with
    a SQLite ledger under ``tmp_path`` and fast adapter retries."""
    monkeypatch.setattr("epmgr.adapters.hf.DEFAULT_BACKOFF", Backoff(base_s=0.01, cap_s=0.05, attempts=4))
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with EmulatorServer(access_log=False, **server) as emulator:
        env = {
            "EPMGR_DB_URL": db_url,
            "EPMGR_HF_API_URL": emulator.url,
            "EPMGR_NAMESPACE": DEMO_USER,
            "HF_TOKEN": DEMO_TOKEN,
            "EPMGR_URL_CACHE": str(tmp_path / "endpoint-urls.json"),
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=emulator.url)
        try:
            yield World(emulator, api, db_url, env)
        finally:
            close_shared_ledgers()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with emulated_world(tmp_path, monkeypatch, timings=FAST) as w:
        yield w
