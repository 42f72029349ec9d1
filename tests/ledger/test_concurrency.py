"""Many processes write one ledger at once without "database is locked" and without losing a row."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.ledger import open_ledger
from tests.conftest import T0

PROCESSES = 8
RECORDS_EACH = 2000


def write_requests(url: str, worker: int) -> None:
    """One process: open (and so migrate) the ledger, then write each record in its own transaction."""
    ledger = open_ledger(url)
    ref = EndpointRef("demo", f"ep-{worker % 3}")  # several processes share endpoints, too
    for i in range(RECORDS_EACH):
        started = T0 + timedelta(milliseconds=i)
        ledger.record_requests([RequestRecord(ref, started, started, 200, timedelta(0), f"worker-{worker}")])
    ledger.close()


def test_eight_processes_write_sixteen_thousand_rows(ledger_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=write_requests, args=(ledger_url, n)) for n in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    ledger = open_ledger(ledger_url)
    try:
        assert ledger.count_requests() == PROCESSES * RECORDS_EACH
        per_client = {r.client_id for r in ledger.requests()}
        assert per_client == {f"worker-{n}" for n in range(PROCESSES)}
    finally:
        ledger.close()
