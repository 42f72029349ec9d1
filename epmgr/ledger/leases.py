"""Named leases with a fencing epoch: the daemon's leadership and one endpoint's single-flight wake.

A lease is *taken* (a new epoch) when it is free or expired, and *renewed* (same epoch) only by its holder while
it has not expired. A holder whose lease expired, even if nobody took it since, must take it anew: every action
fenced with the old epoch is refused (see :meth:`epmgr.ledger.audit.Audit.begin_action`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from epmgr.domain.model import Lease
from epmgr.ledger.base import LedgerBase
from epmgr.ledger.schema import LeaseRow


def renew_in(conn: Connection, lease: Lease, ttl: timedelta, now: datetime) -> Lease | None:
    """Extend ``lease`` to ``now + ttl`` inside ``conn``'s transaction if it is still held, same epoch, unexpired."""
    expires = now + ttl
    renewed = conn.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == lease.name,
            LeaseRow.holder == lease.holder,
            LeaseRow.epoch == lease.epoch,
            LeaseRow.expires_at > now,
        )
        .values(expires_at=expires)
    ).rowcount
    return Lease(lease.name, lease.holder, expires, lease.epoch) if renewed else None


class Leases(LedgerBase):
    """Lease operations of the ledger."""

    def take_lease(self, name: str, holder: str, ttl: timedelta, now: datetime) -> Lease | None:
        """Renew ``holder``'s unexpired lease ``name``, or take it (epoch + 1) if it is free or expired.

        Returns:
            The lease held now, with its epoch and expiry; None if another holder has an unexpired one.
        """
        expires = now + ttl
        with self._write() as conn:
            epoch = conn.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == holder, LeaseRow.expires_at > now)
                .values(expires_at=expires)
                .returning(LeaseRow.epoch)
            ).scalar()
            if epoch is not None:
                return Lease(name, holder, expires, int(epoch))
            taken = conn.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.expires_at <= now)
                .values(holder=holder, acquired_at=now, expires_at=expires, epoch=LeaseRow.epoch + 1)
                .returning(LeaseRow.epoch)
            ).scalar()
            if taken is not None:
                return Lease(name, holder, expires, int(taken))
            if conn.execute(select(LeaseRow.name).where(LeaseRow.name == name)).first() is not None:
                return None
            try:
                with conn.begin_nested():
                    values = {"name": name, "holder": holder, "acquired_at": now, "expires_at": expires, "epoch": 1}
                    conn.execute(insert(LeaseRow).values(**values))
            except IntegrityError:  # another holder inserted it first
                return None
            return Lease(name, holder, expires, 1)

    def acquire_lease(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``; whether ``holder`` holds it now."""
        return self.take_lease(name, holder, ttl, now) is not None

    def renew_lease(self, lease: Lease, ttl: timedelta, now: datetime) -> Lease | None:
        """Extend ``lease`` if it is still held at the same epoch and unexpired; None if it was lost."""
        with self._write() as conn:
            return renew_in(conn, lease, ttl, now)

    def release_lease(self, name: str, holder: str) -> bool:
        """Give lease ``name`` up if ``holder`` holds it; returns whether it did."""
        with self._write() as conn:
            gone = conn.execute(delete(LeaseRow).where(and_(LeaseRow.name == name, LeaseRow.holder == holder)))
            return bool(gone.rowcount)

    def lease(self, name: str) -> Lease | None:
        with self._read() as conn:
            row = conn.execute(select(LeaseRow.__table__).where(LeaseRow.name == name)).first()
        return Lease(name=row.name, holder=row.holder, expires_at=row.expires_at, epoch=row.epoch) if row else None
