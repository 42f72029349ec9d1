"""Fallback answers in the ledger: one request row each, under the primary endpoint, with ``served_by`` set.

Written in batches by a background thread (never on the request's path); a ledger that is down costs the rows,
never the answer (a warning says so).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.errors import EpmgrError

log = logging.getLogger("epmgr.fallback")
FLUSH_S = 0.5


def tokens_of(answer: Any) -> tuple[int | None, int | None]:
    """Token counts from a chat answer's ``usage``; for plain text, an estimate of 4 characters a token."""
    usage = getattr(answer, "usage", None)
    if usage is not None:
        return getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if isinstance(answer, str):
        return None, math.ceil(len(answer) / 4)
    return None, None


def ledger_and_ref(client: Any) -> tuple[Any, EndpointRef | None]:
    """The ledger and endpoint epmgr's client records under (None, None without a ledger)."""
    parts = getattr(client, "parts", None)
    ref = getattr(parts, "ref", None)
    for owner in (parts, getattr(parts, "recorder", None), getattr(getattr(parts, "waker", None), "coordinator", None)):
        ledger = getattr(owner, "ledger", None)
        if ledger is not None and hasattr(ledger, "append_requests"):
            return ledger, ref
    return None, ref


class UsageWriter:
    """Queues fallback request rows and writes them every ``FLUSH_S`` seconds and at close.

    Args:
        locate: Returns the ledger and the primary's ref (asked at write time: the client finds them lazily).
    """

    def __init__(self, locate: Callable[[], tuple[Any, EndpointRef | None]]) -> None:
        self.locate = locate
        self._rows: list[tuple[str, datetime, datetime, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.written = 0

    def add(self, served_by: str, started: datetime, finished: datetime, answer: Any) -> None:
        with self._lock:
            self._rows.append((served_by, started, finished, answer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="epmgr-fallback-usage", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        ledger, ref = self.locate()
        if ledger is None or ref is None:
            return
        records = []
        for served_by, started, finished, answer in rows:
            tokens_in, tokens_out = tokens_of(answer)
            records.append(RequestRecord(ref, started, finished, 200, finished - started, "fallback", tokens_in,
                                         tokens_out, served_by=served_by))  # fmt: skip
        try:
            ledger.append_requests(records)
            self.written += len(records)
        except EpmgrError as exc:
            log.warning("fallback usage: %d request rows not recorded: %s", len(records), exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
