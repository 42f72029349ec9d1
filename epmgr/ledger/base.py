"""The ledger's plumbing shared by its parts: transactions, error translation, endpoint ids, row conversions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute

from epmgr.domain.model import ChangeSource, EndpointRecord, EndpointRef, EndpointState, Instance, StateChange
from epmgr.errors import LedgerError
from epmgr.ledger.schema import EndpointRow, StateChangeRow

# The endpoint's identity, joined onto rows of the other tables.
REF_COLUMNS = (EndpointRow.namespace.label("ep_namespace"), EndpointRow.name.label("ep_name"))


def scoped(
    query: Select[Any],
    ref: EndpointRef | None,
    at: InstrumentedAttribute[datetime],
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[Any]:
    """``query`` (joined onto EndpointRow) narrowed to one endpoint and to ``since <= at < until``, each if given."""
    if ref is not None:
        query = query.where(EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name)
    if since is not None:
        query = query.where(at >= since)
    if until is not None:
        query = query.where(at < until)
    return query


IN_FLIGHT_STALE_AFTER = timedelta(hours=1)
"""A request still "in flight" after this long is taken as abandoned (its client crashed) and stops counting as
activity that protects the endpoint."""


def instance_columns(instance: Instance | None) -> dict[str, str | None]:
    if instance is None:
        return dict.fromkeys(("vendor", "region", "accelerator", "instance_type", "instance_size"))
    return {
        "vendor": instance.vendor,
        "region": instance.region,
        "accelerator": instance.accelerator,
        "instance_type": instance.instance_type,
        "instance_size": instance.instance_size,
    }


def instance_of(row: Row[Any]) -> Instance | None:
    if row.vendor is None or row.instance_type is None:
        return None
    return Instance(
        vendor=row.vendor,
        region=row.region or "",
        accelerator=row.accelerator or "",
        instance_type=row.instance_type,
        instance_size=row.instance_size or "",
    )


def state_change_of(row: Row[Any]) -> StateChange:
    return StateChange(
        ref=EndpointRef(row.ep_namespace, row.ep_name),
        from_state=EndpointState.parse(row.from_state) if row.from_state else None,
        to_state=EndpointState.parse(row.to_state),
        observed_at=row.observed_at,
        source=ChangeSource(row.source),
        replicas=row.replicas,
        instance=instance_of(row),
        price_per_hour=Decimal(row.price_per_hour) if row.price_per_hour is not None else None,
        id=row.id,
    )


def endpoint_record_of(r: Row[Any]) -> EndpointRecord:
    return EndpointRecord(
        ref=EndpointRef(r.namespace, r.name),
        instance=instance_of(r),
        price_per_hour=r.price_per_hour,
        managed=r.managed,
        policy=r.policy,
        first_seen_at=r.first_seen_at,
        last_seen_at=r.last_seen_at,
    )


def endpoint_values(record: EndpointRecord, seen_at: datetime) -> dict[str, Any]:
    """The endpoint row's columns a look sets: managed, policy and ``last_seen_at``; instance and price only where
    the look showed them."""
    values: dict[str, Any] = {"managed": record.managed, "policy": record.policy, "last_seen_at": seen_at}
    if record.instance is not None:
        values.update(instance_columns(record.instance))
    if record.price_per_hour is not None:
        values["price_per_hour"] = record.price_per_hour
    return values


def insert_change(conn: Connection, endpoint_id: int, change: StateChange) -> int:
    """Insert one state change of the endpoint with id ``endpoint_id``; its id."""
    values = {
        "endpoint_id": endpoint_id,
        "from_state": change.from_state.value if change.from_state else None,
        "to_state": change.to_state.value,
        "observed_at": change.observed_at,
        "source": change.source.value,
        "replicas": change.replicas,
        "price_per_hour": change.price_per_hour,
        **instance_columns(change.instance),
    }
    return int(conn.execute(insert(StateChangeRow).values(**values).returning(StateChangeRow.id)).scalar_one())


def describe(exc: SQLAlchemyError) -> str:
    """The driver's own message (without SQLAlchemy's SQL echo and background link)."""
    original = getattr(exc, "orig", None)
    return f"{type(original or exc).__name__}: {original or exc}"


class LedgerBase:
    """One database: write transactions (``BEGIN IMMEDIATE`` on SQLite), reads, and the endpoint-id cache.

    Args:
        engine: A SQLAlchemy engine from :func:`epmgr.ledger.make_engine`; the schema must be current.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._endpoint_ids: dict[EndpointRef, int] = {}

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger write failed: {describe(exc)}") from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise LedgerError(f"ledger read failed: {describe(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def _endpoint_id(self, conn: Connection, ref: EndpointRef, now: datetime) -> int:
        cached = self._endpoint_ids.get(ref)
        if cached is not None:
            return cached
        query = select(EndpointRow.id).where(EndpointRow.namespace == ref.namespace, EndpointRow.name == ref.name)
        found = conn.execute(query).scalar()
        if found is None:
            values = {"namespace": ref.namespace, "name": ref.name, "first_seen_at": now, "last_seen_at": now}
            try:
                with conn.begin_nested():
                    found = conn.execute(insert(EndpointRow).values(**values).returning(EndpointRow.id)).scalar_one()
            except IntegrityError:  # another process inserted it first
                found = conn.execute(query).scalar_one()
        self._endpoint_ids[ref] = found
        return found
