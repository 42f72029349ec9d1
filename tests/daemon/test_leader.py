"""Real `epmgr daemon` processes on one ledger (SQLite, and PostgreSQL in CI): one leader, takeover, SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from benchmarks.soak.harness import DaemonProc
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import open_ledger
from tests.adapters.conftest import FAST

CONFIG = """
[daemon]
interval = "1s"
lease_ttl = "2s"

[defaults]
scale_to_zero_after = "off"
pause_after = "off"
"""


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true after {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def start_daemon(ledger_url: str, tmp_path: Path) -> Iterator[Callable[[], DaemonProc]]:
    config = tmp_path / "epmgr.toml"
    config.write_text(CONFIG)
    procs: list[DaemonProc] = []
    with EmulatorServer(timings=FAST, access_log=False) as server:
        env = {**os.environ, "HF_TOKEN": DEMO_TOKEN, "EPMGR_HF_API_URL": server.url, "EPMGR_NAMESPACE": DEMO_USER}
        args = [sys.executable, "-m", "epmgr", "--db", ledger_url, "--config", str(config), "daemon"]

        def start() -> DaemonProc:
            proc = DaemonProc.spawn([*args, "--log-format", "json", "--listen", "off"], env)
            procs.append(proc)
            return proc

        yield start
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
            proc.popen.wait(timeout=10)
            assert proc.reader is not None
            proc.reader.join(timeout=5)
            assert proc.popen.stderr is not None
            proc.popen.stderr.close()


def test_two_daemons_one_leader_and_the_other_takes_over_when_it_dies(
    start_daemon: Callable[[], DaemonProc], ledger_url: str
) -> None:
    first = start_daemon()
    wait_for(lambda: first.said("leader: acting"), timeout=20)
    second = start_daemon()
    wait_for(lambda: second.said("standby"), timeout=20)
    time.sleep(1.5)  # a few ticks of both
    assert not second.said("leader: acting")
    ledger = open_ledger(ledger_url)
    try:
        lease = ledger.lease("daemon")
        assert lease is not None
        holder = lease.holder
        first.popen.send_signal(signal.SIGKILL)
        took = wait_for(lambda: second.said("leader: acting"), timeout=10)
        assert took <= 2 + 1 + 1.5  # lease_ttl + one interval (+ slack for process scheduling)
        lease = ledger.lease("daemon")
        assert lease is not None and lease.holder != holder
    finally:
        ledger.close()


def test_sigterm_releases_the_lease_and_exits_cleanly(start_daemon: Callable[[], DaemonProc], ledger_url: str) -> None:
    proc = start_daemon()
    wait_for(lambda: proc.said("leader: acting"), timeout=20)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=10) == 0
    assert proc.said("lease released")
    ledger = open_ledger(ledger_url)
    try:
        assert ledger.lease("daemon") is None
    finally:
        ledger.close()
