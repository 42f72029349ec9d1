"""The Ledger: domain records in, domain records out (never ORM rows)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from epmgr.domain.model import (
    Activity,
    ChangeSource,
    EndpointRecord,
    EndpointRef,
    EndpointSnapshot,
    Instance,
    PriceRecord,
    RequestRecord,
    StateChange,
)
from epmgr.domain.observation import change_for
from epmgr.errors import LedgerError, SchemaOutdated
from epmgr.ledger import migrate
from epmgr.ledger.audit import Audit
from epmgr.ledger.base import (
    IN_FLIGHT_STALE_AFTER,
    REF_COLUMNS,
    describe,
    endpoint_record_of,
    endpoint_values,
    insert_change,
    instance_columns,
    scoped,
    state_change_of,
)
from epmgr.ledger.engine import make_engine, normalize_url
from epmgr.ledger.fleet import Fleet
from epmgr.ledger.holds import Holds
from epmgr.ledger.ingest import Ingest, RequestFinish
from epmgr.ledger.leases import Leases
from epmgr.ledger.schema import EndpointRow, PriceRow, RequestRow, StateChangeRow

__all__ = ["IN_FLIGHT_STALE_AFTER", "Ledger", "RequestFinish", "open_ledger", "redact_url"]


def _micros(delta: timedelta | None) -> int | None:
    if delta is None:
        return None
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Ledger(Leases, Audit, Holds, Ingest, Fleet):
    """Records requests, state changes, actions and leases in one database.

    Args:
        engine: A SQLAlchemy engine from :func:`epmgr.ledger.make_engine`; the schema must be current.
    """

    # -- endpoints ----------------------------------------------------------------------------------

    def upsert_endpoint(self, record: EndpointRecord, *, seen_at: datetime) -> None:
        """Create or update what the ledger knows of an endpoint (instance, price, managed, policy)."""
        with self._write() as conn:
            endpoint_id = self._endpoint_id(conn, record.ref, seen_at)
            values = endpoint_values(record, seen_at)
            conn.execute(update(EndpointRow).where(EndpointRow.id == endpoint_id).values(**values))

    def endpoints(self) -> list[EndpointRecord]:
        """Every endpoint the ledger knows, by namespace and name."""
        with self._read() as conn:
            rows = conn.execute(select(EndpointRow.__table__).order_by(EndpointRow.namespace, EndpointRow.name))
            return [endpoint_record_of(row) for row in rows.all()]

    def endpoint(self, ref: EndpointRef) -> EndpointRecord | None:
        with self._read() as conn:
            query = select(EndpointRow.__table__).where(
                EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name
            )
            row = conn.execute(query).first()
            return endpoint_record_of(row) if row else None

    # -- requests -----------------------------------------------------------------------------------

    def record_requests(self, records: Sequence[RequestRecord]) -> list[int]:
        """Insert request records in one transaction; returns their ids in order."""
        if not records:
            return []
        with self._write() as conn:
            rows = [
                {
                    "endpoint_id": self._endpoint_id(conn, r.ref, r.started_at),
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "status_code": r.status_code,
                    "latency_us": _micros(r.latency),
                    "client_id": r.client_id,
                    "tokens_in": r.tokens_in,
                    "tokens_out": r.tokens_out,
                    "served_by": r.served_by,
                }
                for r in records
            ]
            ids = conn.execute(insert(RequestRow).returning(RequestRow.id, sort_by_parameter_order=True), rows)
            return list(ids.scalars())

    def requests(
        self, ref: EndpointRef | None = None, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[RequestRecord]:
        """Requests in start order, optionally for one endpoint and a [since, until) window."""
        query = scoped(
            select(RequestRow.__table__, *REF_COLUMNS).join(EndpointRow), ref, RequestRow.started_at, since, until
        )
        with self._read() as conn:
            rows = conn.execute(query.order_by(RequestRow.started_at, RequestRow.id)).all()
        return [
            RequestRecord(
                ref=EndpointRef(row.ep_namespace, row.ep_name),
                started_at=row.started_at,
                finished_at=row.finished_at,
                status_code=row.status_code,
                latency=None if row.latency_us is None else timedelta(microseconds=row.latency_us),
                client_id=row.client_id,
                tokens_in=row.tokens_in,
                tokens_out=row.tokens_out,
                id=row.id,
                served_by=row.served_by,
            )
            for row in rows
        ]

    def count_requests(
        self, ref: EndpointRef | None = None, *, since: datetime | None = None, client_id: str | None = None
    ) -> int:
        """Requests recorded (for one endpoint, started at or after ``since``, sent by ``client_id``)."""
        query = select(func.count(RequestRow.id))
        if ref is not None:
            query = query.join(EndpointRow).where(EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name)
        if since is not None:
            query = query.where(RequestRow.started_at >= since)
        if client_id is not None:
            query = query.where(RequestRow.client_id == client_id)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def activity(self, ref: EndpointRef, now: datetime) -> Activity:
        """The endpoint's last request, requests in flight and requests in the last hour, as of ``now``."""
        found = self._activities(now, EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name)
        return found.get(ref, Activity())

    # -- state changes ------------------------------------------------------------------------------

    def record_state_change(self, change: StateChange) -> int:
        with self._write() as conn:
            return insert_change(conn, self._endpoint_id(conn, change.ref, change.observed_at), change)

    def record_snapshot(
        self, snapshot: EndpointSnapshot, observed_at: datetime, source: ChangeSource = ChangeSource.OBSERVED
    ) -> StateChange | None:
        """Record a state change if the snapshot differs from the last one (state, replicas, instance or price).

        Returns:
            The change written, or None when nothing changed.
        """
        change = change_for(snapshot, self.last_state_change(snapshot.ref), observed_at, source)
        if change is None:
            return None
        return replace(change, id=self.record_state_change(change))

    def state_changes(
        self, ref: EndpointRef | None = None, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[StateChange]:
        """State changes in observation order, optionally for one endpoint and a [since, until) window."""
        query = scoped(
            select(StateChangeRow.__table__, *REF_COLUMNS).join(EndpointRow),
            ref,
            StateChangeRow.observed_at,
            since,
            until,
        )
        with self._read() as conn:
            rows = conn.execute(query.order_by(StateChangeRow.observed_at, StateChangeRow.id)).all()
        return [state_change_of(row) for row in rows]

    def last_state_change(self, ref: EndpointRef) -> StateChange | None:
        query = (
            select(StateChangeRow.__table__, *REF_COLUMNS)
            .join(EndpointRow)
            .where(EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name)
            .order_by(StateChangeRow.observed_at.desc(), StateChangeRow.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return state_change_of(row) if row else None

    # -- prices -------------------------------------------------------------------------------------

    def record_prices(self, prices: Sequence[PriceRecord]) -> None:
        """Cache prices (one row per instance: the newest reading replaces the last)."""
        with self._write() as conn:
            for price in prices:
                i = price.instance
                match = (
                    PriceRow.vendor == i.vendor,
                    PriceRow.region == i.region,
                    PriceRow.instance_type == i.instance_type,
                    PriceRow.instance_size == i.instance_size,
                )
                values = {
                    "accelerator": i.accelerator,
                    "price_per_hour": price.price_per_hour,
                    "source": price.source,
                    "read_at": price.read_at,
                }
                if not conn.execute(update(PriceRow).where(*match).values(**values)).rowcount:
                    conn.execute(insert(PriceRow).values({**instance_columns(i), **values}))

    def prices(self) -> list[PriceRecord]:
        """Every cached price."""
        with self._read() as conn:
            rows = conn.execute(select(PriceRow.__table__).order_by(PriceRow.vendor, PriceRow.region, PriceRow.id))
            return [
                PriceRecord(
                    instance=Instance(r.vendor, r.region, r.accelerator, r.instance_type, r.instance_size),
                    price_per_hour=Decimal(r.price_per_hour),
                    source=r.source,
                    read_at=r.read_at,
                )
                for r in rows.all()
            ]


@contextmanager
def ledger_errors(url: str) -> Iterator[None]:
    """Translate database failures while opening or migrating the ledger at ``url`` into LedgerError."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise LedgerError(f"cannot use the ledger at {redact_url(url)}: {describe(exc)}") from exc


def open_ledger(url: str, *, upgrade: bool = True) -> Ledger:
    """Open the ledger at ``url`` (a SQLAlchemy URL or a SQLite file path), migrating it first.

    Raises:
        SchemaOutdated: ``upgrade`` is False and the schema is not the newest.
        LedgerError: The database cannot be reached or migrated.
    """
    with ledger_errors(url):
        engine = make_engine(url)
        try:
            if upgrade:
                migrate.upgrade(engine)
            elif not migrate.at_head(engine) and migrate.current(engine) != migrate.head():
                raise SchemaOutdated("the ledger's schema is out of date: run `epmgr db upgrade`")
        except BaseException:
            engine.dispose()
            raise
    return Ledger(engine)


def redact_url(url: str) -> str:
    """A URL safe to print: the password is masked."""
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown without its credentials part
        return url.split("@")[-1]
