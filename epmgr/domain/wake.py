"""Waking an endpoint: what to do next given its state (pure; the client and the CLI drive it)."""

from __future__ import annotations

import enum
from datetime import timedelta

from epmgr.domain.model import EndpointState


class WakeStep(str, enum.Enum):
    """The next thing to do for an endpoint someone wants to use."""

    READY = "ready"  # running: check health (or send)
    TRIGGER = "trigger"  # scaled to zero: a request (or X-Scale-Up-Timeout) starts the scale-up
    RESUME = "resume"  # paused: only an explicit resume wakes it
    WAIT = "wait"  # on its way (pending, initializing, updating): poll
    FAIL = "fail"  # failed or update failed: a person must look
    UNKNOWN = "unknown"  # a state epmgr does not know: poll, and give up at the deadline


_STEPS = {
    EndpointState.RUNNING: WakeStep.READY,
    EndpointState.SCALED_TO_ZERO: WakeStep.TRIGGER,
    EndpointState.PAUSED: WakeStep.RESUME,
    EndpointState.PENDING: WakeStep.WAIT,
    EndpointState.INITIALIZING: WakeStep.WAIT,
    EndpointState.UPDATING: WakeStep.WAIT,
    EndpointState.FAILED: WakeStep.FAIL,
    EndpointState.UPDATE_FAILED: WakeStep.FAIL,
}


def next_wake_step(state: EndpointState) -> WakeStep:
    """What to do for an endpoint in ``state`` that must serve.

    Example:
        >>> next_wake_step(EndpointState.PAUSED)
        <WakeStep.RESUME: 'resume'>
    """
    return _STEPS.get(state, WakeStep.UNKNOWN)


def poll_delay(attempt: int, *, first: timedelta = timedelta(milliseconds=250), cap: timedelta) -> timedelta:
    """Capped doubling poll interval: ``first``, 2x, 4x, ... never above ``cap`` (``attempt`` counts from 1)."""
    delay = first * int(2 ** max(attempt - 1, 0))
    return min(delay, cap)
