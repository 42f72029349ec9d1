"""Runs the one wake flow (:func:`epmgr.domain.wakeflow.wake_flow`) for one endpoint: a sync and an async driver.

The flow decides; a driver only carries its steps out (the management API, the coordinator, the health route, a
held request, the clock). Wakes are single flight: the threads of a process share one wake per endpoint through
the :class:`Flights` their factory owns, the tasks of one event loop share one, and processes on one ledger
share one through the :class:`~epmgr.client.coordinator.WakeCoordinator`'s lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from epmgr.client.coordinator import InProcessCoordinator, LedgerCoordinator, WakeCoordinator
from epmgr.clock import Clock, SystemClock
from epmgr.domain.model import Actor, EndpointRef, EndpointSnapshot
from epmgr.domain.wake import SHOWS_URL, PollCadence
from epmgr.domain.wakeflow import (
    SLEEPING,
    Look,
    Probe,
    Ready,
    Reply,
    Resume,
    Seen,
    Step,
    Target,
    Trigger,
    Wait,
    wake_flow,
)
from epmgr.errors import ApiUnavailable
from epmgr.ports import EndpointsAPI

if TYPE_CHECKING:
    from epmgr.ledger import Ledger

HEALTH_TIMEOUT = httpx.Timeout(5.0)
SCALE_UP_HEADER = "X-Scale-Up-Timeout"
TRIGGER_PATH = "/info"  # a real request (it wakes a scaled-to-zero endpoint), which costs no tokens

__all__ = ["Flights", "Ready", "Waker", "tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process (building one reads the CA bundle: ~30 ms each)."""
    return httpx.create_ssl_context()


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: Ready | None = None
    error: BaseException | None = None
    finished_at: datetime | None = None


