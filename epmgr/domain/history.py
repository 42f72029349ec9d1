"""What the audit log says about an endpoint, read once: the facts :func:`epmgr.domain.decide.decide` needs.

The service reads the recent audit entries of an endpoint and passes them here with ``now``; nothing is read
from a clock or a database. :func:`read_audit` gives the last handled schedule edge and keep-alive action, the last
manual action, whether a person overrode the budget, and a streak of failed daemon actions to back off from;
:func:`awake_since` reads the state changes for when the endpoint last came up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from epmgr.domain.model import ActionKind, ActionRecord, Actor, EndpointState, Outcome, StateChange
from epmgr.domain.rules import UP_STATES

MANUAL_ACTIONS = frozenset({ActionKind.RESUME, ActionKind.PAUSE, ActionKind.SCALE_TO_ZERO, ActionKind.UPDATE})
"""Actions of a person or a client that the schedule respects until its next edge."""
RETRY_BASE = timedelta(minutes=1)
"""The wait after a first failed daemon action; it doubles with each further failure ..."""
RETRY_CAP = timedelta(minutes=30)
"""... up to this (a quota freed on a Monday morning is used within half an hour)."""
BACKOFF = "backoff"
"""The policy of a decision held back by :class:`Failing` (never counted as handling a schedule edge)."""


@dataclass(frozen=True)
class Failing:
    """A streak of failed daemon actions of one kind, and when the next try is due.

    Attributes:
        action: The action that keeps failing.
        failures: How many times in a row it failed.
        last_at: When the last failure was requested.
        error: The last failure's error.
        until: No new try before this.
    """

    action: ActionKind
    failures: int
    last_at: datetime
    error: str | None
    until: datetime

    def describe(self) -> str:
        """``backing off until 09:07:00Z after 2 failed resume(s): <error>``."""
        error = f": {self.error}" if self.error else ""
        return (
            f"backing off until {self.until:%Y-%m-%d %H:%M:%S}Z after {self.failures} failed "
            f"{self.action.value}(s){error}"
        )


@dataclass(frozen=True)
class AuditFacts:
    """What the audit log says about one endpoint.

    Attributes:
        schedule_handled_at: The last schedule decision audited (acted or skipped, not failed).
        keepalive_handled_at: The last keep-alive action audited (not failed).
        manual_at: The last successful action a person or a client took (resume, pause, scale to zero, update).
        budget_overridden: A person resumed it (``epmgr resume --force``) after the budget acted, in this period.
        failing: The daemon's last action failed (and maybe the ones before it): when to try again.
        created_by_epmgr: ``epmgr create`` created it (its audit log has a successful create).
    """

    schedule_handled_at: datetime | None = None
    keepalive_handled_at: datetime | None = None
    manual_at: datetime | None = None
    budget_overridden: bool = False
    failing: Failing | None = None
    created_by_epmgr: bool = False


def backoff_delay(failures: int, *, base: timedelta = RETRY_BASE, cap: timedelta = RETRY_CAP) -> timedelta:
    """The wait after ``failures`` failures in a row: ``base``, doubled each time, at most ``cap``.

    Example:
        >>> backoff_delay(3)
        datetime.timedelta(seconds=240)
    """
    if failures <= 0:
        return timedelta(0)
    return min(cap, base * (1 << min(failures - 1, 32)))


def failing(actions: Sequence[ActionRecord]) -> Failing | None:
    """The streak of failures ending the daemon's actions (oldest first), or None if its last action did not fail.

    Skipped, dry-run and started entries and warnings are not tries; a streak counts the failures of the last
    tried action's kind back to its last success (or another kind's try).
    """
    tries = [
        a
        for a in actions
        if a.actor == Actor.DAEMON
        and a.action != ActionKind.WARN
        and a.outcome not in (Outcome.SKIPPED, Outcome.DRY_RUN, Outcome.STARTED)
    ]
    if not tries or tries[-1].outcome != Outcome.FAILED:
        return None
    last = tries[-1]
    count = 0
    for entry in reversed(tries):
        if entry.action != last.action or entry.outcome != Outcome.FAILED:
            break
        count += 1
    return Failing(last.action, count, last.requested_at, last.error, last.requested_at + backoff_delay(count))


def read_audit(actions: Sequence[ActionRecord], *, budget_period_start: datetime) -> AuditFacts:
    """The facts in an endpoint's audit entries (oldest first).

    Args:
        actions: The endpoint's recent audit entries, oldest first.
        budget_period_start: The start of the earliest exceeded budget period (``now`` when none is exceeded):
            a ``--force`` resume overrides the budget only if the budget acted in this period.
    """
    ours = [a for a in actions if a.actor == Actor.DAEMON]
    theirs = [a for a in actions if a.actor != Actor.DAEMON and a.outcome == Outcome.OK]
    budget_acted = [
        a.requested_at for a in ours if a.policy == "budget" and a.outcome == Outcome.OK and a.action != ActionKind.WARN
    ]
    overridden = (
        bool(budget_acted)
        and budget_acted[-1] >= budget_period_start
        and any(
            a.action == ActionKind.RESUME and a.actor == Actor.CLI and a.requested_at > budget_acted[-1] for a in theirs
        )
    )
    return AuditFacts(
        schedule_handled_at=_last(a for a in ours if a.policy == "schedule" and a.outcome != Outcome.FAILED),
        keepalive_handled_at=_last(a for a in ours if a.policy == "keepalive" and a.outcome != Outcome.FAILED),
        manual_at=_last(a for a in theirs if a.action in MANUAL_ACTIONS),
        budget_overridden=overridden,
        failing=failing(actions),
        created_by_epmgr=created_by_epmgr(actions),
    )


def created_by_epmgr(actions: Sequence[ActionRecord]) -> bool:
    """Whether epmgr created the endpoint (a successful ``create`` in its audit entries)."""
    return any(a.action == ActionKind.CREATE and a.outcome == Outcome.OK for a in actions)


def awake_since(changes: Iterable[StateChange]) -> datetime | None:
    """When the endpoint last came up: its first known state that is up after a known state that was not (or
    after none). A gap in observation (``unknown``) between two up states is not a wake."""
    awake = None
    last_known: EndpointState | None = None
    for change in changes:
        if change.to_state == EndpointState.UNKNOWN:
            continue
        if change.to_state in UP_STATES and (last_known is None or last_known not in UP_STATES):
            awake = change.observed_at
        last_known = change.to_state
    return awake


def _last(entries: Iterable[ActionRecord]) -> datetime | None:
    return max((a.requested_at for a in entries), default=None)
