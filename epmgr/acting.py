"""The one action executor (daemon, CLI, waker): intent before act, fenced by a lease, the result observed.

1. The action is written ``started`` in the same ledger transaction that checks and extends the lease
   (:meth:`epmgr.ledger.Ledger.begin_action`): an action whose lease expired or was taken is never sent.
2. The API call runs within the time left on the lease (:func:`epmgr.deadline.within`), minus a margin.
3. The row is completed ``ok`` or ``failed``. A crash between 1 and 3 leaves it ``started``: the next leader
   reconciles it against the API (:func:`reconcile_unfinished`) before it acts, so every action is audited once.
4. The endpoint's new state, as the API answered it, is recorded (:func:`observe_result`).

Every action is audited, also one that fails on an endpoint the ledger never saw (a mistyped name): its row
exists for the audit log only, and the cost report leaves out endpoints the API never showed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta

from epmgr.clock import Clock
from epmgr.deadline import within
from epmgr.domain.intent import took_effect
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    ChangeSource,
    EndpointChanges,
    EndpointRef,
    EndpointSnapshot,
    EndpointState,
    Lease,
    Outcome,
    StateChange,
)
from epmgr.domain.rules import Decision
from epmgr.errors import EndpointNotFound, EpmgrError
from epmgr.ledger import Ledger
from epmgr.observe import observe_snapshot
from epmgr.ports import EndpointsAPI

log = logging.getLogger("epmgr.service")

# An API call ends this long before the lease does (a tenth of it, at most 5 s), leaving time to audit it.
MAX_MARGIN = timedelta(seconds=5)
NOT_SENT = "not sent: the leader lease expired or was taken"


def call_for(api: EndpointsAPI, name: str, decision: Decision) -> EndpointSnapshot | None:
    """The API call for a decision (the adapter retries 429/5xx and network errors itself)."""
    if decision.action == ActionKind.PAUSE:
        return api.pause(name)
    if decision.action == ActionKind.SCALE_TO_ZERO:
        return api.scale_to_zero(name)
    if decision.action == ActionKind.RESUME:
        return api.resume(name, running_ok=True)  # an endpoint already running is not an error
    if decision.action == ActionKind.SET_REPLICAS and decision.replicas is not None:
        current = api.get(name)
        changes = EndpointChanges(
            max_replica=decision.replicas, min_replica=min(current.min_replica, decision.replicas)
        )
        return api.update(name, changes)
    raise ValueError(f"no API call for {decision.action.value}")


def log_decision(ref: EndpointRef, decision: Decision, outcome: Outcome, error: str | None = None) -> None:
    """Log a daemon decision and what came of it, with its fields (``extra``) for JSON logs."""
    level = logging.WARNING if outcome == Outcome.FAILED or decision.action == ActionKind.WARN else logging.INFO
    log.log(
        level,
        "%s %s: %s (%s)%s",
        decision.action.value,
        outcome.value,
        decision.reason,
        decision.policy,
        f": {error}" if error else "",
        extra={"endpoint": str(ref), "action": decision.action.value, "outcome": outcome.value,
               "policy": decision.policy, "reason": decision.reason},
    )  # fmt: skip


class LeaseLost(Exception):
    """Internal signal: the action was not sent because the lease is gone (never leaves this package)."""


Result = tuple[Outcome, str | None, EndpointSnapshot | None, Lease | None]
"""The outcome, the error, the API's answer and the renewed lease."""


def act(
    ledger: Ledger,
    clock: Clock,
    api: EndpointsAPI,
    record: ActionRecord,
    decision: Decision,
    lease: Lease | None,
    ttl: timedelta,
) -> Result:
    """A daemon's decision executed by :func:`execute`.

    Raises:
        LeaseLost: ``lease`` expired or was taken: nothing was written and nothing was sent.
    """
    return execute(ledger, clock, record, lambda: call_for(api, record.ref.name, decision), lease=lease, ttl=ttl)