class Flights:
    """The wakes in progress in one process, one per endpoint (owned by a :class:`~epmgr.client.runtime.Runtime`)."""

    def __init__(self) -> None:
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    def join(self, key: str, since: datetime | None) -> tuple[_Flight, bool]:
        """The flight to wait for and whether the caller leads it (a flight finished after ``since`` is reused)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and flight.done.is_set():
                fresh = since is not None and flight.finished_at is not None and flight.finished_at >= since
                if not (fresh and flight.result is not None):
                    flight = None
            if flight is not None:
                return flight, False
            return self._new(key)

    def _new(self, key: str) -> tuple[_Flight, bool]:
        flight = self._flights[key] = _Flight()
        return flight, True


class Waker:
    """Makes one endpoint ready to serve, with one resume call however many callers need it.

    Args:
        ref: The endpoint (None for a bare URL: only its URL is probed and triggered).
        api: The management API (None: the URL only).
        coordinator: The lease and published states (default: this process only).
        flights: The process's single-flight table (default: this waker's own).
        url: The endpoint's URL if known (a paused endpoint has none until it resumes).
        token: Sent to the endpoint.
        timeout: How long a wake may take in all.
        health_route: The endpoint's health route.
        cadence: How often to probe the health route and ask the API.
        clock: Time and sleeping.
        ledger: Shorthand for ``coordinator=LedgerCoordinator(ledger, clock, actor, lease_ttl)``.
    """

    def __init__(
        self,
        ref: EndpointRef | None,
        *,
        api: EndpointsAPI | None = None,
        coordinator: WakeCoordinator | None = None,
        flights: Flights | None = None,
        url: str | None = None,
        token: str | None = None,
        timeout: timedelta = timedelta(minutes=10),
        health_route: str = "/health",
        cadence: PollCadence | None = None,
        clock: Clock | None = None,
        ledger: Ledger | None = None,
        actor: Actor = Actor.CLIENT,
        lease_ttl: timedelta = timedelta(seconds=30),
    ) -> None:
        self.ref = ref
        self.api = api
        self.clock = clock or SystemClock()
        if coordinator is None and ledger is not None:
            coordinator = LedgerCoordinator(ledger, self.clock, actor, lease_ttl)
        self.coordinator = coordinator or InProcessCoordinator()
        self.flights = flights or Flights()
        self.url = url.rstrip("/") if url else None
        self.timeout = timeout
        self.health_route = health_route
        self.cadence = cadence or PollCadence()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http: httpx.Client | None = None
        self._wakes: dict[int, asyncio.Future[Ready]] = {}
        self.resume_calls = 0  # made by this waker (tests, metrics)
        self._url_asked: str | None = None  # the last wake (holder) that asked the API for the URL as a follower

    @property
    def name(self) -> str:
        return str(self.ref) if self.ref else (self.url or "the endpoint")

    def learn(self, snapshot: EndpointSnapshot) -> None:
        """Take the URL and health route a snapshot shows."""
        if snapshot.url:
            self.url = snapshot.url.rstrip("/")
        self.health_route = snapshot.health_route or self.health_route

    def close(self) -> None:
        """Close the probes' connections (a later wake opens new ones: parts may be shared)."""
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- the flow and its steps ---------------------------------------------------------------------

    def _flow(self) -> Generator[Step, Reply, Ready]:
        target = Target(self.name, self.url, self.health_route, managed=self.ref is not None and self.api is not None)
        return wake_flow(target, self.clock.now(), self.timeout, self.cadence)

    def _look(self, step: Look, holder: str) -> object:
        assert self.ref is not None and self.api is not None
        now = self.clock.now()
        if not self.coordinator.lead(self.ref, holder, now):
            state = self.coordinator.last_state(self.ref)
            if state is None:
                return None
            if self.url is None and state in SHOWS_URL and (step.ask_api or self._url_asked != holder):
                self._follower_url(holder)  # where to probe: the leader publishes states, not the URL
            return Seen(state, self.url, self.health_route, leader=False)
        if not step.ask_api:
            return None
        try:
            snapshot = self.api.get(self.ref.name)
        except ApiUnavailable as exc:  # a wake of minutes outlives an outage of the API; the deadline bounds it
            return exc
        self.coordinator.publish(snapshot, now)
        self.learn(snapshot)
        budget = self.coordinator.budget(self.ref, now) if snapshot.state in SLEEPING else None
        return Seen(snapshot.state, snapshot.url, snapshot.health_route, snapshot.message, True, budget)

    def _follower_url(self, holder: str) -> None:
        """A follower of a wake that never saw the endpoint running asks the API for its URL: at once when the
        leader publishes a state that shows one, then at the API's turns (else it could probe nothing and would
        wait for the lease, one process after another)."""
        assert self.ref is not None and self.api is not None
        self._url_asked = holder
        with contextlib.suppress(ApiUnavailable):  # no news: asked again at the API's next turn
            self.learn(self.api.get(self.ref.name))

    def _resume(self, holder: str) -> Seen | None:
        assert self.ref is not None and self.api is not None
        if not self.coordinator.fence(self.ref, holder, self.clock.now()):
            return None  # fenced: the one resume call is made only by a holder whose lease is still its own
        self.resume_calls += 1
        try:
            snapshot = self.coordinator.resumer(self.api, self.ref.name, holder)()  # called from here: one file less
        except ApiUnavailable:  # audited as failed; called again at the API's next turn
            return None
        if snapshot is None:
            return None  # the lease was lost between the fence and the audited call: nothing was sent
        self.learn(snapshot)
        return Seen(snapshot.state, snapshot.url, snapshot.health_route, snapshot.message)

    def _request(self, step: Probe | Trigger) -> httpx.Request:
        """A health check, or a real request held while a scaled-to-zero endpoint scales up."""
        if isinstance(step, Probe):
            url, headers, timeout = f"{step.url}/{step.route.lstrip('/')}", self.headers, HEALTH_TIMEOUT
        else:
            url, headers = f"{step.url}{TRIGGER_PATH}", {**self.headers, SCALE_UP_HEADER: str(step.hold_s)}
            timeout = httpx.Timeout(step.hold_s + 30.0, connect=10.0)
        return httpx.Request("GET", url, headers=headers, extensions={"timeout": timeout.as_dict()})

    # -- the sync driver ----------------------------------------------------------------------------

    def ensure_awake(self, since: datetime | None = None) -> Ready:
        """Return once the endpoint serves (or, scaled to zero, will serve a held request).

        Args:
            since: When the caller's failed request was sent: a wake of this process that finished after it
                is reused without looking again.

        Raises:
            The flow's errors (see :func:`~epmgr.domain.wakeflow.wake_flow`), and QuotaExceeded from a resume.
        """
        flight, leader = self.flights.join(self.name, since)
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            flight.result = self._drive()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            flight.finished_at = self.clock.now()
            flight.done.set()

    def _drive(self) -> Ready:
        holder = _holder()
        flow = self._flow()
        try:
            step = next(flow)
            while True:
                step = flow.send(Reply(self.clock.now(), self._carry_out(step, holder)))
        except StopIteration as done:
            ready: Ready = done.value
            return ready
        finally:
            if self.ref is not None:
                self.coordinator.release(self.ref, holder)

    def _carry_out(self, step: Step, holder: str) -> object:
        if isinstance(step, Look):
            return self._look(step, holder)
        if isinstance(step, Resume):
            return self._resume(holder)
        if isinstance(step, Wait):
            self.clock.sleep(step.delay.total_seconds())
            return None
        if self._http is None:
            self._http = httpx.Client(verify=tls_context())
        try:
            return self._http.send(self._request(step)).status_code
        except httpx.TransportError:
            return None

    # -- the async driver ---------------------------------------------------------------------------

    async def ensure_awake_async(self, since: datetime | None = None) -> Ready:
        """:meth:`ensure_awake` for asyncio: the tasks of one event loop share one wake."""
        key = id(asyncio.get_running_loop())
        running = self._wakes.get(key)
        if running is None or running.done():
            running = self._wakes[key] = asyncio.ensure_future(self._drive_async())
        return await asyncio.shield(running)

    async def _drive_async(self) -> Ready:
        holder = _holder()
        flow = self._flow()
        async with httpx.AsyncClient(verify=tls_context()) as http:
            try:
                step = next(flow)
                while True:
                    step = flow.send(Reply(self.clock.now(), await self._carry_out_async(step, holder, http)))
            except StopIteration as done:
                ready: Ready = done.value
                return ready
            finally:
                if self.ref is not None:
                    await asyncio.to_thread(self.coordinator.release, self.ref, holder)

    async def _carry_out_async(self, step: Step, holder: str, http: httpx.AsyncClient) -> object:
        if isinstance(step, Look | Resume | Wait):  # the API, the ledger and the clock block: a worker thread
            call: Callable[[], object] = functools.partial(self._carry_out, step, holder)
            return await asyncio.to_thread(call)
        try:
            return (await http.send(self._request(step))).status_code
        except httpx.TransportError:
            return None


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
