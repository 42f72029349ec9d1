"""Ledger write throughput on SQLite: one request per transaction vs batches (as the client records them).

Reported as a ratio measured in one run, so the number means the same on any machine.
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.ledger import open_ledger

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
REF = EndpointRef("bench", "ep")


def _records(n: int) -> list[RequestRecord]:
    return [
        RequestRecord(REF, T0 + timedelta(milliseconds=i), T0 + timedelta(milliseconds=i + 5), 200) for i in range(n)
    ]


def run(n: int = 5000, batch: int = 100) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(str(Path(tmp) / "bench.db"))
        records = _records(n)
        started = time.perf_counter()
        for record in records:
            ledger.record_requests([record])
        single = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, n, batch):
            ledger.record_requests(records[i : i + batch])
        batched = time.perf_counter() - started
        ledger.close()
    return {
        "records": n,
        "single_per_s": n / single,
        "batched_per_s": n / batched,
        "batched_over_single": single / batched,
    }
