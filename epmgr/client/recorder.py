"""Activity recording off the hot path: requests are queued in memory and written to the ledger in batches.

A request costs the caller two appends under a lock. A background thread flushes every ``interval`` (or as soon
as ``batch`` records wait): requests that finished before their flush become one complete row; a request still
running ``interval`` after it started becomes an in-flight row (``finished_at`` NULL), finished by a later flush
(the thread wakes when the first running one is due). So the daemon sees a request in flight at most ``interval``
after it started, and a request shorter than that costs one insert, not an insert and an update (with 16 threads
calling, one row in twenty was a request caught running by a flush). Everything is flushed on
:meth:`ActivityRecorder.close`, :meth:`ActivityRecorder.flush` and at interpreter exit; a crash loses at most the
last interval.

While the ledger is down, callers are still served: their records stay queued and every flush tries again. A
record still unwritten ``keep_for`` after its request started (or beyond ``max_queued``) is dropped, never
silently: one warning when the ledger fails, then at most one a minute, one when it is back, and the counts on
:attr:`ActivityRecorder.dropped` and :attr:`ActivityRecorder.queued`.
"""

from __future__ import annotations

import atexit
import gzip
import json
import logging
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from epmgr.clock import Clock, SystemClock
from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.errors import EpmgrError

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by the first flush
    from epmgr.ledger import Ledger

log = logging.getLogger(__name__)

WARN_EVERY = timedelta(minutes=1)


@dataclass
class Pending:
    """One request the recorder knows about (a handle the caller passes back to :meth:`ActivityRecorder.finish`)."""

    ref: EndpointRef
    started_at: datetime
    client_id: str | None
    row_id: int | None = None
    finished_at: datetime | None = None
    status_code: int | None = None
    body: bytes | None = field(default=None, repr=False)  # the answer (or a stream's tail): tokens parsed later
    due: float = field(default=0.0, repr=False)  # time.monotonic() after which a running request gets its row


