"""`epmgr daemon`: APScheduler 3 wiring around :meth:`epmgr.service.Reconciler.tick`, a fenced leader lease, a
lease heartbeat, signals, and an HTTP server for ``/healthz`` and Prometheus ``/metrics``.

The job body is the service's tick; this module only decides *when* it runs and *whether this process may act*.
Leadership cannot split: each tick takes or renews the lease (an epoch, see :mod:`epmgr.ledger.leases`), every
action re-checks and extends it in the same transaction that audits it (:mod:`epmgr.acting`), a heartbeat renews
it during long ticks, and each API call ends before the lease would.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import uuid
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client import Counter as PromCounter

from epmgr.background_server import is_loopback
from epmgr.clock import Clock
from epmgr.config import Settings
from epmgr.domain.health import TickRecord, assess
from epmgr.domain.model import Lease
from epmgr.errors import EpmgrError
from epmgr.ledger import Ledger
from epmgr.notify.deliver import Notifier
from epmgr.service import ApiFor, Reconciler, TickReport

log = logging.getLogger("epmgr.daemon")

LEASE_NAME = "daemon"
# A schedule edge job runs this long after the edge, so the edge is in the past when the tick reads the clock.
EDGE_DELAY = timedelta(seconds=1)


def tick_error(report: TickReport) -> str | None:
    """What made a tick fail: something failed and nothing worked (every namespace or endpoint errored)."""
    failures = [*report.errors, *(f"{e.ref}: {e.error}" for e in report.endpoints if e.error)]
    if not failures or any(e.error is None for e in report.endpoints):
        return None
    return failures[0] if len(failures) == 1 else f"{failures[0]} (and {len(failures) - 1} more)"


def unauthenticated_warning(listen: str) -> str | None:
    """The warning for a /healthz and /metrics address reachable from other machines (None on loopback)."""
    host = listen.rpartition(":")[0].strip("[]")
    if not listen or is_loopback(host):
        return None
    return (
        f"/healthz and /metrics on {listen} are reachable from other machines and have no authentication "
        "(they show endpoint names, states and spend); prefer 127.0.0.1 behind a proxy that authenticates"
    )


def default_holder() -> str:
    """``host:pid:random``: unique per process, readable in ``epmgr status`` and the lease row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Metrics:
    """The daemon's Prometheus metrics, in a registry of its own (so tests can run several daemons)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ticks = PromCounter(
            "epmgr_ticks", "Reconcile ticks by result (ok, error, standby).", ["result"], registry=r
        )
        self.tick_seconds = Gauge("epmgr_last_tick_duration_seconds", "Duration of the last tick.", registry=r)
        self.last_tick = Gauge("epmgr_last_tick_timestamp_seconds", "When the last tick finished (Unix).", registry=r)
        self.actions = PromCounter(
            "epmgr_actions",
            "Decisions audited, by action, outcome and policy.",
            ["action", "outcome", "policy"],
            registry=r,
        )
        self.endpoints = Gauge("epmgr_endpoints", "Endpoints by state at the last tick.", ["state"], registry=r)
        self.spend = Gauge(
            "epmgr_spend_usd", "Spend by endpoint and period (today, month).", ["endpoint", "period"], registry=r
        )
        self.budget_left = Gauge("epmgr_budget_left_usd", "Budget left by endpoint.", ["endpoint"], registry=r)
        self.api_errors = PromCounter("epmgr_api_errors", "Failed API or ledger operations.", registry=r)
        self.leader = Gauge("epmgr_leader", "1 while this daemon holds the lease.", registry=r)

    def observe(self, report: TickReport) -> None:
        duration = ((report.finished_at or report.started_at) - report.started_at).total_seconds()
        self.ticks.labels("error" if report.errors else "ok").inc()
        self.tick_seconds.set(duration)
        self.last_tick.set((report.finished_at or report.started_at).timestamp())
        self.api_errors.inc(len(report.errors) + sum(1 for e in report.endpoints if e.error))
        self.endpoints.clear()
        for state, count in Counter(e.state.value for e in report.endpoints).items():
            self.endpoints.labels(state).set(count)
        for e in report.endpoints:
            if e.outcome is not None:
                self.actions.labels(e.decision.action.value, e.outcome.value, e.decision.policy).inc()
            self.spend.labels(str(e.ref), "today").set(float(e.spent_today))
            self.spend.labels(str(e.ref), "month").set(float(e.spent_month))
            if e.budget_left is not None:
                self.budget_left.labels(str(e.ref)).set(float(e.budget_left))


class Daemon:
    """Runs the reconcile tick every ``interval`` and at each schedule edge, while holding the leader lease.

    Two daemons on one ledger: each tick first takes or renews the lease ``"daemon"`` for ``lease_ttl``; only its
    holder reconciles, the other stays on standby and takes over at its first tick after the lease expires (so
    within one lease period plus one interval of the leader's death). An action is sent only while the lease is
    held at the epoch the tick started with; once it is lost, the tick stops acting.

    Args:
        settings: The configuration (policies, ``[daemon]``).
        ledger: The ledger.
        clock: The clock.
        api_for: Builds the API of one namespace.
        dry_run: Audit decisions as ``dry_run`` without acting.
        holder: The lease holder id (default: host, pid and a random suffix).
        listen: ``HOST:PORT`` for /healthz and /metrics; None for the settings' address, ``""`` for none.
    """

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        clock: Clock,
        api_for: ApiFor,
        *,
        dry_run: bool = False,
        holder: str | None = None,
        listen: str | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        self.interval = settings.daemon.interval
        self.lease_ttl = settings.daemon.lease_ttl
        self.holder = holder or default_holder()
        self.reconciler = Reconciler(settings, ledger, clock, api_for, dry_run=dry_run)
        self.metrics = Metrics()
        self.notifier = Notifier(settings.notify, ledger, clock, background=True)  # [[notify]]: from the outbox
        self.stopping = threading.Event()
        self.leader = False
        self.lease: Lease | None = None
        self.last_report: TickReport | None = None
        self.last_tick_at: datetime | None = None
        self.ticks: deque[TickRecord] = deque(maxlen=10)
        self.started_at = clock.now()
        self._lock = threading.Lock()
        self._scheduler: BlockingScheduler | None = None
        self._listen = settings.daemon.listen if listen is None else listen
        self._http: ThreadingHTTPServer | None = None

    # -- one tick -----------------------------------------------------------------------------------------------

    def tick(self) -> TickReport | None:
        """Take or renew the lease, then reconcile; returns None on standby (or when stopping)."""
        with self._lock:
            if self.stopping.is_set():
                return None
            try:
                lease = self.ledger.take_lease(LEASE_NAME, self.holder, self.lease_ttl, self.clock.now())
            except EpmgrError as exc:
                log.error("cannot take the lease: %s", exc, extra={"holder": self.holder})
                self.metrics.api_errors.inc()
                self.metrics.ticks.labels("error").inc()
                self.leader, self.lease = False, None
                self.metrics.leader.set(0)
                self._done("leader" if self.leader else "standby", f"cannot take the lease: {exc}")
                return None
            leader = lease is not None
            if leader != self.leader or self.last_tick_at is None:
                log.info("%s" % ("leader: acting" if leader else "standby: another daemon holds the lease"),
                         extra={"holder": self.holder, "epoch": lease.epoch if lease else None})  # fmt: skip
            self.leader, self.lease = leader, lease
            self.metrics.leader.set(1 if leader else 0)
            if lease is None:
                self.metrics.ticks.labels("standby").inc()
                self._done("standby", None)
                return None
            try:
                report = self.reconciler.tick(self.stopping, lease)
            except Exception as exc:  # never let one bad tick kill the daemon: log with the traceback, try again
                log.exception("tick failed")
                self.metrics.ticks.labels("error").inc()
                self._done("leader", f"the tick failed: {type(exc).__name__}: {exc}")
                return None
            if report.lease_lost:
                log.warning("lease lost mid-tick: no further action was sent", extra={"holder": self.holder})
                self.leader, self.lease = False, None
                self.metrics.leader.set(0)
            else:
                self.lease = self.reconciler.lease or lease
            if self._listen:  # per-endpoint gauges only where /metrics can be scraped (not --listen off, --once)
                self.metrics.observe(report)
            self.notifier.on_tick(report)  # enqueues only; delivery runs in its own thread and never blocks a tick
            self.last_report = report
            self._done("leader", tick_error(report))
            duration = ((report.finished_at or report.started_at) - report.started_at).total_seconds()
            log.debug("tick done", extra={"duration_s": round(duration, 3)})
            self._arm_edge(report.next_edge)
            return report

    def _done(self, role: str, error: str | None) -> None:
        self.last_tick_at = self.clock.now()
        self.ticks.append(TickRecord(self.last_tick_at, role, error))

    @property
    def last_error(self) -> str | None:
        """Why the last tick failed (None: it worked, or none ran)."""
        return self.ticks[-1].error if self.ticks else None

    def heartbeat(self) -> Lease | None:
        """Renew the lease held (same epoch) so a long tick keeps it; None when none is held or it was lost."""
        lease = self.lease
        if lease is None:
            return None
        try:
            renewed = self.ledger.renew_lease(lease, self.lease_ttl, self.clock.now())
        except EpmgrError as exc:
            log.error("cannot renew the lease: %s", exc, extra={"holder": self.holder})
            return None
        if renewed is None:
            log.warning("lease lost: it expired or was taken", extra={"holder": self.holder})
        return renewed

    def _heartbeats(self) -> None:
        period = max(self.lease_ttl.total_seconds() / 3, 0.05)
        while not self.stopping.wait(period):
            self.heartbeat()

    def _arm_edge(self, edge: datetime | None) -> None:
        """Run an extra tick just after the next schedule edge, so windows open and close on time."""
        if self._scheduler is None or edge is None or self.stopping.is_set():
            return
        self._scheduler.add_job(
            self.tick, DateTrigger(run_date=edge + EDGE_DELAY, timezone=timezone.utc), id="edge", replace_existing=True
        )

    # -- running ----------------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Block until SIGTERM/SIGINT (or :meth:`stop`): tick every interval, serve /healthz and /metrics.

        On a signal: no new action starts, the one in flight finishes, the lease is released.
        """
        scheduler = BlockingScheduler(
            timezone=timezone.utc,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(1, int(self.interval.total_seconds())),
            },
        )
        self._scheduler = scheduler
        scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.interval.total_seconds(), timezone=timezone.utc),
            id="reconcile",
            next_run_time=datetime.now(timezone.utc),
        )
        self.start_http()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        threading.Thread(target=self._heartbeats, name="epmgr-lease-heartbeat", daemon=True).start()
        log.info(
            "daemon started (interval %ss, lease %ss%s)",
            int(self.interval.total_seconds()),
            int(self.lease_ttl.total_seconds()),
            ", dry run" if self.reconciler.dry_run else "",
            extra={"holder": self.holder},
        )
        try:
            scheduler.start()
        finally:
            self.stopping.set()
            with self._lock:  # wait for the tick in flight to finish its current action
                pass
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: finishing the action in flight, then stopping", signal.Signals(signum).name)
        self.stop()

    def stop(self) -> None:
        """Ask the daemon to stop (from a signal handler or another thread)."""
        self.stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def shutdown(self) -> None:
        """Release the lease (if held) and stop the HTTP server."""
        if self.leader:
            try:
                self.ledger.release_lease(LEASE_NAME, self.holder)
                log.info("lease released", extra={"holder": self.holder})
            except EpmgrError as exc:
                log.error("cannot release the lease: %s", exc)
            self.leader = False
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    # -- /healthz and /metrics -------------------------------------------------------------------------------------

    @property
    def http_address(self) -> tuple[str, int] | None:
        if self._http is None:
            return None
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """The verdict of :func:`epmgr.domain.health.assess` on the recent ticks, with why."""
        verdict = assess(list(self.ticks), self.clock.now(), self.started_at, self.interval,
                         stopping=self.stopping.is_set())  # fmt: skip
        report = self.last_report
        return verdict.healthy, {
            "status": verdict.status,
            "reason": verdict.reason,
            "leader": self.leader,
            "holder": self.holder,
            "epoch": self.lease.epoch if self.lease else None,
            "last_tick_at": self.last_tick_at.isoformat() if self.last_tick_at else None,
            "last_tick_error": self.last_error,
            "failed_ticks": sum(1 for t in self.ticks if t.error),
            "last_tick_errors": len(report.errors) if report else 0,
            "dry_run": self.reconciler.dry_run,
        }

    def start_http(self) -> None:
        """Serve /healthz and /metrics on ``listen`` (nothing when it is empty); a warning if it is not loopback.

        Raises:
            EpmgrError: The address cannot be used (in use, not this machine's, ...).
        """
        if not self._listen or self._http is not None:
            return
        host, _, port = self._listen.rpartition(":")
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                if self.path.split("?")[0] == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(daemon.metrics.registry))
                elif self.path.split("?")[0] == "/healthz":
                    healthy, data = daemon.health()
                    self._send(200 if healthy else 503, "application/json", json.dumps(data).encode())
                else:
                    self._send(404, "text/plain", b"not found: try /healthz or /metrics\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # no access log on stderr
                return

        try:
            self._http = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
        except (OSError, OverflowError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise EpmgrError(f"cannot serve /healthz and /metrics on {self._listen}: {reason}") from exc
        warning = unauthenticated_warning(self._listen)
        if warning:
            log.warning(warning)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="epmgr-http", daemon=True).start()
        log.info("health and metrics on http://%s:%s/healthz and /metrics", *self.http_address or ("?", "?"))
