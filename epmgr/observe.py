"""Observe a namespace: one list call, and the state changes it reveals written to the ledger (the rules are
:mod:`epmgr.domain.observation`'s). A whole list is read and written set-based: one query per table, one write
transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.clock import Clock
from epmgr.config import DEFAULT_INTERVAL
from epmgr.domain.model import ChangeSource, EndpointRecord, EndpointRef, EndpointSnapshot, Instance, StateChange
from epmgr.domain.observation import Observation, change_time, gone, observe
from epmgr.ledger import Ledger
from epmgr.ports import EndpointsAPI

__all__ = ["MAX_GAP", "change_time", "observe_namespace", "observe_snapshot", "record_gone", "record_snapshots"]

MAX_GAP = 3 * DEFAULT_INTERVAL
"""Longest time between two looks that is still taken as continuous observation (3 daemon ticks)."""


def observe_snapshot(
    ledger: Ledger,
    snapshot: EndpointSnapshot,
    now: datetime,
    known: EndpointRecord | None,
    *,
    max_gap: timedelta = MAX_GAP,
    source: ChangeSource = ChangeSource.OBSERVED,
) -> list[StateChange]:
    """Record one endpoint's snapshot; returns the changes written."""
    last = ledger.last_state_change(snapshot.ref)
    return ledger.record_observations([observe(snapshot, now, known, last, max_gap=max_gap, source=source)])


def observe_namespace(
    api: EndpointsAPI,
    ledger: Ledger,
    clock: Clock,
    price_of: Callable[[Instance], Decimal | None] | None = None,
    *,
    max_gap: timedelta = MAX_GAP,
) -> list[StateChange]:
    """List the namespace's endpoints once and record what changed since the last look.

    Args:
        api: The namespace's endpoints API.
        ledger: Where changes and last-seen times are written.
        clock: Gives the observation time.
        price_of: Price per replica-hour of an instance, stamped on snapshots that carry none (so a change of
            instance records its new price).
        max_gap: Longer than this since the last look, the time in between is recorded as unknown.

    Returns:
        The state changes written, in order (gap markers included).

    Raises:
        ApiError: The list call failed; nothing is written (the gap then shows on the next successful look).
    """
    snapshots = api.list_endpoints()
    now = clock.now()
    written = record_snapshots(snapshots, ledger, now, price_of, max_gap=max_gap)
    return written + record_gone(ledger, api.namespace, {s.ref for s in snapshots}, now)


def record_gone(
    ledger: Ledger,
    namespace: str,
    listed: set[EndpointRef],
    now: datetime,
    last: Mapping[EndpointRef, StateChange] | None = None,
) -> list[StateChange]:
    """Endpoints of ``namespace`` the ledger knows but the list no longer shows were deleted (outside epmgr).

    Args:
        last: Each endpoint's last state change, if already read (else read here, in one query).
    """
    if last is None:
        last = ledger.last_changes(set(ledger.endpoints_in(namespace)) - listed)
    written = []
    for ref in sorted(last, key=lambda r: (r.namespace, r.name)):
        if ref.namespace == namespace and ref not in listed and (change := gone(last[ref], now)) is not None:
            written.append(replace(change, id=ledger.record_state_change(change)))
    return written


def record_snapshots(
    snapshots: Sequence[EndpointSnapshot],
    ledger: Ledger,
    now: datetime,
    price_of: Callable[[Instance], Decimal | None] | None = None,
    *,
    max_gap: timedelta = MAX_GAP,
    known: Mapping[EndpointRef, EndpointRecord] | None = None,
    last: Mapping[EndpointRef, StateChange] | None = None,
) -> list[StateChange]:
    """Record snapshots from one list call made at ``now`` (what :func:`observe_namespace` does after listing), in
    one write transaction.

    Args:
        known, last: The ledger's records and last state changes of these endpoints, if already read (else read
            here, one query each).
    """
    refs = {s.ref for s in snapshots}
    if known is None:
        known = {ref: record for ns in {r.namespace for r in refs} for ref, record in ledger.endpoints_in(ns).items()}
    if last is None:
        last = ledger.last_changes(refs)
    looks: list[Observation] = []
    for snapshot in snapshots:
        if snapshot.price_per_hour is None and price_of is not None:
            snapshot = replace(snapshot, price_per_hour=price_of(snapshot.instance))
        looks.append(observe(snapshot, now, known.get(snapshot.ref), last.get(snapshot.ref), max_gap=max_gap))
    return ledger.record_observations(looks)