class ActivityRecorder:
    """Batches request records into the ledger from a background thread.

    Args:
        ledger: Where rows go.
        client_id: Stored with each row ("client", "proxy", "langchain", ...).
        interval: Seconds between flushes; also the longest a running request stays unmarked.
        batch: Flush early once this many records wait.
        clock: Source of timestamps.
        keep_for: While the ledger is down, how long a record is kept (from its request's start) before it is dropped.
        max_queued: While the ledger is down, the most records kept in memory (the oldest are dropped first).

    Example:
        >>> recorder = ActivityRecorder(ledger)  # doctest: +SKIP
        >>> handle = recorder.start(ref)  # doctest: +SKIP
        >>> recorder.finish(handle, 200, body=b'{"usage": {...}}')  # doctest: +SKIP
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        client_id: str | None = "client",
        interval: float = 0.2,
        batch: int = 500,
        clock: Clock | None = None,
        keep_for: timedelta = timedelta(minutes=10),
        max_queued: int = 100_000,
    ) -> None:
        self.ledger = ledger
        self.keep_for = keep_for
        self.max_queued = max_queued
        self.dropped = 0  # records given up while the ledger was down
        self.failing_since: datetime | None = None  # when the ledger started failing (None: it works)
        self._warned_at: datetime | None = None
        self._dropped_since_warning = 0
        self.client_id = client_id
        self.interval = interval
        self.batch = batch
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._new: list[Pending] = []  # started, not yet written
        self._done: list[Pending] = []  # finished after their in-flight row was written
        self._writing = 0  # records taken by the flush under way, not yet written (still counted as queued)
        self._flush_lock = threading.Lock()
        self._closed = False
        self.written = 0  # rows inserted (for tests and benchmarks)
        self._thread = threading.Thread(target=self._run, name="epmgr-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # what is queued is written at exit

    def start(self, ref: EndpointRef, started_at: datetime | None = None, *, client_id: str | None = None) -> Pending:
        """Note that a request to ``ref`` starts now; returns the handle to finish it with.

        ``client_id`` overrides the recorder's own (one recorder serves the clients, LangChain objects and proxy
        of a process).
        """
        due = time.monotonic() + self.interval
        pending = Pending(ref, started_at or self.clock.now(), client_id or self.client_id, due=due)
        with self._lock:
            self._new.append(pending)
            waiting = len(self._new)
        if waiting >= self.batch:
            self._wake.set()
        return pending

    def finish(self, pending: Pending, status_code: int | None, *, body: bytes | None = None) -> None:
        """Note that the request ended with ``status_code`` (None: no response); ``body`` gives token counts."""
        now = self.clock.now()  # read outside the lock: the lock is held only for the handover
        with self._lock:
            pending.finished_at = now
            pending.status_code = status_code
            pending.body = body
            if pending.row_id is not None:
                self._done.append(pending)

    @property
    def queued(self) -> int:
        """Records waiting to be written (or finished) in the ledger."""
        with self._lock:
            return len(self._new) + len(self._done) + self._writing

    def flush(self) -> None:
        """Write everything queued now (called by :meth:`close` and at exit).

        A ledger error keeps what was not written for the next flush (see the module); it never reaches a caller.
        """
        self._flush(None)

    def _flush(self, now: float | None) -> float:
        """Write what is queued; with ``now`` (the thread's ``time.monotonic()``), requests running for less than
        ``interval`` wait for a later flush. Returns the seconds until the first of those is due (else
        ``interval``)."""
        wait = self.interval
        with self._flush_lock:
            with self._lock:
                new, self._new = self._new, []
                done, self._done = self._done, []
                if now is not None and new:
                    young = [p for p in new if p.finished_at is None and p.due > now]
                    if young:  # they stay queued, in order, ahead of the requests started since
                        self._new = young
                        new = [p for p in new if p.finished_at is not None or p.due <= now]
                        wait = min(wait, max(0.001, min(p.due for p in young) - now))
                self._writing = len(new) + len(done)
            try:
                if new:
                    self._write_new(new, done)
                    new = []
                if done:
                    self._write_done(done)
                    done = []
            except EpmgrError as exc:  # the ledger is unusable: keep the records, serve the callers
                self._keep(new, done, exc)
                return wait
            finally:
                with self._lock:
                    self._writing = 0
            if self.failing_since is not None:
                log.warning(
                    "the ledger is back: queued request records written (%d dropped while it was down)", self.dropped
                )
                self.failing_since = self._warned_at = None
        return wait

    def _keep(self, new: list[Pending], done: list[Pending], exc: EpmgrError) -> None:
        """Queue unwritten records again, drop the too old (or too many), and warn at most once a minute."""
        now = self.clock.now()
        if self.failing_since is None:
            self.failing_since = now
        with self._lock:
            self._new[:0] = new
            self._done[:0] = done
            self._writing = 0  # back in the queue, counted there
            dropped = self._drop(self._new, now) + self._drop(self._done, now)
            excess = len(self._new) + len(self._done) - self.max_queued
            if excess > 0:
                cut = min(excess, len(self._new))
                del self._new[:cut]
                del self._done[: excess - cut]
                dropped += excess
            queued = len(self._new) + len(self._done)
        self.dropped += dropped
        self._dropped_since_warning += dropped
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
            log.warning(
                "the ledger is unavailable, request records are queued (%d waiting, %d dropped after %s): %s",
                queued,
                self._dropped_since_warning,
                self.keep_for,
                exc,
            )
            self._warned_at = now
            self._dropped_since_warning = 0

    def _drop(self, records: list[Pending], now: datetime) -> int:
        kept = [p for p in records if now - p.started_at < self.keep_for]
        dropped = len(records) - len(kept)
        records[:] = kept
        return dropped

    def _write_new(self, new: list[Pending], done: list[Pending]) -> None:
        if new:
            records: list[RequestRecord] = []
            running: list[tuple[int, Pending]] = []  # (position, request) of the in-flight rows: they need an id
            with self._lock:  # what each request has shown so far, read at once: one may finish meanwhile
                seen = [(p.finished_at, p.status_code, p.body) for p in new]
            for p, (finished_at, status, body) in zip(new, seen, strict=True):
                if finished_at is None:
                    running.append((len(records), p))
                tokens = token_counts(body) if finished_at is not None else (None, None)
                records.append(
                    RequestRecord(
                        ref=p.ref,
                        started_at=p.started_at,
                        finished_at=finished_at,
                        status_code=status,
                        latency=finished_at - p.started_at if finished_at else None,
                        client_id=p.client_id,
                        tokens_in=tokens[0],
                        tokens_out=tokens[1],
                    )
                )
            ids = self.ledger.write_requests(records)  # finished rows in bulk: only in-flight ones need an id
            self.written += len(ids)
            if running:
                with self._lock:
                    for position, p in running:
                        p.row_id = ids[position]
                        if p.finished_at is not None:
                            done.append(p)  # it finished while its in-flight row was being written

    def _write_done(self, done: list[Pending]) -> None:
        from epmgr.ledger.store import RequestFinish

        if done:
            finishes = []
            for p in done:
                assert p.finished_at is not None and p.row_id is not None
                tokens_in, tokens_out = token_counts(p.body)
                finishes.append(RequestFinish(p.row_id, p.finished_at, p.status_code, tokens_in, tokens_out))
            self.ledger.finish_requests(finishes)

    def _run(self) -> None:
        wait = self.interval
        while not self._closed:
            self._wake.wait(wait)
            self._wake.clear()
            wait = self._flush(time.monotonic())

    def close(self) -> None:
        """Flush what is queued and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()
        with self._lock:
            lost = len(self._new) + len(self._done)
            self._new, self._done = [], []
        if lost:
            self.dropped += lost
            log.warning("the ledger is unavailable at exit: %d request records dropped", lost)
        atexit.unregister(self.close)


def token_counts(body: bytes | None) -> tuple[int | None, int | None]:
    """Prompt and generated token counts from an answer (OpenAI ``usage``, TGI ``details``), when it has them.

    For a stream, ``body`` is its tail: the last event carrying ``usage`` or ``details`` counts.
    """
    body = _decoded(body)
    if not body or (b"usage" not in body and b"details" not in body):  # most answers: nothing to parse
        return None, None
    for chunk in reversed(body.split(b"\n")):
        chunk = chunk.strip()
        if chunk.startswith(b"data:"):
            chunk = chunk[5:].strip()
        if not chunk.startswith((b"{", b"[")) or (b"usage" not in chunk and b"details" not in chunk):
            continue
        try:
            data = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(data, list) and data:
            data = data[0]
        if not isinstance(data, dict):
            continue
        usage = data.get("usage")
        if isinstance(usage, dict):
            return _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        details = data.get("details")
        if isinstance(details, dict):
            return _int(details.get("input_length") or details.get("prefill_length")), _int(
                details.get("generated_tokens")
            )
    return None, None


def _decoded(body: bytes | None) -> bytes | None:
    """``body`` as the server wrote it: a gzip or zlib answer (kept as it came off the wire) decompressed; None when
    it cannot be (a compressed stream's tail, or an encoding without a signature such as brotli)."""
    if not body or body[:1] in (b"{", b"[", b"d"):  # JSON, or an event stream's "data:": the common case
        return body
    try:
        if body.startswith(b"\x1f\x8b"):  # one gzip member in C (a third of gzip.decompress's time), else that
            inflate = zlib.decompressobj(31)
            out = inflate.decompress(body)
            return out if inflate.eof and not inflate.unused_data else gzip.decompress(body)
        if body[:1] == b"\x78":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error):
        return None
    return body


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
