"""Holds on waking an endpoint (a budget paused it until its reset): placed, looked up, released by a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, or_, select, update

from epmgr.domain.model import EndpointRef, Hold
from epmgr.ledger.base import REF_COLUMNS, LedgerBase
from epmgr.ledger.schema import EndpointRow, HoldRow


def hold_of(row: Row[Any]) -> Hold:
    """A hold from its row joined with :data:`REF_COLUMNS`."""
    ref = EndpointRef(row.ep_namespace, row.ep_name)
    return Hold(ref, row.kind, row.reason, row.created_at, row.until, row.released_at, row.released_by, row.id)


class Holds(LedgerBase):
    """The ledger's holds table."""

    def place_hold(self, hold: Hold) -> int:
        """Put a hold on waking an endpoint (e.g. a budget paused it)."""
        with self._write() as conn:
            values = {
                "endpoint_id": self._endpoint_id(conn, hold.ref, hold.created_at),
                "kind": hold.kind,
                "reason": hold.reason,
                "created_at": hold.created_at,
                "until": hold.until,
            }
            return int(conn.execute(insert(HoldRow).values(**values).returning(HoldRow.id)).scalar_one())

    def active_hold(self, ref: EndpointRef, now: datetime) -> Hold | None:
        """The newest hold in force on ``ref`` at ``now``, if any."""
        query = (
            select(HoldRow.__table__, *REF_COLUMNS)
            .join(EndpointRow)
            .where(EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name)
            .where(HoldRow.released_at.is_(None), or_(HoldRow.until.is_(None), HoldRow.until > now))
            .order_by(HoldRow.created_at.desc(), HoldRow.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return hold_of(row) if row is not None else None

    def release_holds(self, ref: EndpointRef, now: datetime, by: str) -> int:
        """End every hold in force on ``ref`` (a person overrode it); returns how many."""
        with self._write() as conn:
            endpoint_id = self._endpoint_id(conn, ref, now)
            released = conn.execute(
                update(HoldRow)
                .where(HoldRow.endpoint_id == endpoint_id, HoldRow.released_at.is_(None))
                .where(or_(HoldRow.until.is_(None), HoldRow.until > now))
                .values(released_at=now, released_by=by)
            )
            return int(released.rowcount)
