"""Bulk request ingest: many rows per transaction at the driver's speed, no ids returned.

:meth:`Ingest.append_requests` is the recorder's path for requests that have finished (an in-flight request
needs its id back to be finished later: :meth:`epmgr.ledger.store.Ledger.record_requests`). Rows are built as
plain tuples (timestamps converted once, by hand, to exactly what :class:`~epmgr.ledger.types.UTCDateTime` would
store) and handed to the driver in one call: ``executemany`` on SQLite, ``COPY ... FROM STDIN`` on PostgreSQL.
So a row costs a few microseconds instead of SQLAlchemy's per-row compilation, type processing and RETURNING,
and the write lock (SQLite has one for all processes) is held for as short a time as possible.

Many processes recording into one SQLite file queue for its write lock on a lock file beside it (``flock``: the
kernel wakes the next writer as soon as the lock is free) instead of SQLite's busy handler, which sleeps and retries
(up to 100 ms a try) and so leaves the lock idle while writers sleep. Other writers (the daemon) are unaffected:
they still wait in SQLite's busy handler.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.errors import LedgerError
from epmgr.ledger.base import LedgerBase
from epmgr.ledger.schema import RequestRow
from epmgr.ledger.types import UTCDateTime

_COLUMNS = ("endpoint_id", "started_at", "finished_at", "status_code", "latency_us", "client_id", "tokens_in",
            "tokens_out", "served_by")  # fmt: skip
_SQLITE_INSERT = f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_ONE_SQLITE = _SQLITE_INSERT + " RETURNING id"
_ONE_PG = f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))}) RETURNING id"
_PG_COPY = f"COPY requests ({', '.join(_COLUMNS)}) FROM STDIN"


def sqlite_time(value: datetime | None) -> str | None:
    """``value`` as SQLAlchemy's SQLite DATETIME stores it (naive UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``).

    Raises:
        ValueError: ``value`` is naive (the ledger never guesses a time zone).

    Example:
        >>> sqlite_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
        '2026-01-02 03:04:05.000000'
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"the ledger stores aware datetimes only, got {value!r}")
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"the ledger stores aware datetimes only, got {value!r}")
    return value


@dataclass(frozen=True)
class RequestFinish:
    """The end of a request recorded earlier as in flight."""

    id: int
    finished_at: datetime
    status_code: int | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None


_REQUESTS = cast(Table, RequestRow.__table__)
_FINISH = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("f_id"))
    .values(finished_at=bindparam("f_at", type_=UTCDateTime), status_code=bindparam("f_status"),
            latency_us=bindparam("f_latency"), tokens_in=bindparam("f_in"), tokens_out=bindparam("f_out"))
)  # fmt: skip


def _micros(delta: timedelta | None) -> int | None:
    if delta is None:
        return None
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]


class WriterQueue:
    """Writers of one SQLite file in turn, through ``flock`` on ``<file>-writers`` (see the module).

    Args:
        database: The SQLite file; None (PostgreSQL, in-memory) or no ``fcntl``: no queue.
    """

    def __init__(self, database: str | None) -> None:
        self.path = f"{database}-writers" if database and database != ":memory:" and fcntl is not None else None
        self._lock = threading.Lock()  # flock does not separate threads sharing the descriptor
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            if self.path is None:
                yield
                return
            if self._fd is None or self._pid != os.getpid():  # a forked child opens its own description
                self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class Ingest(LedgerBase):
    """The bulk insert path of the ledger's requests table."""

    @property
    def writers(self) -> WriterQueue:
        """This ledger's writer queue (made on first use)."""
        queue = self.__dict__.get("_writers")
        if queue is None:
            url = self.engine.url
            queue = self.__dict__["_writers"] = WriterQueue(
                url.database if url.get_backend_name() == "sqlite" else None
            )
        return queue

    def append_requests(self, records: Sequence[RequestRecord]) -> int:
        """Insert request records in one transaction without returning their ids; returns how many.

        Same rows as :meth:`~epmgr.ledger.store.Ledger.record_requests` (the endpoints are created if new).
        """
        return len(self.write_requests(records, ids=False))

    def write_requests(self, records: Sequence[RequestRecord], *, ids: bool = True) -> list[int | None]:
        """Insert request records in one transaction: the finished ones in bulk, the in-flight ones one by one.

        Returns, in order, the id of each in-flight record (``ids``: it is needed to finish it later) and None
        for the others. The recorder's batch method.
        """
        if not records:
            return []
        sqlite = self.engine.dialect.name == "sqlite"
        try:
            rows = [_row(r, sqlite_time if sqlite else _aware) for r in records]
        except ValueError as exc:
            raise LedgerError(f"ledger write failed: {exc}") from None
        out: list[int | None] = [None] * len(rows)
        with self.writers.turn(), self._write() as conn:
            firsts: dict[EndpointRef, datetime] = {}
            for r in records:
                firsts.setdefault(r.ref, r.started_at)
            endpoint = {ref: self._endpoint_id(conn, ref, first) for ref, first in firsts.items()}
            bulk: list[tuple[Any, ...]] = []
            for i, (record, row) in enumerate(zip(records, rows, strict=True)):
                row = (endpoint[record.ref], *row)
                if ids and record.finished_at is None:
                    out[i] = int(conn.exec_driver_sql(_ONE_SQLITE if sqlite else _ONE_PG, row).scalar_one())
                else:
                    bulk.append(row)
            if bulk and sqlite:
                conn.exec_driver_sql(_SQLITE_INSERT, bulk)
            elif bulk:
                _copy(conn, bulk)
        return out

    def finish_requests(self, finishes: Sequence[RequestFinish]) -> None:
        """Mark requests recorded as in flight as finished: one read of their starts, one batched update.

        Raises:
            LedgerError: One of the requests is not in the ledger (nothing is changed).
        """
        if not finishes:
            return
        with self.writers.turn(), self._write() as conn:
            started: dict[int, datetime] = {}
            ids = [f.id for f in finishes]
            for i in range(0, len(ids), 500):
                found = conn.execute(
                    select(RequestRow.id, RequestRow.started_at).where(RequestRow.id.in_(ids[i : i + 500]))
                )
                started.update((row.id, row.started_at) for row in found)
            missing = sorted(set(ids) - started.keys())
            if missing:
                raise LedgerError(f"ledger write failed: no request with id {', '.join(map(str, missing[:5]))}")
            conn.execute(
                _FINISH,
                [
                    {"f_id": f.id, "f_at": f.finished_at, "f_status": f.status_code,
                     "f_latency": _micros(f.finished_at - started[f.id]), "f_in": f.tokens_in, "f_out": f.tokens_out}
                    for f in finishes
                ],
            )  # fmt: skip


def _row(r: RequestRecord, convert: Callable[[datetime | None], Any]) -> tuple[Any, ...]:
    """The columns after ``endpoint_id``, as the driver takes them."""
    return (convert(r.started_at), convert(r.finished_at), r.status_code, _micros(r.latency), r.client_id,
            r.tokens_in, r.tokens_out, r.served_by)  # fmt: skip


def _copy(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL's COPY through psycopg, inside ``conn``'s transaction."""
    driver: Any = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
        for row in rows:
            copy.write_row(row)
