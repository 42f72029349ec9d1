"""How the daemon acts: intent before act, fenced by the leader lease, each API call bounded by the lease.

1. The action is written ``started`` in the same ledger transaction that checks and extends the lease
   (:meth:`epmgr.ledger.Ledger.begin_action`): an action whose lease expired or was taken is never sent.
2. The API call runs within the time left on the lease (:func:`epmgr.deadline.within`), minus a margin.
3. The row is completed ``ok`` or ``failed``. A crash between 1 and 3 leaves it ``started``: the next leader
   reconciles it against the API (:func:`reconcile_unfinished`) before it acts, so every action is audited once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta

from epmgr.clock import Clock
from epmgr.deadline import within
from epmgr.domain.intent import took_effect
from epmgr.domain.model import ActionKind, ActionRecord, EndpointChanges, EndpointSnapshot, Lease, Outcome
from epmgr.domain.policies import Decision
from epmgr.errors import ApiError, EndpointNotFound, EpmgrError
from epmgr.ledger import Ledger
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
        try:
            return api.resume(name, running_ok=True)
        except ApiError as exc:
            if "already running" in str(exc):
                return None
            raise
    if decision.action == ActionKind.SET_REPLICAS and decision.replicas is not None:
        current = api.get(name)
        changes = EndpointChanges(
            max_replica=decision.replicas, min_replica=min(current.min_replica, decision.replicas)
        )
        return api.update(name, changes)
    raise ValueError(f"no API call for {decision.action.value}")


class LeaseLost(Exception):
    """Internal signal: the action was not sent because the lease is gone (never leaves this package)."""


def act(
    ledger: Ledger,
    clock: Clock,
    api: EndpointsAPI,
    record: ActionRecord,
    decision: Decision,
    lease: Lease | None,
    ttl: timedelta,
) -> tuple[Outcome, str | None, EndpointSnapshot | None, Lease | None]:
    """Begin (fenced), call, complete. Returns the outcome, the error, the API's answer and the renewed lease.

    Raises:
        LeaseLost: ``lease`` expired or was taken: nothing was written and nothing was sent.
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
            snapshot = call_for(api, record.ref.name, decision)
    except EpmgrError as exc:
        ledger.complete_action(intent.id, Outcome.FAILED, clock.now(), error=str(exc))
        return Outcome.FAILED, str(exc), None, intent.lease
    ledger.complete_action(intent.id, Outcome.OK, clock.now())
    return Outcome.OK, None, snapshot, intent.lease


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
