"""Observe a namespace: one list call, and the state changes it reveals written to the ledger.

Cost intervals come from these changes, so three rules keep them honest:

- **When a change happened.** epmgr sees a change on its next look, late. The API's ``status.updatedAt`` is the
  time of the endpoint's last action or configuration change; when it is newer than epmgr's previous look (the
  endpoint's ``last_seen_at``) and not in the future, the change is dated then (a pause, a scale to zero, a resume
  show their own instant); otherwise at the observation time. Timed transitions (initializing -> running, HF's idle
  scale to zero) do not move ``updatedAt``, so they are dated when seen: the error is at most one polling interval.
- **Gaps.** If epmgr has not looked for longer than ``max_gap`` (the daemon was down, or only the CLI looks now
  and then), the time since its last look is recorded as ``unknown`` (a change to the ``unknown`` state at the
  last look), never assumed. One exception is proven safe: an endpoint paused then and paused now, whose
  ``updatedAt`` did not move, was paused throughout (only an action leaves ``paused``).
- **First sight.** An endpoint seen for the first time that was created more than ``max_gap`` ago has an
  ``unknown`` history from its creation to now; one created since is recorded from now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from epmgr.clock import Clock
from epmgr.config import DEFAULT_INTERVAL
from epmgr.domain.model import (
    ChangeSource,
    EndpointRecord,
    EndpointRef,
    EndpointSnapshot,
    EndpointState,
    Instance,
    StateChange,
)
from epmgr.ledger import Ledger
from epmgr.ports import EndpointsAPI

MAX_GAP = 3 * DEFAULT_INTERVAL
"""Longest time between two looks that is still taken as continuous observation (3 daemon ticks)."""


def change_time(snapshot: EndpointSnapshot, last_seen: datetime | None, now: datetime) -> datetime:
    """When the change shown by ``snapshot`` happened: ``updatedAt`` if after the previous look, else ``now``."""
    updated = snapshot.updated_at
    if updated is not None and last_seen is not None and last_seen < updated <= now:
        return updated
    return now


def observe_snapshot(
    ledger: Ledger,
    snapshot: EndpointSnapshot,
    now: datetime,
    known: EndpointRecord | None,
    *,
    max_gap: timedelta = MAX_GAP,
    source: ChangeSource = ChangeSource.OBSERVED,
) -> list[StateChange]:
    """Record one endpoint's snapshot (see the module docstring for the rules); returns the changes written."""
    written: list[StateChange] = []
    last = ledger.last_state_change(snapshot.ref)
    last_seen = known.last_seen_at if known is not None else None
    at = now
    if last is None or last_seen is None:
        created = snapshot.created_at
        if created is not None and created < now - max_gap:
            gap = StateChange(snapshot.ref, None, EndpointState.UNKNOWN, created, source, replicas=None)
            written.append(replace(gap, id=ledger.record_state_change(gap)))
    elif now - last_seen > max_gap and last.to_state != EndpointState.UNKNOWN:
        paused_throughout = (
            last.to_state == EndpointState.PAUSED == snapshot.state
            and (snapshot.updated_at is None or snapshot.updated_at <= last_seen)
            and last.instance == snapshot.instance
        )
        if not paused_throughout:
            when = max(last_seen, last.observed_at)
            gap = StateChange(snapshot.ref, last.to_state, EndpointState.UNKNOWN, when, source)
            written.append(replace(gap, id=ledger.record_state_change(gap)))
    else:
        at = change_time(snapshot, max(last_seen, last.observed_at), now)
    change = ledger.record_snapshot(snapshot, at, source)
    if change is not None:
        written.append(change)
    ledger.upsert_endpoint(
        EndpointRecord(
            snapshot.ref,
            snapshot.instance,
            snapshot.price_per_hour,
            managed=known.managed if known else False,
            policy=known.policy if known else None,
        ),
        seen_at=now,
    )
    return written


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


def record_gone(ledger: Ledger, namespace: str, listed: set[EndpointRef], now: datetime) -> list[StateChange]:
    """Endpoints of ``namespace`` the ledger knows but the list no longer shows were deleted (outside epmgr)."""
    written = []
    for record in ledger.endpoints():
        if record.ref.namespace != namespace or record.ref in listed:
            continue
        last = ledger.last_state_change(record.ref)
        if last is not None and last.to_state != EndpointState.DELETED:
            gone = StateChange(record.ref, last.to_state, EndpointState.DELETED, now, ChangeSource.OBSERVED)
            written.append(replace(gone, id=ledger.record_state_change(gone)))
    return written


def record_snapshots(
    snapshots: Sequence[EndpointSnapshot],
    ledger: Ledger,
    now: datetime,
    price_of: Callable[[Instance], Decimal | None] | None = None,
    *,
    max_gap: timedelta = MAX_GAP,
) -> list[StateChange]:
    """Record snapshots from one list call made at ``now`` (what :func:`observe_namespace` does after listing)."""
    known = {record.ref: record for record in ledger.endpoints()}
    written: list[StateChange] = []
    for snapshot in snapshots:
        if snapshot.price_per_hour is None and price_of is not None:
            snapshot = replace(snapshot, price_per_hour=price_of(snapshot.instance))
        written += observe_snapshot(ledger, snapshot, now, known.get(snapshot.ref), max_gap=max_gap)
    return written
