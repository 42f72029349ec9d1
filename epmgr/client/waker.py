"""Drives the pure wake plan (:func:`epmgr.domain.wake.plan_wake`) for one endpoint, as a single flight.

Single flight at three levels:

- threads of one process share one wake per endpoint (the first caller runs it, the others wait for its result);
- asyncio tasks share one through :class:`epmgr.client.aio.AsyncWaker`, which runs this in a worker thread;
- processes on one ledger take the lease ``wake:{namespace}/{name}``: its holder makes the one resume call and
  polls the management API, publishing each state it sees into the ledger; the others read the ledger and poll
  the endpoint's health route (not the rate-limited API), and take the lease over only if it is released or
  expires.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from epmgr.clock import Clock, SystemClock
from epmgr.domain.model import ActionKind, Actor, ChangeSource, EndpointRef, EndpointSnapshot, EndpointState
from epmgr.domain.wake import (
    PollCadence,
    WakeAction,
    WakeView,
    budget_message,
    failed_message,
    next_sleep,
    plan_wake,
    timeout_message,
)
from epmgr.errors import ApiUnavailable, BudgetExceeded, EndpointFailed, WakeError, WakeTimeout
from epmgr.ledger import Ledger
from epmgr.operations import Operator
from epmgr.ports import EndpointsAPI

HEALTH_TIMEOUT = httpx.Timeout(5.0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the process (building one reads the CA bundle: ~30 ms each)."""
    return httpx.create_ssl_context()


MIN_SLEEP = timedelta(milliseconds=10)


@dataclass(frozen=True)
class Ready:
    """The outcome of a wake: where to send, and how.

    Args:
        url: The endpoint's URL.
        hold: Send with ``X-Scale-Up-Timeout`` (scaled to zero: the request itself starts the scale-up).
        woke: The endpoint was asleep (a cold start happened, or is happening).
    """

    url: str
    hold: bool = False
    woke: bool = True


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    result: Ready | None = None
    error: BaseException | None = None
    finished_at: datetime | None = None


_FLIGHTS: dict[str, _Flight] = {}
_FLIGHTS_LOCK = threading.Lock()


