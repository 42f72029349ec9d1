"""What one look at an endpoint records: the state changes a snapshot reveals, dated honestly.

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

Pure: the ledger's facts and the clock in, what to write out (:class:`Observation`); :mod:`epmgr.observe` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from epmgr.domain.model import ChangeSource, EndpointRecord, EndpointSnapshot, EndpointState, StateChange


@dataclass(frozen=True)
class Observation:
    """What one look at an endpoint writes: its new state changes (in order) and its record, seen at ``seen_at``
    (``record_changed`` False: only ``seen_at`` is news, the record is what the ledger holds)."""

    changes: list[StateChange]
    record: EndpointRecord
    seen_at: datetime
    record_changed: bool = True


def change_time(snapshot: EndpointSnapshot, last_seen: datetime | None, now: datetime) -> datetime:
    """When the change shown by ``snapshot`` happened: ``updatedAt`` if after the previous look, else ``now``."""
    updated = snapshot.updated_at
    if updated is not None and last_seen is not None and last_seen < updated <= now:
        return updated
    return now


def change_for(
    snapshot: EndpointSnapshot, last: StateChange | None, at: datetime, source: ChangeSource
) -> StateChange | None:
    """The change to record if ``snapshot`` differs from the ``last`` one recorded (state, replicas, instance or
    price), dated ``at``; None when nothing changed."""
    replicas = snapshot.target_replicas
    if (
        last is not None
        and last.to_state == snapshot.state
        and last.replicas == replicas
        and last.instance == snapshot.instance
        and (snapshot.price_per_hour is None or last.price_per_hour == snapshot.price_per_hour)
    ):
        return None
    return StateChange(
        ref=snapshot.ref,
        from_state=last.to_state if last else None,
        to_state=snapshot.state,
        observed_at=at,
        source=source,
        replicas=replicas,
        instance=snapshot.instance,
        price_per_hour=snapshot.price_per_hour,
    )


def observe(
    snapshot: EndpointSnapshot,
    now: datetime,
    known: EndpointRecord | None,
    last: StateChange | None,
    *,
    max_gap: timedelta,
    source: ChangeSource = ChangeSource.OBSERVED,
) -> Observation:
    """What a look at ``now`` records, given the ledger's record of the endpoint and its last state change."""
    written: list[StateChange] = []
    last_seen = known.last_seen_at if known is not None else None
    at = now
    if last is None or last_seen is None:
        created = snapshot.created_at
        if created is not None and created < now - max_gap:
            gap = StateChange(snapshot.ref, None, EndpointState.UNKNOWN, created, source, replicas=None)
            written.append(gap)
            if last is None or gap.observed_at >= last.observed_at:  # a tie goes to the newer row
                last = gap
    elif now - last_seen > max_gap and last.to_state != EndpointState.UNKNOWN:
        paused_throughout = (
            last.to_state == EndpointState.PAUSED == snapshot.state
            and (snapshot.updated_at is None or snapshot.updated_at <= last_seen)
            and last.instance == snapshot.instance
        )
        if not paused_throughout:
            when = max(last_seen, last.observed_at)
            gap = StateChange(snapshot.ref, last.to_state, EndpointState.UNKNOWN, when, source)
            written.append(gap)
            last = gap
    else:
        at = change_time(snapshot, max(last_seen, last.observed_at), now)
    change = change_for(snapshot, last, at, source)
    if change is not None:
        written.append(change)
    record = EndpointRecord(
        snapshot.ref,
        snapshot.instance,
        snapshot.price_per_hour,
        managed=known.managed if known else False,
        policy=known.policy if known else None,
    )
    changed = (
        known is None
        or known.instance != record.instance
        or (record.price_per_hour is not None and known.price_per_hour != record.price_per_hour)
    )
    return Observation(written, record, now, record_changed=changed)


def gone(last: StateChange | None, now: datetime) -> StateChange | None:
    """The change that records an endpoint the list no longer shows as deleted (None: already recorded so)."""
    if last is None or last.to_state == EndpointState.DELETED:
        return None
    return StateChange(last.ref, last.to_state, EndpointState.DELETED, now, ChangeSource.OBSERVED)
