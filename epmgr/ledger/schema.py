"""The ledger's tables (SQLAlchemy 2). Migrations in ``migrations/`` must match this exactly."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, MetaData, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from epmgr.ledger.types import UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Price = Numeric(12, 6)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EndpointRow(Base):
    """An endpoint epmgr has seen or been told about."""

    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(96))
    name: Mapped[str] = mapped_column(String(64))
    vendor: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    accelerator: Mapped[str | None] = mapped_column(String(32))
    instance_type: Mapped[str | None] = mapped_column(String(64))
    instance_size: Mapped[str | None] = mapped_column(String(32))
    price_per_hour: Mapped[Decimal | None] = mapped_column(Price)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    policy: Mapped[str | None] = mapped_column(String(128))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("uq_endpoints_namespace_name", "namespace", "name", unique=True),)


class RequestRow(Base):
    """One inference request; ``finished_at`` is NULL while it is in flight."""

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_us: Mapped[int | None] = mapped_column(BigInteger)
    client_id: Mapped[str | None] = mapped_column(String(128))
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    served_by: Mapped[str | None] = mapped_column(String(200))  # a fallback's spec; NULL: the endpoint itself

    __table_args__ = (
        Index("ix_requests_endpoint_started", "endpoint_id", "started_at"),
        Index("ix_requests_endpoint_finished", "endpoint_id", "finished_at"),
    )


class StateChangeRow(Base):
    """An endpoint's state, replicas or instance changed (observed by polling, or caused by an action)."""

    __tablename__ = "state_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    replicas: Mapped[int | None] = mapped_column(Integer)
    vendor: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    accelerator: Mapped[str | None] = mapped_column(String(32))
    instance_type: Mapped[str | None] = mapped_column(String(64))
    instance_size: Mapped[str | None] = mapped_column(String(32))
    price_per_hour: Mapped[Decimal | None] = mapped_column(Price)

    __table_args__ = (Index("ix_state_changes_endpoint_observed", "endpoint_id", "observed_at"),)


class ActionRow(Base):
    """The audit log: every decision epmgr acted on, skipped or failed, with its reason."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[str | None] = mapped_column(String(32))
    # Intent before act: a daemon action is written "started" before its API call, completed after it.
    holder: Mapped[str | None] = mapped_column(String(160))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_actions_endpoint_requested", "endpoint_id", "requested_at"),
        Index("ix_actions_outcome", "outcome"),
    )


class LeaseRow(Base):
    """A named lease: the daemon's leadership, or one endpoint's single-flight wake."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    holder: Mapped[str] = mapped_column(String(160))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The fencing token: +1 each time the lease is taken anew (not on renewal).
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class PriceRow(Base):
    """The price per replica-hour of one instance, with where it came from and when it was read."""

    __tablename__ = "prices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vendor: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(64))
    accelerator: Mapped[str] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(64))
    instance_size: Mapped[str] = mapped_column(String(32))
    price_per_hour: Mapped[Decimal] = mapped_column(Price)
    source: Mapped[str] = mapped_column(String(16))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("uq_prices_instance", "vendor", "region", "instance_type", "instance_size", unique=True),)


class HoldRow(Base):
    """A hold on waking an endpoint (a budget paused it): clients refuse to wake it until it ends."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_holds_endpoint_released", "endpoint_id", "released_at"),)


class NotificationRow(Base):
    """A notification waiting in the outbox, delivered, or given up on (epmgr.ledger.outbox)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str | None] = mapped_column(String(160))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),)


metadata = Base.metadata