def execute(
    ledger: Ledger,
    clock: Clock,
    record: ActionRecord,
    call: Callable[[], EndpointSnapshot | None],
    *,
    lease: Lease | None = None,
    ttl: timedelta = timedelta(0),
    skip_on: tuple[type[EpmgrError], ...] = (),
    raise_errors: bool = False,
) -> Result:
    """Begin (fenced by ``lease`` if given), call, complete, observe the answer: the one way epmgr acts.

    Args:
        ledger: The audit log and the state changes.
        clock: Stamps the entry and the observation.
        record: The action as it will be audited (its outcome is ignored).
        call: The API call; raises only epmgr errors.
        lease: The lease that fences the call (None: no fencing, e.g. a person at the CLI).
        ttl: How long a fenced call renews the lease for.
        skip_on: Errors that mean there was nothing to do (a resume of a running endpoint): the one row is
            completed ``skipped``, with the error as its detail, instead of ``failed``.
        raise_errors: Raise the call's error again once it is audited, instead of returning it.

    Raises:
        LeaseLost: ``lease`` expired or was taken: nothing was written and nothing was sent.
        EpmgrError: With ``raise_errors``, the call's own error (audited ``failed`` or ``skipped``).
    """
    intent = ledger.begin_action(record, lease=lease, ttl=ttl, now=clock.now())
    if intent is None:
        raise LeaseLost(NOT_SENT)
    bound: AbstractContextManager[None] = nullcontext()
    if intent.lease is not None:
        margin = min(ttl / 10, MAX_MARGIN)
        bound = within((intent.lease.expires_at - margin - clock.now()).total_seconds())
    try:
        with bound:
            snapshot = call()
    except EpmgrError as exc:
        said, skipped = str(exc), isinstance(exc, skip_on)
        outcome = Outcome.SKIPPED if skipped else Outcome.FAILED
        ledger.complete_action(
            intent.id, outcome, clock.now(), error=None if skipped else said, detail=said if skipped else None
        )
        if raise_errors:
            raise
        return outcome, said, None, intent.lease
    ledger.complete_action(intent.id, Outcome.OK, clock.now())
    observe_result(ledger, clock, record.ref, record.action, snapshot)
    return Outcome.OK, None, snapshot, intent.lease


def fenced_call(
    ledger: Ledger,
    clock: Clock,
    record: ActionRecord,
    call: Callable[[], EndpointSnapshot | None],
    *,
    lease_name: str,
    holder: str,
    ttl: timedelta,
) -> EndpointSnapshot | None:
    """:func:`execute` ``call`` if ``holder`` still holds the lease ``lease_name`` (renewed for ``ttl`` in the
    transaction that audits it); the snapshot it answered, or None when the lease was lost and nothing was sent.

    Raises:
        EpmgrError: The call's own error, audited ``failed``.
    """
    lease = ledger.lease(lease_name)
    if lease is None or lease.holder != holder:
        return None
    try:
        _, _, snapshot, _ = execute(ledger, clock, record, call, lease=lease, ttl=ttl, raise_errors=True)
    except LeaseLost:
        return None
    assert snapshot is not None
    return snapshot


def observe_result(
    ledger: Ledger, clock: Clock, ref: EndpointRef, kind: ActionKind, snapshot: EndpointSnapshot | None
) -> None:
    """Record the state an action left the endpoint in: the API's answer, or ``deleted`` after a delete."""
    now = clock.now()
    if snapshot is not None:
        observe_snapshot(ledger, snapshot, now, ledger.endpoint(snapshot.ref), source=ChangeSource.ACTION)
    elif kind == ActionKind.DELETE:
        last = ledger.last_state_change(ref)
        from_state = last.to_state if last else None
        ledger.record_state_change(StateChange(ref, from_state, EndpointState.DELETED, now, ChangeSource.ACTION))


def reconcile_unfinished(ledger: Ledger, clock: Clock, api_for: Callable[[str | None], EndpointsAPI]) -> int:
    """Complete the ``started`` actions a crash left behind, from the endpoint's state now; returns how many.

    An action whose endpoint cannot be read now (API down) stays ``started`` for the next tick.
    """
    done = 0
    for action in ledger.unfinished_actions():
        assert action.id is not None
        changed = False
        try:
            snapshot = api_for(action.ref.namespace).get(action.ref.name)
            state = snapshot.state
            changed = snapshot.updated_at is not None and snapshot.updated_at >= action.requested_at
        except EndpointNotFound:
            state = None
        except EpmgrError as exc:
            log.warning("cannot reconcile an interrupted %s yet: %s", action.action.value, exc,
                        extra={"endpoint": str(action.ref)})  # fmt: skip
            continue
        effect = None if state is None else took_effect(action.action, state)
        seen = "the endpoint is gone" if state is None else f"the endpoint is {state.value}"
        if effect is False and changed:  # not in effect now, but something changed it since: ours, then another's?
            outcome, error = Outcome.UNKNOWN, f"interrupted by a crash; {seen} but changed since the action began"
        elif effect is None:
            outcome, error = Outcome.UNKNOWN, f"interrupted by a crash; {seen}, which cannot tell"
        elif effect:
            outcome, error = Outcome.OK, None
        else:
            outcome, error = Outcome.FAILED, f"interrupted by a crash before the API applied it; {seen}"
        detail = f"reconciled after a restart: {seen}"
        if ledger.complete_action(action.id, outcome, clock.now(), error=error, detail=detail):
            done += 1
            log.warning("%s %s (%s)", action.action.value, outcome.value, detail,
                        extra={"endpoint": str(action.ref), "action": action.action.value,
                               "outcome": outcome.value, "policy": action.policy})  # fmt: skip
    return done
