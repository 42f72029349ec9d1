"""Real Hugging Face time scales on an accelerated clock shared by the emulator and the waiting code.

HF's timings (reference §8, §13): pending 30 s, initializing 4 min after a resume, a cold start of 5 min from
scaled to zero, management calls of several seconds (here every one takes 4 s). The clock runs ``SPEED`` times
faster than the wall clock, so a 5-minute wake takes 3 s of wall time; nothing sleeps for real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.model import EndpointSnapshot, EndpointSpec, EndpointState
from epmgr.emulator import EmulatorServer, EmulatorTimings, FaultConfig
from epmgr.ledger import Ledger, open_ledger
from tests.client.world import CPU, emulated_world

SPEED = 100.0
REAL_HF = EmulatorTimings(pending=30, initializing=240, scale_up=300, update=120, minute=60)
API_CALL_S = 4.0  # every management call takes this long (fake seconds)


class AcceleratedClock:
    """A clock running ``speed`` times faster than the wall clock: ``sleep(300)`` takes 3 s at speed 100.

    Shared by the emulator (its state machine) and the code under test (its deadlines and polls), so both see
    the same minutes pass.
    """

    def __init__(self, speed: float, start: datetime = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)) -> None:
        self.speed = speed
        self._start = start
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)

    def since(self, moment: datetime) -> float:
        """Fake seconds since ``moment``."""
        return (self.now() - moment).total_seconds()


@dataclass
class Hf:
    """The emulator at real HF timings, the adapter, a SQLite ledger, and the environment the CLI reads."""

    server: EmulatorServer
    api: HfEndpointsAPI
    clock: AcceleratedClock
    db_url: str
    env: dict[str, str]

    def ledger(self) -> Ledger:
        return open_ledger(self.db_url)

    def create(self, name: str, state: EndpointState) -> EndpointSnapshot:
        """A new endpoint moved at once to ``state`` (paused, scaled to zero) or left pending."""
        spec = EndpointSpec(name=name, repository="openai-community/gpt2", instance=CPU, task="text-generation")
        self.api.create(spec)
        if state == EndpointState.PAUSED:
            self.api.pause(name)
        elif state == EndpointState.SCALED_TO_ZERO:
            self.api.scale_to_zero(name)
        snapshot = self.api.get(name)
        assert snapshot.state == state, snapshot.state
        return snapshot

    def api_calls(self, method: str = "GET") -> int:
        counts = self.server.requests.counts()
        return sum(n for key, n in counts.items() if key.startswith(f"{method} /v2/endpoint/"))


@pytest.fixture
def hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hf]:
    clock = AcceleratedClock(SPEED)
    monkeypatch.setattr("epmgr.cli.endpoints.CLOCK", clock)
    slow = FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=API_CALL_S / SPEED, seed=1)
    with emulated_world(tmp_path, monkeypatch, timings=REAL_HF, clock=clock, faults=slow) as w:
        yield Hf(w.server, w.api, clock, w.db_url, w.env)
