"""An emulator server with short timings, and the HF adapter pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.backoff import Backoff
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings

FAST = EmulatorTimings(pending=0.1, initializing=0.3, scale_up=0.3, update=0.2, minute=0.5)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(timings=FAST, access_log=False) as server:
        yield server


def adapter_for(server: EmulatorServer, **kwargs: object) -> HfEndpointsAPI:
    options: dict[str, object] = {"token": DEMO_TOKEN, "namespace": DEMO_USER, "api_url": server.url}
    options.update(kwargs)
    return HfEndpointsAPI(**options)  # type: ignore[arg-type]


@pytest.fixture
def api(emulator: EmulatorServer) -> HfEndpointsAPI:
    """The real adapter over HTTP to the emulator; retries wait only milliseconds."""
    return adapter_for(emulator, backoff=Backoff(base_s=0.01, cap_s=0.05, attempts=6, max_retry_after_s=0.05))
