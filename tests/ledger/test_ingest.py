"""The bulk ingest path writes exactly the rows the ORM path writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import replace
from datetime import timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.errors import LedgerError
from epmgr.ledger import Ledger, open_ledger
from epmgr.ledger.ingest import WriterQueue
from epmgr.ledger.store import RequestFinish
from tests.conftest import T0

A = EndpointRef("demo", "a")
B = EndpointRef("demo", "b")


def _records(ref: EndpointRef, client: str) -> list[RequestRecord]:
    berlin = ZoneInfo("Europe/Berlin")
    return [
        RequestRecord(ref, T0, T0 + timedelta(milliseconds=5), 200, timedelta(milliseconds=5), client, 3, 7),
        RequestRecord(ref, T0.astimezone(berlin) + timedelta(seconds=1), None, None, None, client),
        RequestRecord(ref, T0 + timedelta(seconds=2, microseconds=1), T0 + timedelta(seconds=3), 503, None, None),
    ]


def _without_ids(records: list[RequestRecord]) -> list[RequestRecord]:
    return [replace(r, id=None, started_at=r.started_at.astimezone(timezone.utc)) for r in records]


def test_append_writes_the_rows_record_writes(ledger: Ledger) -> None:
    ledger.record_requests(_records(A, "orm"))
    assert ledger.append_requests(_records(B, "bulk") + _records(A, "bulk")) == 6
    orm = [replace(r, client_id=None) for r in ledger.requests(A) if r.client_id == "orm"]
    bulk_a = [replace(r, client_id=None) for r in ledger.requests(A) if r.client_id == "bulk"]
    bulk_b = [replace(r, client_id=None, ref=A) for r in ledger.requests(B) if r.client_id == "bulk"]
    assert _without_ids(bulk_a) == _without_ids(orm) == _without_ids(bulk_b)
    assert ledger.count_requests() == 9
    activity = ledger.activity(B, T0 + timedelta(minutes=1))
    assert activity.last_request_at == T0 + timedelta(seconds=3)
    assert activity.in_flight == 1 and activity.requests_last_hour == 3


def test_sqlite_stores_the_same_text(ledger: Ledger) -> None:
    if ledger.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's storage format only")
    ledger.record_requests(_records(A, "orm")[:1])
    ledger.append_requests(_records(A, "bulk")[:1])
    with ledger.engine.connect() as conn:
        stored = conn.execute(text("SELECT started_at, finished_at FROM requests ORDER BY id")).all()
    assert stored[0] == stored[1]


def test_naive_times_are_refused_and_nothing_is_written(ledger: Ledger) -> None:
    naive = RequestRecord(A, T0.replace(tzinfo=None))
    with pytest.raises(LedgerError, match="aware datetimes only"):
        ledger.append_requests([RequestRecord(A, T0), naive])
    assert ledger.count_requests() == 0
    assert ledger.append_requests([]) == 0


def test_write_returns_the_ids_of_requests_in_flight(ledger: Ledger) -> None:
    records = _records(A, "mixed")
    ids = ledger.write_requests(records)
    assert ids[0] is None and ids[2] is None and isinstance(ids[1], int)
    (open_request,) = [r for r in ledger.requests(A) if r.finished_at is None]
    assert open_request.id == ids[1]
    assert _without_ids(ledger.requests(A)) == _without_ids(records)


def test_finish_updates_a_batch_and_refuses_an_unknown_id_whole(ledger: Ledger) -> None:
    ids = ledger.write_requests([RequestRecord(A, T0 + timedelta(seconds=i)) for i in range(3)])
    first, second, third = (i for i in ids if i is not None)
    with pytest.raises(LedgerError, match="no request with id 999999"):
        ledger.finish_requests([RequestFinish(first, T0 + timedelta(minutes=1), 200), RequestFinish(999999, T0)])
    assert all(r.finished_at is None for r in ledger.requests(A))
    ledger.finish_requests(
        [RequestFinish(first, T0 + timedelta(seconds=2), 200, 4, 9), RequestFinish(third, T0 + timedelta(seconds=7))]
    )
    done = {r.id: r for r in ledger.requests(A)}
    assert done[first].latency == timedelta(seconds=2) and (done[first].tokens_in, done[first].tokens_out) == (4, 9)
    assert done[third].latency == timedelta(seconds=5) and done[third].status_code is None
    assert done[second].finished_at is None


def test_the_writer_queue_holds_an_flock_beside_the_sqlite_file(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    queue = WriterQueue(str(tmp_path / "ledger.db"))
    assert queue.path == str(tmp_path / "ledger.db-writers")
    assert WriterQueue(None).path is None and WriterQueue(":memory:").path is None
    with queue.turn():
        other = os.open(str(queue.path), os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once the turn is over
    os.close(other)


def _append_from_process(url: str, worker: int) -> None:
    ledger = open_ledger(url)
    ref = EndpointRef("demo", f"ep-{worker % 2}")
    records = [RequestRecord(ref, T0 + timedelta(milliseconds=i), T0 + timedelta(milliseconds=i + 1), 200)
               for i in range(1000)]  # fmt: skip
    for i in range(0, len(records), 100):
        ledger.append_requests(records[i : i + 100])
    ledger.close()


def test_four_processes_append_without_losing_a_row(ledger_url: str) -> None:
    open_ledger(ledger_url).close()  # migrated once, before the writers start
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_from_process, args=(ledger_url, n)) for n in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    assert [p.exitcode for p in processes] == [0] * 4
    ledger = open_ledger(ledger_url)
    try:
        assert ledger.count_requests() == 4000
    finally:
        ledger.close()
