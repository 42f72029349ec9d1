"""The ledger's plumbing shared by its parts: transactions, error translation, endpoint ids."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute

from epmgr.domain.model import EndpointRef
from epmgr.errors import LedgerError
from epmgr.ledger.schema import EndpointRow

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