class Waker:
    """Makes one endpoint ready to serve, with one resume call however many callers need it.

    Args:
        ref: The endpoint (None for a bare URL: then only cold starts are ridden out, a paused endpoint is an error).
        api: The management API (None: no resume, no state; the health route only).
        ledger: Shared state between processes (lease, published states, budget holds); None: this process only.
        url: The endpoint's URL if known (a paused endpoint has none until it resumes).
        token: Sent to the health route.
        timeout: How long a wake may take in all.
        health_route: The endpoint's health route.
        cadence: How often to poll the health route and the API.
        lease_ttl: How long a crashed waker blocks the others before one of them takes over.
        clock: Time and sleeping.
        actor: Who the audit log names for the resume.
    """

    def __init__(
        self,
        ref: EndpointRef | None,
        *,
        api: EndpointsAPI | None = None,
        ledger: Ledger | None = None,
        url: str | None = None,
        token: str | None = None,
        timeout: timedelta = timedelta(minutes=10),
        health_route: str = "/health",
        cadence: PollCadence | None = None,
        lease_ttl: timedelta = timedelta(seconds=30),
        clock: Clock | None = None,
        actor: Actor = Actor.CLIENT,
    ) -> None:
        self.ref = ref
        self.api = api
        self.ledger = ledger
        self.url = url.rstrip("/") if url else None
        self.timeout = timeout
        self.health_route = health_route
        self.cadence = cadence or PollCadence()
        self.lease_ttl = lease_ttl
        self.clock = clock or SystemClock()
        self.actor = actor
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(timeout=HEALTH_TIMEOUT, verify=tls_context())
        self.resume_calls = 0  # made by this waker (tests, metrics)
        self._api_error: ApiUnavailable | None = None  # the last look failed with this

    @property
    def name(self) -> str:
        return str(self.ref) if self.ref else (self.url or "the endpoint")

    def close(self) -> None:
        self._http.close()

    # -- entry point --------------------------------------------------------------------------------

    def ensure_awake(self, since: datetime | None = None) -> Ready:
        """Return once the endpoint serves (or, scaled to zero, will serve a held request).

        Args:
            since: When the caller's failed request was sent: a wake of this process that finished after it
                is reused without looking again.

        Raises:
            BudgetExceeded: A budget hold is in force on the sleeping endpoint.
            EndpointFailed: The endpoint is failed.
            WakeTimeout: It was not ready within ``timeout``.
            WakeError: A bare URL is paused (resuming needs the endpoint's name and a token).
        """
        key = self.name
        with _FLIGHTS_LOCK:
            flight = _FLIGHTS.get(key)
            if flight is not None and flight.done.is_set():
                fresh = since is not None and flight.finished_at is not None and flight.finished_at >= since
                if fresh and flight.result is not None:
                    return flight.result
                flight = None
            leader = flight is None
            if flight is None:
                flight = _FLIGHTS[key] = _Flight()
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            flight.result = self._wake() if self.ref is not None and self.api is not None else self._wake_by_url()
            return flight.result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            flight.finished_at = self.clock.now()
            flight.done.set()

    # -- the health route ---------------------------------------------------------------------------

    def health_status(self, url: str) -> int | None:
        """The health route's status (None: no connection)."""
        try:
            response = self._http.get(f"{url}/{self.health_route.lstrip('/')}", headers=self._headers)
        except httpx.TransportError:
            return None
        return response.status_code

    def _wake_by_url(self) -> Ready:
        """A URL without name or API: wait for the health route, and refuse a paused endpoint at once."""
        if self.url is None:
            raise WakeError(f"{self.name}: no URL and no endpoint name to resume", endpoint=self.name)
        started = self.clock.now()
        attempt = 0
        while True:
            attempt += 1
            status = self.health_status(self.url)
            if status == 200:
                return Ready(self.url)
            if status == 400:
                raise WakeError(
                    f"{self.url} is paused and epmgr knows only its URL: give the endpoint's name and a token "
                    "(HF_TOKEN, EPMGR_NAMESPACE) to let it resume the endpoint",
                    endpoint=self.url,
                )
            waited = self.clock.now() - started
            if waited >= self.timeout:
                raise WakeTimeout(
                    timeout_message(self.url, EndpointState.UNKNOWN, waited),
                    endpoint=self.url,
                    last_state=EndpointState.UNKNOWN.value,
                    waited_s=waited.total_seconds(),
                )
            self._sleep(self.cadence.health_delay(attempt), waited)

    def _sleep(self, delay: timedelta, waited: timedelta) -> None:
        self.clock.sleep(next_sleep(delay, waited, self.timeout, floor=MIN_SLEEP).total_seconds())

    # -- the full wake ------------------------------------------------------------------------------

    def _wake(self) -> Ready:
        assert self.ref is not None and self.api is not None
        ref, api = self.ref, self.api
        lease = f"wake:{ref}"
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        started = self.clock.now()
        operator = Operator(api, self.ledger, self.clock, self.actor) if self.ledger is not None else None
        have_lease = self.ledger is None
        renewed_at = started
        resumed = False
        state = EndpointState.UNKNOWN
        message = ""
        next_api = resume_at = started
        api_attempt = health_attempt = 0
        try:
            while True:
                now = self.clock.now()
                if self.ledger is not None:
                    if not have_lease:
                        current = self.ledger.lease(lease)
                        if current is None or current.expires_at <= now:
                            have_lease = self.ledger.acquire_lease(lease, holder, self.lease_ttl, now)
                            renewed_at = now
                    elif now - renewed_at > self.lease_ttl / 3:
                        have_lease = self.ledger.acquire_lease(lease, holder, self.lease_ttl, now)
                        renewed_at = now
                looked = False
                if have_lease and now >= next_api:
                    api_attempt += 1
                    next_api = now + self.cadence.api_delay(api_attempt)
                    snapshot = self._look(api, ref.name)
                    if snapshot is not None:
                        self._publish(operator, snapshot)
                        state, message, looked = snapshot.state, snapshot.message, True
                        self._learn(snapshot)
                elif not have_lease and self.ledger is not None:
                    change = self.ledger.last_state_change(ref)
                    state = change.to_state if change else EndpointState.UNKNOWN
                healthy = False
                if self.url is not None and state not in (EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO):
                    healthy = self.health_status(self.url) == 200
                    if healthy:
                        state = EndpointState.RUNNING
                hold = (
                    self.ledger.active_hold(ref, now)
                    if self.ledger is not None and state in (EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO)
                    else None
                )
                waited = now - started
                action = plan_wake(
                    WakeView(state, healthy, hold is not None and hold.kind == "budget", resumed, waited, self.timeout)
                )
                if action == WakeAction.SEND:
                    assert self.url is not None
                    return Ready(self.url, woke=resumed or api_attempt > 1 or health_attempt > 0)
                if action == WakeAction.SEND_HOLDING and self.url is not None:
                    return Ready(self.url, hold=True)
                if action == WakeAction.REFUSE_BUDGET:
                    assert hold is not None
                    raise BudgetExceeded(budget_message(str(ref), hold.reason, hold.until), endpoint=str(ref))
                if action == WakeAction.FAIL and (have_lease or looked):
                    raise EndpointFailed(failed_message(str(ref), state, message), endpoint=str(ref))
                if action == WakeAction.GIVE_UP:
                    if state == EndpointState.UNKNOWN and self._api_error is not None:
                        raise self._api_error  # the API never answered: say so rather than "state unknown"
                    raise WakeTimeout(
                        timeout_message(str(ref), state, waited),
                        endpoint=str(ref),
                        last_state=state.value,
                        waited_s=waited.total_seconds(),
                    )
                if action == WakeAction.RESUME and now < resume_at:
                    action = WakeAction.WAIT  # the last resume call failed: wait for the API's next turn
                if action == WakeAction.RESUME and have_lease and self.ledger is not None:
                    # fenced: the one resume call is made only by a holder whose lease is still its own
                    have_lease = self.ledger.acquire_lease(lease, holder, self.lease_ttl, now)
                    renewed_at = now
                if action == WakeAction.RESUME and have_lease:
                    self.resume_calls += 1
                    try:
                        snapshot = self._resume(operator)
                    except ApiUnavailable:  # audited as failed; called again at the API's next turn
                        resume_at = next_api = self.clock.now() + self.cadence.api_cap
                        continue
                    resumed = True
                    state = snapshot.state
                    self._learn(snapshot)
                    next_api = self.clock.now() + self.cadence.api_first
                    continue
                health_attempt += 1
                if self.url is not None:
                    delay = self.cadence.health_delay(health_attempt)
                    if have_lease:
                        delay = min(delay, max(next_api - now, timedelta(0)))
                elif have_lease:
                    delay = max(next_api - now, timedelta(0))
                else:
                    delay = self.cadence.api_first
                self._sleep(delay, waited)
        finally:
            if have_lease and self.ledger is not None:
                self.ledger.release_lease(lease, holder)

    def _look(self, api: EndpointsAPI, name: str) -> EndpointSnapshot | None:
        """The endpoint's snapshot, or None while the API is unavailable (a wake of minutes outlives an outage
        of the API; the deadline still bounds it)."""
        try:
            snapshot = api.get(name)
        except ApiUnavailable as exc:
            self._api_error = exc
            return None
        self._api_error = None
        return snapshot

    def _learn(self, snapshot: EndpointSnapshot) -> None:
        if snapshot.url:
            self.url = snapshot.url.rstrip("/")
        self.health_route = snapshot.health_route or self.health_route

    def _publish(self, operator: Operator | None, snapshot: EndpointSnapshot) -> None:
        if operator is not None:
            operator.observe(snapshot, ChangeSource.OBSERVED)

    def _resume(self, operator: Operator | None) -> EndpointSnapshot:
        assert self.ref is not None and self.api is not None
        name, api = self.ref.name, self.api
        if operator is None:
            return api.resume(name)
        reason = "a request needed it (auto-wake)"
        snapshot = operator.act(ActionKind.RESUME, name, reason, lambda: api.resume(name))
        assert snapshot is not None
        return snapshot
