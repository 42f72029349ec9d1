"""SIGKILL the leading daemon mid-tick, again and again, while every API call is slow: every action the emulator
applied must be audited exactly once (intent before act, then reconciled by the next leader)."""

from __future__ import annotations

import random
import signal
import tempfile
import time
from pathlib import Path

from benchmarks.soak.harness import (
    FAST,
    AuditCheck,
    DaemonProc,
    Waker,
    check_audit,
    create_endpoints,
    daemon_config,
    harness_api,
    recording_emulator,
)
from epmgr.emulator import FaultConfig
from epmgr.ledger import open_ledger


def run(
    kills: int = 20, endpoints: int = 8, slow_s: float = 0.3, seed: int = 9, db_url: str | None = None
) -> dict[str, float]:
    rng = random.Random(seed)
    names = [f"k{i:02}" for i in range(endpoints)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = db_url or f"sqlite:///{folder / 'ledger.db'}"
        config = daemon_config(folder / "epmgr.toml", names, interval="1s", lease="3s")
        server, calls = recording_emulator(timings=FAST)
        with server:
            create_endpoints(harness_api(server), names)
            server.faults.configure(FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=slow_s))
            waker = Waker(harness_api(server))
            waker.start()
            done = mid_call = 0
            started = time.monotonic()
            while done < kills:
                proc = DaemonProc.start(server, url, config, folder)
                if not proc.wait_for("leader: acting", timeout=30):
                    proc.popen.kill()
                    proc.end()
                    raise RuntimeError("no daemon became leader within 30 s")
                time.sleep(rng.uniform(0.2, 2.5))
                proc.popen.send_signal(signal.SIGKILL)
                proc.end()
                done += 1
                mid_call += 1 if _in_flight(url) else 0
            waker.stop.set()
            waker.join(timeout=5)
            final = DaemonProc.start(server, url, config, folder)  # the last leader reconciles what is left
            final.wait_for("leader: acting", timeout=30)
            ledger = open_ledger(url)
            try:
                ends = time.monotonic() + 30
                while ledger.unfinished_actions() and time.monotonic() < ends:
                    time.sleep(0.2)
                time.sleep(2.5)  # a tick or two more, with nothing left to wake
                final.popen.send_signal(signal.SIGTERM)
                final.end(timeout=20)
                check = check_audit(calls, ledger.actions())
            finally:
                ledger.close()
            elapsed = time.monotonic() - started
    return _figures(kills, mid_call, check, elapsed)


def _in_flight(url: str) -> bool:
    """Whether the kill left a started action behind (it struck between intent and completion)."""
    ledger = open_ledger(url)
    try:
        return bool(ledger.unfinished_actions())
    finally:
        ledger.close()


def _figures(kills: int, mid_call: int, check: AuditCheck, elapsed: float) -> dict[str, float]:
    return {
        "kills": kills,
        "kills_mid_action": mid_call,
        "applied": check.seen,
        "audited": check.audited,
        "missing": check.missing,
        "duplicated": check.duplicated,
        "left_started": check.left_started,
        "reconciled": check.reconciled,
        "seconds": round(elapsed, 1),
    }
