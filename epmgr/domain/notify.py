"""Notifications as data: what happened, the outbox record that carries it, and when to retry (pure).

Events are made from a tick's report and the ledger's state changes (``epmgr.notify.events``), written to the
outbox in the ledger (``epmgr.ledger.outbox``), and delivered from there with capped exponential backoff, so a
receiver that is down for a while loses nothing and a tick never waits for it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from epmgr.domain.model import EndpointRef, EndpointState, StateChange


class EventKind(str, enum.Enum):
    """What a notification is about; a ``[[notify]]`` target picks the kinds it wants."""

    ACTION = "action"  # the daemon paused, resumed, scaled or updated an endpoint
    BUDGET = "budget"  # a budget passed its warning share, or its cap acted
    FAILURE = "failure"  # an action or a tick failed
    SLOW_WAKE = "slow_wake"  # a wake-up took longer than the target's threshold


class Status(str, enum.Enum):
    """Where a notification is in the outbox."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # given up after the last attempt; kept for the record


@dataclass(frozen=True)
class Event:
    """Something to tell people about: its kind, endpoint, a one-line subject and a few lines of detail."""

    kind: EventKind
    subject: str
    text: str
    endpoint: str | None = None
    at: datetime | None = None
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Notification:
    """One event for one target, as the outbox holds it."""

    target: str
    event: EventKind
    subject: str
    body: str  # the JSON document a webhook receives (also the source of Slack and email text)
    created_at: datetime
    endpoint: str | None = None
    status: Status = Status.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Retry:
    """How delivery is retried: doubling delays from ``first`` up to ``cap``, ``attempts`` tries in all.

    The defaults keep retrying for about a day (a notifier outage over a weekend night loses nothing).
    """

    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)
    attempts: int = 60
    jitter: float = 0.2  # +- this share of each delay, so several daemons do not retry in step

    def next_attempt(self, attempts: int, now: datetime, draw: float = 0.5) -> datetime | None:
        """When to try again after ``attempts`` failed tries (``draw`` uniform in [0, 1)); None: give up."""
        if attempts >= self.attempts:
            return None
        delay = min(self.cap, self.first * (1 << max(0, min(attempts - 1, 30))))
        return now + delay * (1 + self.jitter * (2 * draw - 1))


WAKE_STARTS = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})
STARTING = frozenset({EndpointState.PENDING, EndpointState.INITIALIZING})


@dataclass(frozen=True)
class Wake:
    """An endpoint that left paused or scaled to zero and became running: when, and how long it took."""

    ref: EndpointRef
    started_at: datetime
    ready_at: datetime

    @property
    def took(self) -> timedelta:
        return self.ready_at - self.started_at


def wakes(changes: Sequence[StateChange]) -> list[Wake]:
    """The completed wake-ups in ``changes`` (any endpoints, in observation order)."""
    started: dict[EndpointRef, datetime] = {}
    found: list[Wake] = []
    for change in changes:
        if change.to_state in STARTING and (change.from_state in WAKE_STARTS or change.from_state is None):
            started.setdefault(change.ref, change.observed_at)
        elif change.to_state == EndpointState.RUNNING and change.ref in started:
            found.append(Wake(change.ref, started.pop(change.ref), change.observed_at))
        elif change.to_state not in STARTING:
            started.pop(change.ref, None)
    return found


@dataclass(frozen=True)
class Scrubber:
    """Replaces every secret value (a webhook URL, a password) by ``***`` in text about to be logged or stored."""

    secrets: tuple[str, ...] = field(default=())

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text
