"""Waking an endpoint: the next action for a state, and how often to look (pure; the flow is in wakeflow)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from epmgr.domain.model import EndpointState

FAILED = frozenset({EndpointState.FAILED, EndpointState.UPDATE_FAILED})
SLEEPING = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})
SHOWS_URL = frozenset({EndpointState.INITIALIZING, EndpointState.UPDATING, EndpointState.RUNNING})
"""The states in which the management API shows an endpoint's URL (not paused, not pending after a resume)."""


def poll_delay(attempt: int, *, first: timedelta = timedelta(milliseconds=250), cap: timedelta) -> timedelta:
    """Capped doubling poll interval: ``first``, 2x, 4x, ... never above ``cap`` (``attempt`` counts from 1).

    Defined for any ``attempt`` (a 5-minute wake polls hundreds of times): the doubling stops as soon as it
    reaches ``cap``, so no huge intermediate ``timedelta`` is ever built. A ``first`` or ``cap`` at or below zero
    gives zero (never a negative sleep).

    Example:
        >>> poll_delay(10**9, cap=timedelta(seconds=5))
        datetime.timedelta(seconds=5)
    """
    if cap <= timedelta(0) or first <= timedelta(0):
        return timedelta(0)
    delay = first
    for _ in range(max(attempt - 1, 0)):
        if delay >= cap / 2:  # the next doubling reaches the cap (compared before doubling: no overflow)
            return cap
        delay *= 2
    return min(delay, cap)


def next_sleep(delay: timedelta, waited: timedelta, timeout: timedelta, *, floor: timedelta) -> timedelta:
    """How long a waiter sleeps before looking again: ``delay`` cut to the time left before ``timeout``, but at
    least ``floor`` (time always moves on, so any deadline is reached) and never negative.

    Example:
        >>> next_sleep(timedelta(seconds=5), timedelta(seconds=58), timedelta(minutes=1), floor=timedelta(0))
        datetime.timedelta(seconds=2)
    """
    remaining = timeout - waited if waited < timeout else timedelta(0)
    return max(floor, min(delay, remaining), timedelta(0))


MAX_WAKE_TIMEOUT = timedelta(days=1)


def wake_timeout(seconds: float) -> timedelta:
    """A wake timeout from seconds: more than 0 and at most a day (no endpoint takes longer to start).

    Raises:
        ValueError: Saying what is expected (the callers name where the value came from).
    """
    if not seconds > 0 or seconds > MAX_WAKE_TIMEOUT.total_seconds():  # also refuses NaN
        raise ValueError(f"expected a wake timeout of more than 0 s and at most 86400 s (a day), got {seconds!r}")
    return timedelta(seconds=seconds)


# -- the wake state machine the client drives ------------------------------------------------------


class WakeAction(str, enum.Enum):
    """What the client does next while making an endpoint serve (see :func:`plan_wake`)."""

    SEND = "send"  # running and healthy: send the request
    SEND_HOLDING = "send_holding"  # scaled to zero: send with X-Scale-Up-Timeout (the request starts the scale-up)
    RESUME = "resume"  # paused: the lease holder calls resume once
    WAIT = "wait"  # on its way: poll (health route near readiness, the API less often)
    FAIL = "fail"  # failed: a person must look (EndpointFailed at once)
    REFUSE_BUDGET = "refuse_budget"  # a budget hold is in force (BudgetExceeded at once)
    GIVE_UP = "give_up"  # the deadline passed (WakeTimeout)


@dataclass(frozen=True)
class WakeView:
    """Everything :func:`plan_wake` looks at, gathered by the client at one moment.

    Args:
        state: The endpoint's last known state.
        healthy: Its health route answered 200 (only meaningful while running).
        budget_hold: A budget hold is in force on it (a budget paused it).
        resumed: This wake already made (or saw) the one resume call.
        waited: Time since the wake started.
        timeout: The overall limit.
    """

    state: EndpointState
    healthy: bool = False
    budget_hold: bool = False
    resumed: bool = False
    waited: timedelta = timedelta(0)
    timeout: timedelta = timedelta(minutes=10)


def plan_wake(view: WakeView) -> WakeAction:
    """The next action for an endpoint someone wants an answer from.

    Precedence: failed → FAIL; running and healthy → SEND; budget hold on a sleeping endpoint →
    REFUSE_BUDGET (waking it would spend money the budget refused); deadline passed → GIVE_UP; paused and not yet
    resumed → RESUME; scaled to zero → SEND_HOLDING; anything else (pending, initializing, updating, running but
    not yet healthy, unknown) → WAIT.

    Example:
        >>> plan_wake(WakeView(EndpointState.PAUSED))
        <WakeAction.RESUME: 'resume'>
    """
    if view.state in FAILED:
        return WakeAction.FAIL
    if view.state == EndpointState.RUNNING and view.healthy:
        return WakeAction.SEND
    if view.budget_hold and view.state in SLEEPING:
        return WakeAction.REFUSE_BUDGET
    if view.waited >= view.timeout:
        return WakeAction.GIVE_UP
    if view.state == EndpointState.PAUSED and not view.resumed:
        return WakeAction.RESUME
    if view.state == EndpointState.SCALED_TO_ZERO:
        return WakeAction.SEND_HOLDING
    return WakeAction.WAIT


@dataclass(frozen=True)
class PollCadence:
    """How often a waiting client looks: the health route often (it is cheap and shows readiness), the
    management API rarely (it is rate limited), both with capped doubling.

    ``health_cap`` is how late a waiter may see the endpoint ready: 0.25 s leaves the other half of issue 12's
    0.5 s (ready -> 200 callers in 8 processes answered) to resending the held-back calls; at 0.4 s the slowest of
    8 processes saw it 0.45 s late (benchmarks/wake_crowd.py).
    """

    health_first: timedelta = timedelta(milliseconds=50)
    health_cap: timedelta = timedelta(milliseconds=250)
    api_first: timedelta = timedelta(milliseconds=250)
    api_cap: timedelta = timedelta(seconds=5)

    def health_delay(self, attempt: int) -> timedelta:
        return poll_delay(attempt, first=self.health_first, cap=self.health_cap)

    def api_delay(self, attempt: int) -> timedelta:
        return poll_delay(attempt, first=self.api_first, cap=self.api_cap)


def budget_message(endpoint: str, reason: str, until: datetime | None) -> str:
    """The one-line BudgetExceeded message: which endpoint, why, when it resets, how to override."""
    resets = f"the budget resets at {until.isoformat(timespec='minutes')}" if until else "the hold has no end date"
    return (
        f"{endpoint} is paused by its budget ({reason}); epmgr will not wake it: {resets}, "
        f"or `epmgr resume --force {endpoint.rsplit('/', 1)[-1]}` overrides"
    )


def failed_message(endpoint: str, state: EndpointState, detail: str = "") -> str:
    """The one-line EndpointFailed message."""
    return f"{endpoint} is {state.value}: {detail or 'no message'}; waking it will not help, it needs a person"


def timeout_message(endpoint: str, state: EndpointState, waited: timedelta) -> str:
    """The one-line WakeTimeout message: the endpoint, its last state, and how long the client waited."""
    return f"{endpoint} was not ready after {waited.total_seconds():.1f}s of waiting; last state {state.value}"
