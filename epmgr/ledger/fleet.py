"""Set-based reads and writes for a whole namespace: what a tick, ``epmgr status`` and ``epmgr list`` need of
thousands of endpoints, in one statement per table rather than a handful per endpoint.

Each read answers exactly what the per-endpoint method named in its docstring answers for every endpoint at once
(a test compares them on a randomized ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, Select, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.orm import aliased

from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Activity,
    EndpointRecord,
    EndpointRef,
    Hold,
    Outcome,
    StateChange,
)
from epmgr.domain.observation import Observation
from epmgr.ledger.audit import _action_record
from epmgr.ledger.base import (
    IN_FLIGHT_STALE_AFTER,
    REF_COLUMNS,
    LedgerBase,
    endpoint_record_of,
    endpoint_values,
    insert_change,
    state_change_of,
)
from epmgr.ledger.holds import hold_of
from epmgr.ledger.schema import ActionRow, EndpointRow, HoldRow, RequestRow, StateChangeRow
from epmgr.ledger.types import UTCDateTime

_Keyed = TypeVar("_Keyed", StateChange, ActionRecord)
_IDS_PER_STATEMENT = 10_000  # well under SQLite's 32,766 bound parameters


class Fleet(LedgerBase):
    """Reads of every endpoint of a namespace at once, and one transaction for a whole list call's observations."""

    def endpoints_in(self, namespace: str) -> dict[EndpointRef, EndpointRecord]:
        """What :meth:`Ledger.endpoint` answers, for each endpoint of ``namespace``."""
        query = select(EndpointRow.__table__).where(EndpointRow.namespace == namespace).order_by(EndpointRow.name)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return {EndpointRef(r.namespace, r.name): endpoint_record_of(r) for r in rows}

    def changes_in(self, namespace: str, since: datetime | None = None) -> dict[EndpointRef, list[StateChange]]:
        """What :meth:`Ledger.state_changes` answers (in observation order), per endpoint: every change, or those
        observed at or after ``since`` and the last one before it (the state at ``since``), so a tick reads a
        bounded window however long the ledger's history (two statements, each by index per endpoint)."""
        window = (
            select(StateChangeRow.__table__, *REF_COLUMNS)
            .join(EndpointRow)
            .where(EndpointRow.namespace == namespace)
            .order_by(StateChangeRow.endpoint_id, StateChangeRow.observed_at, StateChangeRow.id)
        )
        if since is None:
            return self._by_endpoint(window, state_change_of)
        before = aliased(StateChangeRow)
        at_since = (
            select(before.id)
            .where(before.endpoint_id == EndpointRow.id, before.observed_at < since)
            .order_by(before.observed_at.desc(), before.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        boundary = (
            select(StateChangeRow.__table__, *REF_COLUMNS)
            .select_from(EndpointRow)
            .join(StateChangeRow, StateChangeRow.id == at_since)
            .where(EndpointRow.namespace == namespace)
        )
        found = self._by_endpoint(boundary, state_change_of)
        for ref, changes in self._by_endpoint(
            window.where(StateChangeRow.observed_at >= since), state_change_of
        ).items():
            found.setdefault(ref, []).extend(changes)
        return found

    def _by_endpoint(self, query: Select[Any], record: Callable[[Row[Any]], _Keyed]) -> dict[EndpointRef, list[_Keyed]]:
        """The rows of ``query`` (ordered by endpoint, then time) as records, grouped by endpoint."""
        found: dict[EndpointRef, list[_Keyed]] = {}
        with self._read() as conn:
            for row in conn.execute(query):
                item = record(row)
                found.setdefault(item.ref, []).append(item)
        return found

    def last_changes(self, refs: Collection[EndpointRef]) -> dict[EndpointRef, StateChange]:
        """What :meth:`Ledger.last_state_change` answers, for each of ``refs`` that has a change."""
        if not refs:
            return {}
        newest = aliased(StateChangeRow)
        latest_id = (
            select(newest.id)
            .where(newest.endpoint_id == EndpointRow.id)
            .order_by(newest.observed_at.desc(), newest.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = (  # per endpoint of the namespaces, its newest change's id by index, then that row by key
            select(StateChangeRow.__table__, *REF_COLUMNS)
            .select_from(EndpointRow)
            .join(StateChangeRow, StateChangeRow.id == latest_id)
            .where(EndpointRow.namespace.in_({r.namespace for r in refs}))
        )
        with self._read() as conn:
            found = (state_change_of(row) for row in conn.execute(query))
            return {change.ref: change for change in found if change.ref in refs}

    def actions_in(self, namespace: str, since: datetime) -> dict[EndpointRef, list[ActionRecord]]:
        """What :meth:`Ledger.actions` answers with ``since`` (oldest first), per endpoint."""
        query = (
            select(ActionRow.__table__, *REF_COLUMNS)
            .join(EndpointRow)
            .where(EndpointRow.namespace == namespace, ActionRow.requested_at >= since)
            .order_by(ActionRow.endpoint_id, ActionRow.requested_at, ActionRow.id)
        )
        return self._by_endpoint(query, _action_record)

    def created_in(self, namespace: str) -> set[EndpointRef]:
        """The endpoints of ``namespace`` with a successful ``create`` in their audit log (any time)."""
        query = (
            select(*REF_COLUMNS)
            .join_from(ActionRow, EndpointRow)
            .where(
                EndpointRow.namespace == namespace,
                ActionRow.action == ActionKind.CREATE.value,
                ActionRow.outcome == Outcome.OK.value,
            )
            .distinct()
        )
        with self._read() as conn:
            return {EndpointRef(row.ep_namespace, row.ep_name) for row in conn.execute(query)}

    def activity_in(self, namespace: str, now: datetime) -> dict[EndpointRef, Activity]:
        """What :meth:`Ledger.activity` answers, for each endpoint of ``namespace`` (one statement: a few index
        look-ups per endpoint, however many requests each has)."""
        return self._activities(now, EndpointRow.namespace == namespace)

    def _activities(self, now: datetime, *endpoints: Any) -> dict[EndpointRef, Activity]:
        """The activity as of ``now`` of each endpoint that ``endpoints`` (where-clauses on EndpointRow) select."""
        mine = RequestRow.endpoint_id == EndpointRow.id

        def scalar(column: Any, *where: Any) -> Any:
            return select(column).where(mine, *where).correlate(EndpointRow).scalar_subquery()

        # The last request's end (or start, while in flight): max(coalesce(finished_at, started_at)), split so each
        # part is one index look-up.
        unfinished = RequestRow.finished_at.is_(None)
        last_finished = scalar(type_coerce(func.max(RequestRow.finished_at), UTCDateTime))
        last_unfinished = scalar(type_coerce(func.max(RequestRow.started_at), UTCDateTime), unfinished)
        in_flight = scalar(func.count(RequestRow.id), unfinished, RequestRow.started_at > now - IN_FLIGHT_STALE_AFTER)
        recent = scalar(func.count(RequestRow.id), RequestRow.started_at > now - timedelta(hours=1))
        query = select(
            EndpointRow.namespace,
            EndpointRow.name,
            last_finished.label("last_finished"),
            last_unfinished.label("last_unfinished"),
            in_flight.label("in_flight"),
            recent.label("recent"),
        ).where(*endpoints)
        found = {}
        with self._read() as conn:
            for row in conn.execute(query):
                ends = [at for at in (row.last_finished, row.last_unfinished) if at is not None]
                found[EndpointRef(row.namespace, row.name)] = Activity(
                    last_request_at=max(ends, default=None),
                    in_flight=int(row.in_flight or 0),
                    requests_last_hour=int(row.recent or 0),
                )
        return found

    def holds_in(self, namespace: str, now: datetime) -> dict[EndpointRef, Hold]:
        """What :meth:`Ledger.active_hold` answers, for each endpoint of ``namespace`` with a hold in force."""
        query = (
            select(HoldRow.__table__, *REF_COLUMNS)
            .join(EndpointRow)
            .where(EndpointRow.namespace == namespace)
            .where(HoldRow.released_at.is_(None), or_(HoldRow.until.is_(None), HoldRow.until > now))
            .order_by(HoldRow.created_at, HoldRow.id)
        )
        with self._read() as conn:  # oldest first: the newest of each endpoint is kept
            return {hold.ref: hold for hold in map(hold_of, conn.execute(query))}

    def request_counts_in(
        self, namespace: str, refs: Collection[EndpointRef], *, since: datetime, client_id: str
    ) -> dict[EndpointRef, int]:
        """What :meth:`Ledger.count_requests` answers (started at or after ``since``, sent by ``client_id``), for
        each of ``refs`` (one namespace's)."""
        if not refs:
            return {}
        query = (
            select(EndpointRow.name, func.count(RequestRow.id).label("n"))
            .join_from(RequestRow, EndpointRow)
            .where(EndpointRow.namespace == namespace, RequestRow.client_id == client_id)
            .where(RequestRow.started_at >= since)
            .group_by(EndpointRow.name)
        )
        with self._read() as conn:
            counts = {EndpointRef(namespace, row.name): int(row.n) for row in conn.execute(query)}
        return {ref: counts.get(ref, 0) for ref in refs}

    def request_starts_in(
        self, namespace: str, since: dict[EndpointRef, datetime], until: datetime
    ) -> dict[EndpointRef, list[datetime]]:
        """Start times of each endpoint's requests in ``[since[ref], until)``, in start order (what
        :meth:`Ledger.requests` gives for one endpoint, its start times only)."""
        if not since:
            return {}
        query = (
            select(EndpointRow.name, RequestRow.started_at)
            .join_from(RequestRow, EndpointRow)
            .where(EndpointRow.namespace == namespace)
            .where(RequestRow.started_at >= min(since.values()), RequestRow.started_at < until)
            .order_by(RequestRow.started_at, RequestRow.id)
        )
        found: dict[EndpointRef, list[datetime]] = {ref: [] for ref in since}
        with self._read() as conn:
            for name, started in conn.execute(query):
                ref = EndpointRef(namespace, name)
                if ref in since and started >= since[ref]:
                    found[ref].append(started)
        return found

    def record_observations(self, observations: Sequence[Observation]) -> list[StateChange]:
        """Write what one list call showed, in one transaction: each observation's state changes (ids filled in)
        and its endpoint record (instance, price, managed, policy, ``last_seen_at``).

        Returns:
            The state changes written, with their ids, in order.
        """
        written: list[StateChange] = []
        if not observations:
            return written
        with self._write() as conn:
            self._known_ids(conn, {seen.record.ref.namespace for seen in observations})
            changed: list[tuple[int, dict[str, Any]]] = []
            touched: dict[datetime, list[int]] = {}  # rows whose only news is when they were seen
            for seen in observations:
                first = seen.changes[0].observed_at if seen.changes else seen.seen_at  # a new endpoint's first record
                endpoint_id = self._endpoint_id(conn, seen.record.ref, first)
                for change in seen.changes:
                    written.append(replace(change, id=insert_change(conn, endpoint_id, change)))
                if seen.record_changed:
                    changed.append((endpoint_id, endpoint_values(seen.record, seen.seen_at)))
                else:
                    touched.setdefault(seen.seen_at, []).append(endpoint_id)
            _update_endpoints(conn, changed)
            seen_at = update(EndpointRow).where(EndpointRow.id.in_(bindparam("ids", expanding=True)))
            for at, ids in touched.items():
                for start in range(0, len(ids), _IDS_PER_STATEMENT):
                    conn.execute(seen_at.values(last_seen_at=at), {"ids": ids[start : start + _IDS_PER_STATEMENT]})
        return written

    def _known_ids(self, conn: Any, namespaces: Iterable[str]) -> None:
        """Fill the endpoint-id cache for whole namespaces (one query each), so a write names no endpoint twice."""
        for namespace in namespaces:
            query = select(EndpointRow.name, EndpointRow.id).where(EndpointRow.namespace == namespace)
            for name, endpoint_id in conn.execute(query):
                self._endpoint_ids[EndpointRef(namespace, name)] = endpoint_id


def _update_endpoints(conn: Any, changed: list[tuple[int, dict[str, Any]]]) -> None:
    """Set each endpoint's values (:func:`endpoint_values`, by endpoint id): one executemany per set of columns."""
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for endpoint_id, values in changed:  # each bind named apart from its column (SQLAlchemy reserves those names)
        batches.setdefault(tuple(values), []).append({"eid": endpoint_id, **{f"v_{k}": v for k, v in values.items()}})
    for columns, batch in batches.items():
        statement = update(EndpointRow).where(EndpointRow.id == bindparam("eid"))
        conn.execute(statement.values({k: bindparam(f"v_{k}") for k in columns}), batch)
