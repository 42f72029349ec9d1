"""The endpoint state machine, computed lazily from recorded transition times.

An endpoint's history is a list of :class:`Phase` objects. Timed transitions (pending → initializing → running,
updating → running, idle running → scaledToZero) are not fired by a background thread: :func:`advance` replays
them up to "now" whenever the endpoint is looked at, stamping each phase with the exact instant it began. Billing
reads the same phases, so it is exact whatever the polling rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

DEFAULT_SCALE_TO_ZERO_MINUTES = 15
"""Idle minutes before scale to zero when ``minReplica`` is 0 and no ``scaleToZeroTimeout`` is set (OpenAPI)."""


class State(str, Enum):
    """Endpoint states, spelled as on the wire."""

    PENDING = "pending"
    INITIALIZING = "initializing"
    UPDATING = "updating"
    UPDATE_FAILED = "updateFailed"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SCALED_TO_ZERO = "scaledToZero"


BILLED_STATES = frozenset({State.INITIALIZING, State.RUNNING, State.UPDATING})
"""States that cost money, per replica and per minute."""

MESSAGES = {
    State.PENDING: "Endpoint waiting to be scheduled",
    State.INITIALIZING: "Endpoint is initializing",
    State.UPDATING: "Endpoint waiting for the update",
    State.UPDATE_FAILED: "Endpoint failed to update",
    State.RUNNING: "Endpoint is ready",
    State.PAUSED: "Endpoint is paused",
    State.FAILED: "Endpoint failed to deploy",
    State.SCALED_TO_ZERO: "Endpoint is scaled to zero",
}


@dataclass(frozen=True)
class EmulatorTimings:
    """How long the timed states last, in real seconds (the defaults are the short ones of ``serve``).

    Args:
        pending: pending → initializing, after create and resume.
        initializing: initializing → running, after create and resume.
        scale_up: initializing → running when woken from scaledToZero (the cold start).
        update: updating → running.
        minute: Real seconds one emulated minute of ``scaleToZeroTimeout`` lasts.
    """

    pending: float = 1.0
    initializing: float = 3.0
    scale_up: float = 3.0
    update: float = 2.0
    minute: float = 2.0

    def __post_init__(self) -> None:
        for name in ("pending", "initializing", "scale_up", "update", "minute"):
            if getattr(self, name) < 0:
                raise ValueError(f"EmulatorTimings.{name} must not be negative")


@dataclass
class Phase:
    """One stretch of time in one state.

    Args:
        state: The state.
        start: When the endpoint entered it.
        end: When it left it; ``None`` while current.
        replicas: Replicas billed (and targeted) while in it.
        price_per_hour: USD per replica-hour of the compute in force.
        planned_end: When a timed state ends by itself; ``None`` for states that wait for an event.
    """

    state: State
    start: datetime
    end: datetime | None
    replicas: int
    price_per_hour: Decimal
    planned_end: datetime | None = None


@dataclass
class Lifecycle:
    """The history and idle timer of one endpoint (no configuration besides what the rules need).

    Args:
        phases: Every phase so far, the current one last.
        min_replica: ``compute.scaling.minReplica``.
        max_replica: ``compute.scaling.maxReplica``.
        scale_to_zero_timeout: ``compute.scaling.scaleToZeroTimeout`` in emulated minutes, if set.
        price_per_hour: Price of the configured compute.
        last_activity: The last inference request, if any.
        deployed: Whether it has ever reached running (the URL is then kept even when it fails).
        failure: Why the next start or update will fail (e.g. the image cannot be pulled); ``None`` when it works.
    """

    phases: list[Phase]
    min_replica: int
    max_replica: int
    scale_to_zero_timeout: int | None
    price_per_hour: Decimal
    last_activity: datetime | None = None
    deployed: bool = False
    failure: str | None = None

    @property
    def current(self) -> Phase:
        return self.phases[-1]

    @property
    def state(self) -> State:
        return self.current.state

    @property
    def serving_replicas(self) -> int:
        """Replicas when up: at least one, at least ``minReplica``, at most ``maxReplica``."""
        return max(1, min(self.min_replica, self.max_replica))

    def idle_timeout(self) -> int | None:
        """Emulated minutes without requests before scaling to zero, or ``None`` when it never does."""
        if self.min_replica != 0:
            return None
        return self.scale_to_zero_timeout or DEFAULT_SCALE_TO_ZERO_MINUTES


def start(lifecycle: Lifecycle, now: datetime, timings: EmulatorTimings) -> Lifecycle:
    """Begin a new endpoint's history: pending from ``now``."""
    enter(lifecycle, State.PENDING, now, timings)
    return lifecycle


def enter(
    lifecycle: Lifecycle, state: State, at: datetime, timings: EmulatorTimings, *, cold_start: bool = False
) -> None:
    """Close the current phase at ``at`` and open one in ``state``.

    Args:
        cold_start: For :attr:`State.INITIALIZING`, use ``timings.scale_up`` instead of ``timings.initializing``.
    """
    if lifecycle.phases:
        lifecycle.current.end = at
    duration = {
        State.PENDING: timings.pending,
        State.INITIALIZING: timings.scale_up if cold_start else timings.initializing,
        State.UPDATING: timings.update,
    }.get(state)
    replicas = lifecycle.serving_replicas if state in BILLED_STATES else 0
    planned_end = at + timedelta(seconds=duration) if duration is not None else None
    lifecycle.phases.append(Phase(state, at, None, replicas, lifecycle.price_per_hour, planned_end))
    if state is State.RUNNING:
        lifecycle.deployed = True


def next_transition(lifecycle: Lifecycle, timings: EmulatorTimings) -> tuple[State, datetime] | None:
    """The transition the endpoint will make by itself, and when; ``None`` if it waits for an event.

    A running endpoint with ``minReplica`` 0 scales to zero once it has been idle for its timeout; the idle timer
    starts when it became running and is reset by every inference request.
    """
    phase = lifecycle.current
    if phase.state is State.PENDING and phase.planned_end is not None:
        return State.INITIALIZING, phase.planned_end
    if phase.state in (State.INITIALIZING, State.UPDATING) and phase.planned_end is not None:
        if lifecycle.failure is not None:
            failed = State.FAILED if phase.state is State.INITIALIZING else State.UPDATE_FAILED
            return failed, phase.planned_end
        return State.RUNNING, phase.planned_end
    timeout = lifecycle.idle_timeout()
    if phase.state is State.RUNNING and timeout is not None:
        idle_since = max(phase.start, lifecycle.last_activity or phase.start)
        return State.SCALED_TO_ZERO, idle_since + timedelta(seconds=timeout * timings.minute)
    return None


def advance(lifecycle: Lifecycle, now: datetime, timings: EmulatorTimings) -> None:
    """Replay every timed transition due at or before ``now``, each at its own instant."""
    while (step := next_transition(lifecycle, timings)) is not None and step[1] <= now:
        enter(lifecycle, step[0], step[1], timings)
