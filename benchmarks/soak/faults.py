"""20% API faults (429, 500, 503) for 1,000 daemon decisions, on a fake clock: every decision is made or its
failure is reported cleanly (an epmgr error, never a raw exception), and every action applied is audited once."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks.soak.harness import FAST, check_audit, create_endpoints, harness_api, recording_emulator
from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.clock import FakeClock
from epmgr.config import load_settings
from epmgr.daemon import Daemon
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointState
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, FaultConfig
from epmgr.errors import EpmgrError
from epmgr.ledger import open_ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def run(decisions: int = 1000, endpoints: int = 20, rate: float = 0.2, seed: int = 3) -> dict[str, float]:
    names = [f"f{i:02}" for i in range(endpoints)]
    clock = FakeClock(T0)
    made = failed_actions = ok_actions = failed_ticks = raw = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "epmgr.toml"
        config.write_text(
            '[daemon]\ninterval = "30s"\nlease_ttl = "90s"\n[defaults]\nscale_to_zero_after = "1m"\n'
            'pause_after = "off"\nmin_uptime = "0s"\n' + "".join(f'[[endpoints]]\nname = "{n}"\n' for n in names)
        )
        settings = load_settings(config, env={"EPMGR_NAMESPACE": DEMO_USER, "HF_TOKEN": DEMO_TOKEN})
        ledger = open_ledger(f"sqlite:///{folder / 'ledger.db'}")
        server, calls = recording_emulator(timings=FAST, clock=clock)
        with server:
            waker = harness_api(server)
            create_endpoints(waker, names)
            clock.advance(timedelta(seconds=1))
            server.faults.configure(FaultConfig(rate=rate, kinds=("429", "500", "503"), seed=seed, retry_after=0))
            backoff = Backoff(base_s=0.001, cap_s=0.005, attempts=3, max_retry_after_s=0.005)
            api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url, backoff=backoff)
            daemon = Daemon(settings, ledger, clock, lambda _ns: api, listen="", holder="soak")
            while made < decisions:
                try:
                    report = daemon.tick()
                except Exception:  # a raw exception out of a tick: the very thing this soak hunts
                    raw += 1
                    report = None
                if report is None or daemon.last_error:
                    failed_ticks += 1
                if report is not None:
                    made += len(report.endpoints)
                    ok_actions += sum(1 for e in report.endpoints if e.outcome is not None and e.error is None)
                    failed_actions += sum(1 for e in report.endpoints if e.error)
                clock.advance(timedelta(seconds=30))
                _wake(waker)
            injected = sum(server.faults.injected.values())
            server.faults.configure(FaultConfig())
            check = check_audit(calls, ledger.actions())
        ledger.close()
    return {
        "decisions": made,
        "faults_injected": injected,
        "actions_ok": ok_actions,
        "actions_failed_cleanly": failed_actions,
        "ticks_failed": failed_ticks,
        "raw_exceptions": raw,
        "applied": check.seen,
        "audited": check.audited,
        "missing": check.missing,
        "duplicated": check.duplicated,
        "left_started": check.left_started,
    }


def _wake(api: HfEndpointsAPI) -> None:
    try:
        for snapshot in api.list_endpoints():
            if snapshot.state == EndpointState.SCALED_TO_ZERO:
                api.resume(snapshot.ref.name)
    except EpmgrError:
        return
