"""The audit log, with intent before act: a daemon action is written ``started`` before its API call (fenced by
the leader lease in the same transaction) and completed after it; started rows left by a crash are reconciled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update

from epmgr.domain.model import ActionKind, ActionRecord, Actor, EndpointRef, Lease, Outcome
from epmgr.ledger.base import REF_COLUMNS, LedgerBase, scoped
from epmgr.ledger.leases import renew_in
from epmgr.ledger.schema import ActionRow, EndpointRow


@dataclass(frozen=True)
class Intent:
    """A started action: its audit row, and the lease that fences it (renewed when the row was written)."""

    id: int
    lease: Lease | None


def _action_record(row: Row[Any]) -> ActionRecord:
    return ActionRecord(
        ref=EndpointRef(row.ep_namespace, row.ep_name),
        action=ActionKind(row.action),
        reason=row.reason,
        actor=Actor(row.actor),
        requested_at=row.requested_at,
        outcome=Outcome(row.outcome),
        error=row.error,
        policy=row.policy,
        id=row.id,
        holder=row.holder,
        completed_at=row.completed_at,
        detail=row.detail,
    )


class Audit(LedgerBase):
    """Audit-log operations of the ledger."""

    def _insert_action(self, conn: Any, action: ActionRecord) -> int:
        values = {
            "endpoint_id": self._endpoint_id(conn, action.ref, action.requested_at),
            "action": action.action.value,
            "reason": action.reason,
            "actor": action.actor.value,
            "requested_at": action.requested_at,
            "outcome": action.outcome.value,
            "error": action.error,
            "policy": action.policy,
            "holder": action.holder,
            "completed_at": action.completed_at,
            "detail": action.detail,
        }
        return int(conn.execute(insert(ActionRow).values(**values).returning(ActionRow.id)).scalar_one())

    def record_action(self, action: ActionRecord) -> int:
        """Append one entry to the audit log."""
        with self._write() as conn:
            return self._insert_action(conn, action)

    def begin_action(
        self,
        action: ActionRecord,
        *,
        lease: Lease | None = None,
        ttl: timedelta | None = None,
        now: datetime | None = None,
    ) -> Intent | None:
        """Write ``action`` as ``started``; with a ``lease``, only if it is still held at ``now`` (default: the
        action's ``requested_at``), and then renewed until ``now + ttl``.

        The lease check, its renewal and the intent are one transaction: an action whose lease expired or was
        taken is never written, so it is never sent.

        Returns:
            The intent, or None when the lease was lost.
        """
        with self._write() as conn:
            renewed = None
            if lease is not None:
                renewed = renew_in(conn, lease, ttl or timedelta(0), now or action.requested_at)
                if renewed is None:
                    return None
            started = ActionRecord(
                action.ref, action.action, action.reason, action.actor, action.requested_at, Outcome.STARTED,
                policy=action.policy, holder=action.holder or (lease.holder if lease else None),
            )  # fmt: skip
            return Intent(self._insert_action(conn, started), renewed)

    def complete_action(
        self, action_id: int, outcome: Outcome, at: datetime, *, error: str | None = None, detail: str | None = None
    ) -> bool:
        """Complete a started action (once: a row no longer ``started`` is left alone); whether it did."""
        with self._write() as conn:
            done = conn.execute(
                update(ActionRow)
                .where(ActionRow.id == action_id, ActionRow.outcome == Outcome.STARTED.value)
                .values(outcome=outcome.value, error=error, detail=detail, completed_at=at)
            )
            return bool(done.rowcount)

    def unfinished_actions(self) -> list[ActionRecord]:
        """Started actions never completed (their process died mid-call), oldest first."""
        query = (
            select(ActionRow.__table__, *REF_COLUMNS)
            .join(EndpointRow)
            .where(ActionRow.outcome == Outcome.STARTED.value)
            .order_by(ActionRow.requested_at, ActionRow.id)
        )
        with self._read() as conn:
            return [_action_record(row) for row in conn.execute(query).all()]

    def actions(
        self, ref: EndpointRef | None = None, *, since: datetime | None = None, limit: int | None = None
    ) -> list[ActionRecord]:
        """Audit-log entries, newest last."""
        query = scoped(select(ActionRow.__table__, *REF_COLUMNS).join(EndpointRow), ref, ActionRow.requested_at, since)
        query = query.order_by(ActionRow.requested_at.desc(), ActionRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_action_record(row) for row in reversed(rows)]
