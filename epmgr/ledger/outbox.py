"""The notification outbox in the ledger: enqueue, claim what is due, and record each delivery attempt.

Several daemons may share the ledger: a notification is *claimed* by moving its ``next_attempt_at`` forward with a
conditional update, so only one of them sends it at a time; a sender that dies leaves the claim to expire and the
notification is tried again. Nothing here sends anything: see :mod:`epmgr.notify.deliver`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from epmgr.domain.notify import EventKind, Notification, Status
from epmgr.ledger.base import LedgerBase
from epmgr.ledger.schema import NotificationRow

CLAIM = timedelta(minutes=2)
"""How long a claimed notification is reserved for its sender (longer than any one delivery may take)."""


def _notification(row: Any) -> Notification:
    return Notification(
        target=row.target,
        event=EventKind(row.event),
        subject=row.subject,
        body=row.body,
        created_at=row.created_at,
        endpoint=row.endpoint,
        status=Status(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        id=row.id,
    )


class Outbox(LedgerBase):
    """The ``notifications`` table of a ledger.

    Args:
        engine: The ledger's engine (``Outbox(ledger.engine)``); the schema must be current.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)

    def close(self) -> None:  # the engine belongs to the ledger
        pass

    def enqueue(self, notifications: Sequence[Notification]) -> list[int]:
        """Store notifications to send (due at once unless ``next_attempt_at`` says later); returns their ids."""
        if not notifications:
            return []
        ids = []
        with self._write() as conn:
            for n in notifications:
                values = {
                    "target": n.target,
                    "event": n.event.value,
                    "endpoint": n.endpoint,
                    "subject": n.subject,
                    "body": n.body,
                    "created_at": n.created_at,
                    "status": Status.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": n.next_attempt_at or n.created_at,
                }
                ids.append(
                    conn.execute(insert(NotificationRow).values(**values).returning(NotificationRow.id)).scalar_one()
                )
        return ids

    def claim(self, now: datetime, *, limit: int = 20, hold: timedelta = CLAIM) -> list[Notification]:
        """Pending notifications due at ``now``, oldest first, each reserved for this caller until ``now + hold``."""
        query = (
            select(NotificationRow.__table__)
            .where(NotificationRow.status == Status.PENDING.value, NotificationRow.next_attempt_at <= now)
            .order_by(NotificationRow.id)
            .limit(limit)
        )
        claimed = []
        with self._write() as conn:
            for row in conn.execute(query).all():
                won = conn.execute(
                    update(NotificationRow)
                    .where(NotificationRow.id == row.id, NotificationRow.next_attempt_at == row.next_attempt_at)
                    .values(next_attempt_at=now + hold)
                ).rowcount
                if won == 1:
                    claimed.append(_notification(row))
        return claimed

    def delivered(self, notification_id: int, now: datetime) -> None:
        """Record a successful delivery."""
        with self._write() as conn:
            conn.execute(
                update(NotificationRow)
                .where(NotificationRow.id == notification_id)
                .values(
                    status=Status.DELIVERED.value,
                    delivered_at=now,
                    attempts=NotificationRow.attempts + 1,
                    last_error=None,
                )
            )

    def failed(self, notification_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: try again at ``retry_at``, or give up (``dead``) when it is None."""
        values: dict[str, Any] = {"attempts": NotificationRow.attempts + 1, "last_error": error[:2000]}
        if retry_at is None:
            values["status"] = Status.DEAD.value
        else:
            values["next_attempt_at"] = retry_at
        with self._write() as conn:
            conn.execute(update(NotificationRow).where(NotificationRow.id == notification_id).values(**values))

    def notifications(self, *, status: Status | None = None) -> list[Notification]:
        """Every notification (or those with ``status``), oldest first."""
        query = select(NotificationRow.__table__).order_by(NotificationRow.id)
        if status is not None:
            query = query.where(NotificationRow.status == status.value)
        with self._read() as conn:
            return [_notification(row) for row in conn.execute(query).all()]

    def counts(self) -> dict[Status, int]:
        """How many notifications are pending, delivered and dead."""
        query = select(NotificationRow.status, func.count()).group_by(NotificationRow.status)
        with self._read() as conn:
            found = {Status(status): count for status, count in conn.execute(query).all()}
        return {status: found.get(status, 0) for status in Status}
