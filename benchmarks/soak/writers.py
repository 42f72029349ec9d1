"""8 ledger writer processes (the clients' request records) plus the daemon on the same ledger: no row lost, no
"database is locked", the daemon healthy and its actions audited throughout."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import socket
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from benchmarks.soak.harness import (
    FAST,
    DaemonProc,
    Waker,
    check_audit,
    create_endpoints,
    daemon_config,
    harness_api,
    recording_emulator,
)
from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.emulator import DEMO_USER
from epmgr.errors import LedgerError
from epmgr.ledger import open_ledger


def _write(url: str, writer: int, batches: int, size: int, errors: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ledger = open_ledger(url)
    ref = EndpointRef(DEMO_USER, f"w{writer % 4:02}")
    start = datetime.now(timezone.utc)
    try:
        for b in range(batches):
            at = start + timedelta(milliseconds=b)
            try:
                ledger.record_requests([RequestRecord(ref, at, at, 200, client_id=f"writer-{writer}")] * size)
            except LedgerError as exc:
                errors.put(str(exc))
    finally:
        ledger.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(writers: int = 8, batches: int = 300, size: int = 20, db_url: str | None = None) -> dict[str, float]:
    names = [f"w{i:02}" for i in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = db_url or f"sqlite:///{folder / 'ledger.db'}"
        config = daemon_config(folder / "epmgr.toml", names, interval="1s", lease="3s")
        server, calls = recording_emulator(timings=FAST)
        with server:
            create_endpoints(harness_api(server), names)
            open_ledger(url).close()  # migrated once, before everyone starts
            waker = Waker(harness_api(server))
            waker.start()
            port = _free_port()
            daemon = DaemonProc.start(server, url, config, folder, listen=f"127.0.0.1:{port}")
            daemon.wait_for("leader: acting", timeout=30)
            context = multiprocessing.get_context("spawn")
            errors = context.Queue()
            procs = [context.Process(target=_write, args=(url, i, batches, size, errors)) for i in range(writers)]
            started = time.monotonic()
            for proc in procs:
                proc.start()
            healthy = polls = 0
            while any(p.is_alive() for p in procs):
                polls += 1
                with contextlib.suppress(httpx.HTTPError):
                    healthy += httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            for proc in procs:
                proc.join()
            waker.stop.set()
            waker.join(timeout=5)
            time.sleep(2)
            daemon.popen.send_signal(signal.SIGTERM)
            daemon.end(timeout=20)
            failures = []
            while not errors.empty():
                failures.append(errors.get())
            errors.close()
            errors.join_thread()
            ledger = open_ledger(url)
            try:
                rows = ledger.count_requests()
                check = check_audit(calls, ledger.actions())
            finally:
                ledger.close()
    return {
        "writers": writers,
        "rows_expected": writers * batches * size,
        "rows_written": rows,
        "write_errors": len(failures),
        "locked_errors": sum(1 for f in failures if "locked" in f),
        "healthz_200": healthy,
        "healthz_polls": polls,
        "daemon_actions_applied": check.seen,
        "daemon_actions_audited": check.audited,
        "missing": check.missing,
        "duplicated": check.duplicated,
        "seconds": round(elapsed, 1),
    }
