"""Two daemons on a slow API (every management call takes a second, the lease 3 s), the leader frozen with SIGSTOP
past its lease now and then: sampled every 10 ms, never are both acting, and no call is sent while the other
daemon holds the lease."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.soak.harness import (
    FAST,
    DaemonProc,
    SeenCall,
    Waker,
    check_audit,
    create_endpoints,
    daemon_config,
    harness_api,
    recording_emulator,
)
from epmgr.daemon import LEASE_NAME
from epmgr.domain.model import ActionRecord, Actor, Outcome
from epmgr.emulator import FaultConfig
from epmgr.ledger import open_ledger


@dataclass(frozen=True)
class LeaseSample:
    at: float  # monotonic
    holder: str | None
    expires_in: float  # seconds left at ``at``


def run(
    seconds: float = 60, endpoints: int = 6, slow_s: float = 1.0, freezes: int = 3, min_actions: int = 1,
    patience: float = 60,
) -> dict[str, float]:  # fmt: skip
    """Run for ``seconds``, and on until ``min_actions`` actions were applied (at most ``patience`` more seconds: on a
    loaded machine the daemons' start-up and a freeze can fill a short run)."""
    names = [f"d{i:02}" for i in range(endpoints)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'ledger.db'}"
        config = daemon_config(folder / "epmgr.toml", names, interval="1s", lease="3s")
        server, calls = recording_emulator(timings=FAST)
        with server:
            create_endpoints(harness_api(server), names)
            server.faults.configure(FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=slow_s))
            open_ledger(url).close()
            waker = Waker(harness_api(server))
            waker.start()
            procs = [DaemonProc.start(server, url, config, folder) for _ in range(2)]
            samples: list[LeaseSample] = []
            stop = threading.Event()
            sampler = threading.Thread(target=_sample, args=(url, samples, stop), daemon=True)
            sampler.start()
            started = time.monotonic()
            frozen = 0
            while time.monotonic() - started < seconds:
                time.sleep(seconds / (freezes + 1))
                if frozen < freezes and _freeze_leader(samples, procs):
                    frozen += 1
            while len(calls) < min_actions and time.monotonic() - started < seconds + patience:
                time.sleep(0.1)
            waker.stop.set()
            waker.join(timeout=5)
            for proc in procs:
                proc.popen.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.end(timeout=30)
            stop.set()
            sampler.join(timeout=5)
            ledger = open_ledger(url)
            try:
                actions = ledger.actions()
            finally:
                ledger.close()
    check = check_audit(calls, actions)
    holders = _holders(calls, actions)
    both, total = _both_acting(calls, holders)
    return {
        "seconds": seconds,
        "freezes": frozen,
        "actions_applied": check.seen,
        "actions_audited": check.audited,
        "missing": check.missing,
        "duplicated": check.duplicated,
        "acting_daemons": len(set(holders.values())),
        "samples": total,
        "samples_both_acting": both,
        "calls_while_other_held_lease": _against_lease(calls, holders, samples),
    }


def _sample(url: str, samples: list[LeaseSample], stop: threading.Event) -> None:
    ledger = open_ledger(url)
    try:
        while not stop.wait(0.01):
            lease = ledger.lease(LEASE_NAME)
            now = datetime.now(timezone.utc)
            left = (lease.expires_at - now).total_seconds() if lease else 0.0
            samples.append(LeaseSample(time.monotonic(), lease.holder if lease else None, left))
    finally:
        ledger.close()


def _freeze_leader(samples: list[LeaseSample], procs: list[DaemonProc]) -> bool:
    """SIGSTOP the daemon holding the lease for longer than the lease, then SIGCONT it."""
    holder = samples[-1].holder if samples else None
    if holder is None:
        return False
    pid = int(holder.split(":")[-2])
    if pid not in {p.popen.pid for p in procs}:
        return False
    os.kill(pid, signal.SIGSTOP)
    time.sleep(4.5)
    os.kill(pid, signal.SIGCONT)
    return True


def _holders(calls: list[SeenCall], actions: list[ActionRecord]) -> dict[SeenCall, str]:
    """Which daemon made each call: the n-th applied call on an endpoint is its n-th audited action."""
    found: dict[SeenCall, str] = {}
    for name in {c.name for c in calls}:
        mine = sorted((c for c in calls if c.name == name), key=lambda c: c.start)
        done = [a for a in actions if a.ref.name == name and a.actor == Actor.DAEMON
                and a.outcome in (Outcome.OK, Outcome.UNKNOWN)]  # fmt: skip
        for call, action in zip(mine, sorted(done, key=lambda a: a.id or 0), strict=False):
            found[call] = action.holder or "?"
    return found


def _both_acting(calls: list[SeenCall], holders: dict[SeenCall, str]) -> tuple[int, int]:
    if not calls:
        return 0, 0
    start, end = min(c.start for c in calls), max(c.end for c in calls)
    both = total = 0
    t = start
    while t < end:
        acting = {holders.get(c, "?") for c in calls if c.start <= t < c.end}
        both += len(acting) > 1
        total += 1
        t += 0.01
    return both, total


def _against_lease(calls: list[SeenCall], holders: dict[SeenCall, str], samples: list[LeaseSample]) -> int:
    """Calls that arrived while, in the samples just before and just after, the other daemon held a live lease."""
    bad = 0
    for call in calls:
        before = [s for s in samples if s.at <= call.start][-1:]
        after = [s for s in samples if s.at >= call.start][:1]
        me = holders.get(call)
        if before and after and all(s.holder not in (None, me) and s.expires_in > 0 for s in (*before, *after)):
            bad += 1
    return bad
