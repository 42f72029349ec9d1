"""What the clients of one process share, owned by one object: wake flights, ledgers, recorders, URL matches.

:func:`default_runtime` builds the process's :class:`Runtime` on first use (clients, transports, LangChain
objects and the proxy all use it unless given their own); tests build their own and close it. One ledger (one
engine, migrated at most once) and one recorder (one thread) per database URL; closed and flushed at exit.
"""

from __future__ import annotations

import atexit
import functools
import threading
from typing import TYPE_CHECKING

from epmgr.client.recorder import ActivityRecorder
from epmgr.client.waker import Flights
from epmgr.clock import Clock
from epmgr.domain.model import EndpointRef

if TYPE_CHECKING:  # SQLAlchemy is imported by the first ledger, not by the client
    from epmgr.ledger import Ledger


class Runtime:
    """The shared parts of the clients built from it (see module)."""

    def __init__(self) -> None:
        self.flights = Flights()
        self._ledgers: dict[str, Ledger] = {}
        self._recorders: dict[str, ActivityRecorder] = {}
        self._matches: dict[tuple[str, str], EndpointRef] = {}  # (namespace, URL) -> endpoint
        self._lock = threading.Lock()

    def ledger(self, url: str) -> Ledger:
        """One ledger per database URL (most clients find it current: checking takes no write lock)."""
        from epmgr.errors import SchemaOutdated
        from epmgr.ledger import open_ledger

        with self._lock:
            ledger = self._ledgers.get(url)
            if ledger is None:
                try:
                    ledger = open_ledger(url, upgrade=False)
                except SchemaOutdated:
                    ledger = open_ledger(url)
                self._ledgers[url] = ledger
            return ledger

    def recorder(self, url: str, clock: Clock) -> ActivityRecorder:
        """The one recorder (one thread) of database ``url``; each request names its client."""
        ledger = self.ledger(url)
        with self._lock:
            recorder = self._recorders.get(url)
            if recorder is None:
                recorder = self._recorders[url] = ActivityRecorder(ledger, client_id="client", clock=clock)
            return recorder

    def match(self, namespace: str, url: str) -> EndpointRef | None:
        """The endpoint a URL was matched to in this process."""
        return self._matches.get((namespace, url.rstrip("/")))

    def remember(self, namespace: str, url: str, ref: EndpointRef) -> None:
        with self._lock:
            self._matches[(namespace, url.rstrip("/"))] = ref

    def flush(self) -> None:
        for recorder in list(self._recorders.values()):
            recorder.flush()

    def close(self) -> None:
        """Flush and stop the recorders, dispose of the ledgers (at exit; tests switching databases)."""
        with self._lock:
            recorders, ledgers = list(self._recorders.values()), list(self._ledgers.values())
            self._recorders.clear()
            self._ledgers.clear()
            self._matches.clear()
        for recorder in recorders:
            recorder.close()
        for ledger in ledgers:
            ledger.close()


@functools.cache
def default_runtime() -> Runtime:
    """The process's runtime, built on first use and closed at exit."""
    runtime = Runtime()
    atexit.register(runtime.close)
    return runtime
