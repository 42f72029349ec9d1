"""The one wake flow: a generator that yields what to do and receives what happened (no I/O, no clock).

In the style of httpx's ``Auth.auth_flow``: :func:`wake_flow` yields steps (:class:`Look` at the state,
:class:`Resume`, :class:`Probe` the health route, :class:`Trigger` a held request, :class:`Wait`) and is sent a
:class:`Reply` (the step's result and the time after it) for each; it returns :class:`Ready` or raises one of
:mod:`epmgr.errors`' wake errors. The client's sync and async drivers and the CLI's ``wait`` run this same flow;
they differ only in how they carry the steps out.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta

from epmgr.domain.model import EndpointState
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

MIN_SLEEP = timedelta(milliseconds=10)  # time always moves on between two looks


@dataclass(frozen=True)
class Seen:
    """What a look showed.

    Args:
        state: The endpoint's state.
        url: Its URL (None while paused).
        health_route: Its health route.
        message: The API's message (why it failed).
        leader: From the management API by the wake's leader (else: what the leader published).
        budget: A budget hold's reason and end, if one is in force.
    """

    state: EndpointState
    url: str | None = None
    health_route: str | None = None
    message: str = ""
    leader: bool = True
    budget: tuple[str, datetime | None] | None = None


@dataclass(frozen=True)
class Look:
    """Read the state: the leader asks the API if ``ask_api`` (else no news), a follower reads what was published.

    Reply: :class:`Seen`, None (no news), or the :class:`~epmgr.errors.ApiUnavailable` the API failed with.
    """

    ask_api: bool


@dataclass(frozen=True)
class Resume:
    """Resume the endpoint (the leader, once). Reply: :class:`Seen`, or None (the call failed for now)."""


@dataclass(frozen=True)
class Probe:
    """GET the health route. Reply: its status, or None (no connection)."""

    url: str
    route: str


@dataclass(frozen=True)
class Trigger:
    """Send a real request held with ``X-Scale-Up-Timeout: hold_s`` (it wakes a scaled-to-zero endpoint; a health
    check does not). Reply: its status, or None (no connection)."""

    url: str
    hold_s: int


@dataclass(frozen=True)
class Wait:
    """Sleep ``delay``. Reply: None."""

    delay: timedelta


Step = Look | Resume | Probe | Trigger | Wait


@dataclass(frozen=True)
class Reply:
    """A step's result and the time once it was done."""

    now: datetime
    value: object = None


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


@dataclass(frozen=True)
class Target:
    """The endpoint a flow wakes.

    Args:
        name: How messages name it (``namespace/name``, or its URL).
        url: Its URL if known.
        health_route: Its health route.
        managed: The management API is known (looks and resumes); else only its URL.
        wake: Wake it (resume, trigger); False: only wait for it (``epmgr wait``).
    """

    name: str
    url: str | None = None
    health_route: str = "/health"
    managed: bool = True
    wake: bool = True


SLEEPING = (EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO)
HINTS = {
    EndpointState.PAUSED: " (a paused endpoint needs `epmgr resume`)",
    EndpointState.SCALED_TO_ZERO: " (a scaled-to-zero endpoint wakes on a request or `epmgr resume`)",
}


def wake_flow(
    target: Target, started: datetime, timeout: timedelta, cadence: PollCadence | None = None
) -> Generator[Step, Reply, Ready]:
    """Make ``target`` serve: look, resume once, trigger once, probe, wait, until ready or ``timeout``.

    Raises:
        EndpointFailed: The endpoint is failed (seen by the leader).
        BudgetExceeded: A budget hold is in force on the sleeping endpoint.
        WakeError: Only a URL is known and the endpoint is paused.
        WakeTimeout: Not ready within ``timeout`` (the API's last error instead if it never answered).
    """
    cadence = cadence or PollCadence()
    url, route = target.url, target.health_route
    state, message, leader = EndpointState.UNKNOWN, "", not target.managed
    budget: tuple[str, datetime | None] | None = None
    api_error: ApiUnavailable | None = None
    resumed = triggered = looked = False
    now = next_api = started
    api_n = health_n = 0
    while True:
        if target.managed:
            due = now >= next_api
            if due:
                api_n += 1
                next_api = now + cadence.api_delay(api_n)
            reply = yield Look(due)
            now, seen = reply.now, reply.value
            if isinstance(seen, ApiUnavailable):
                api_error = seen
            elif isinstance(seen, Seen):
                api_error = None if seen.leader else api_error
                state, message, leader, budget = seen.state, seen.message, seen.leader, seen.budget
                looked = looked or seen.leader
                url, route = seen.url or url, seen.health_route or route
        healthy = False
        if url is not None and state not in SLEEPING:
            reply = yield Probe(url, route)
            now, status = reply.now, reply.value
            healthy = status == 200
            if healthy:
                state = EndpointState.RUNNING
            elif not target.managed and status == 400:
                raise WakeError(
                    f"{url} is paused and epmgr knows only its URL: give the endpoint's name and a token "
                    "(HF_TOKEN, EPMGR_NAMESPACE) to let it resume the endpoint",
                    endpoint=url,
                )
            elif not target.managed and status in (502, 503):
                state = EndpointState.SCALED_TO_ZERO  # or starting: a held request rides out either
        waited = now - started
        view = WakeView(state, healthy, budget is not None, resumed or not target.wake, waited, timeout)
        action = plan_wake(view)
        if action == WakeAction.SEND and url is not None:
            return Ready(url, woke=resumed or triggered or api_n > 1 or health_n > 0)
        if action == WakeAction.REFUSE_BUDGET and budget is not None and target.wake:
            raise BudgetExceeded(budget_message(target.name, *budget), endpoint=target.name)
        if action == WakeAction.FAIL and (leader or looked):
            raise EndpointFailed(failed_message(target.name, state, message), endpoint=target.name)
        if action == WakeAction.GIVE_UP:
            if state == EndpointState.UNKNOWN and api_error is not None:
                raise api_error  # the API never answered: say so rather than "state unknown"
            hint = "" if target.wake else HINTS.get(state, "")
            raise WakeTimeout(
                timeout_message(target.name, state, waited) + hint,
                endpoint=target.name,
                last_state=state.value,
                waited_s=waited.total_seconds(),
            )
        if action == WakeAction.RESUME and leader and target.wake:
            reply = yield Resume()
            now, seen = reply.now, reply.value
            if isinstance(seen, Seen):
                resumed = True
                state, url, route = seen.state, seen.url or url, seen.health_route or route
                next_api = now + cadence.api_first
            else:  # the call failed (audited): ask again at the API's next turn
                next_api = now + cadence.api_cap
            continue
        if action == WakeAction.SEND_HOLDING and url is not None and target.wake and not triggered:
            triggered = True
            hold_s = max(1, int((timeout - waited).total_seconds()))
            reply = yield Trigger(url, hold_s)
            now = reply.now
            if reply.value is not None and reply.value not in (400, 502, 503):
                return Ready(url, woke=True)
            state = EndpointState.UNKNOWN if not target.managed else state
            continue
        health_n += 1
        if url is not None and state not in SLEEPING:
            delay = cadence.health_delay(health_n)
            if target.managed and leader:
                delay = min(delay, max(next_api - now, timedelta(0)))
        elif target.managed and leader:
            delay = max(next_api - now, timedelta(0))
        else:
            delay = cadence.api_first if target.managed else cadence.health_delay(health_n)
        reply = yield Wait(next_sleep(delay, waited, timeout, floor=MIN_SLEEP))
        now = reply.now
