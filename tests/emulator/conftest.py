"""Emulator servers (real uvicorn on loopback) and huggingface_hub pointed at them.

Two servers are shared by the whole session and reset before each test that uses them:
one on the system clock with short timings, one on a FakeClock that only moves when a test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, constants

from epmgr.clock import FakeClock
from epmgr.emulator import DEMO_TOKEN, EmulatorServer, EmulatorState, FaultConfig
from tests.emulator.helpers import AUTH, FAST, ORG, SLOW, T0


def reset(server: EmulatorServer) -> EmulatorServer:
    server.state.reset()
    server.requests.clear()
    server.faults.configure(FaultConfig())
    return server


@pytest.fixture(scope="session")
def _live_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(timings=FAST, orgs=(ORG,), access_log=False) as server:
        yield server


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(timings=SLOW, clock=FakeClock(T0), orgs=(ORG,), access_log=False) as server:
        yield server


@pytest.fixture
def server(_live_server: EmulatorServer) -> EmulatorServer:
    """The real-time emulator (FAST timings, user ``demo`` in org ``acme``), emptied."""
    return reset(_live_server)


@pytest.fixture
def fake_server(_fake_server: EmulatorServer) -> EmulatorServer:
    """The FakeClock emulator (SLOW timings, so nothing moves unless ``clock.advance`` is called), emptied."""
    return reset(_fake_server)


@pytest.fixture
def clock(fake_server: EmulatorServer) -> FakeClock:
    """The clock of ``fake_server``."""
    assert isinstance(fake_server.state.clock, FakeClock)
    return fake_server.state.clock


@pytest.fixture
def state() -> EmulatorState:
    """A bare state machine on a FakeClock at T0 with SLOW timings (no server)."""
    return EmulatorState(FakeClock(T0), SLOW)


@pytest.fixture
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the real-time server, authenticated as the demo user."""
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        yield client


@pytest.fixture
def fake_http(fake_server: EmulatorServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the FakeClock server, authenticated as the demo user."""
    with httpx.Client(base_url=fake_server.url, headers=AUTH) as client:
        yield client


def point_hf_at(monkeypatch: pytest.MonkeyPatch, url: str, home: Path) -> None:
    """Aim huggingface_hub at an emulator for one test (restored afterwards by monkeypatch).

    The management API's base URL is read at call time from ``constants``; the Hub URL and every path under
    HF_HOME were read at import, so they are patched too. HF_TOKEN carries the demo token, since
    ``InferenceEndpoint`` objects forget the token of the ``HfApi`` that made them (reference §4).
    """
    monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", f"{url}/v2")
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(home / ".agent_harnesses.json"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setenv("HF_TOKEN", DEMO_TOKEN)


@pytest.fixture
def hf_api(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HfApi:
    """huggingface_hub's real HfApi, talking to the real-time emulator."""
    point_hf_at(monkeypatch, server.url, tmp_path / "hf_home")
    return HfApi(endpoint=server.url, token=DEMO_TOKEN)


@pytest.fixture
def fake_hf_api(fake_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HfApi:
    """huggingface_hub's real HfApi, talking to the FakeClock emulator."""
    point_hf_at(monkeypatch, fake_server.url, tmp_path / "hf_home")
    return HfApi(endpoint=fake_server.url, token=DEMO_TOKEN)
