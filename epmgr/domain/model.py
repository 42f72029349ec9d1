"""Immutable records that flow between the API adapter, the ledger and the policies."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any


class EndpointState(str, enum.Enum):
    """An endpoint's state, as the HF API spells it (camelCase on the wire), plus ``unknown``."""

    PENDING = "pending"
    INITIALIZING = "initializing"
    UPDATING = "updating"
    UPDATE_FAILED = "updateFailed"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SCALED_TO_ZERO = "scaledToZero"
    DELETED = "deleted"  # epmgr's own: it is gone from the API (costs nothing; a new one may take the name)
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: str | None) -> EndpointState:
        """Coerce a wire string into a state; anything unrecognised becomes ``UNKNOWN``."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_transitional(self) -> bool:
        """True while the endpoint is on its way to running (it will get there without help)."""
        return self in (EndpointState.PENDING, EndpointState.INITIALIZING, EndpointState.UPDATING)


class ChangeSource(str, enum.Enum):
    """How a state change became known."""

    OBSERVED = "observed"  # seen by polling the API
    ACTION = "action"  # caused by an action epmgr took (and whose response showed it)


class Actor(str, enum.Enum):
    """Who asked for an action."""

    DAEMON = "daemon"
    CLI = "cli"
    CLIENT = "client"
    PROXY = "proxy"


class ActionKind(str, enum.Enum):
    """What was done (or decided) to an endpoint."""

    NONE = "none"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    PAUSE = "pause"
    RESUME = "resume"
    SCALE_TO_ZERO = "scale_to_zero"
    SET_REPLICAS = "set_replicas"
    WARN = "warn"


class Outcome(str, enum.Enum):
    """How an action ended."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"
    DRY_RUN = "dry_run"
    STARTED = "started"  # written before the API call; completed after it (or reconciled after a crash)
    UNKNOWN = "unknown"  # a started action whose effect could not be determined after a crash


@dataclass(frozen=True, order=True)
class EndpointRef:
    """An endpoint's identity: its namespace and name."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Instance:
    """Where and on what an endpoint runs."""

    vendor: str
    region: str
    accelerator: str
    instance_type: str
    instance_size: str

    def __str__(self) -> str:
        return f"{self.vendor}/{self.region}/{self.instance_type}-{self.instance_size}"


@dataclass(frozen=True)
class EndpointSnapshot:
    """What the API said about one endpoint at one moment (never a library object)."""

    ref: EndpointRef
    state: EndpointState
    instance: Instance
    url: str | None = None
    ready_replicas: int = 0
    target_replicas: int = 0
    min_replica: int = 0
    max_replica: int = 1
    scale_to_zero_timeout_min: int | None = None
    repository: str = ""
    task: str | None = None
    framework: str = ""
    health_route: str = "/health"
    endpoint_type: str = "authenticated"
    message: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    price_per_hour: Decimal | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class EndpointRecord:
    """An endpoint as the ledger knows it (for cost and policy lookup)."""

    ref: EndpointRef
    instance: Instance | None = None
    price_per_hour: Decimal | None = None
    managed: bool = False
    policy: str | None = None
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True)
class RequestRecord:
    """One inference request, as a client or the proxy saw it.

    ``finished_at`` is None while the request is in flight. ``latency`` is exact (a timedelta).
    """

    ref: EndpointRef
    started_at: datetime
    finished_at: datetime | None = None
    status_code: int | None = None
    latency: timedelta | None = None
    client_id: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    id: int | None = None
    served_by: str | None = None  # the fallback that answered (None: the endpoint itself)


@dataclass(frozen=True)
class StateChange:
    """An endpoint went from one state to another (or changed replicas or instance)."""

    ref: EndpointRef
    from_state: EndpointState | None
    to_state: EndpointState
    observed_at: datetime
    source: ChangeSource = ChangeSource.OBSERVED
    replicas: int | None = None
    instance: Instance | None = None
    price_per_hour: Decimal | None = None
    id: int | None = None


@dataclass(frozen=True)
class ActionRecord:
    """One entry of the audit log: what was (or was not) done, by whom, and why."""

    ref: EndpointRef
    action: ActionKind
    reason: str
    actor: Actor
    requested_at: datetime
    outcome: Outcome
    error: str | None = None
    policy: str | None = None  # the rule behind it: "idle", "schedule", "budget", "manual", ...
    id: int | None = None
    holder: str | None = None  # the daemon (lease holder) that acted
    completed_at: datetime | None = None  # when a started action was completed (or reconciled)
    detail: str | None = None  # how the outcome was established, e.g. reconciled after a restart


@dataclass(frozen=True)
class Hold:
    """A hold on waking an endpoint: while it is in force, clients refuse to wake it (e.g. a budget paused it).

    It ends at ``until`` (e.g. when the budget period resets) or when a person releases it.
    """

    ref: EndpointRef
    kind: str
    reason: str
    created_at: datetime
    until: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    id: int | None = None

    def in_force(self, now: datetime) -> bool:
        return self.released_at is None and (self.until is None or now < self.until)


@dataclass(frozen=True)
class PriceRecord:
    """The price per replica-hour of an instance, where it came from ("api", "published", "config") and when."""

    instance: Instance
    price_per_hour: Decimal
    source: str
    read_at: datetime


@dataclass(frozen=True)
class Lease:
    """A named lease held by one holder until ``expires_at`` (leader election, single-flight wake)."""

    name: str
    holder: str
    expires_at: datetime
    epoch: int = 0  # the fencing token: it grows each time the lease is taken anew


@dataclass(frozen=True)
class Activity:
    """What the ledger knows about an endpoint's recent traffic, at one moment."""

    last_request_at: datetime | None = None
    in_flight: int = 0
    requests_last_hour: int = 0


@dataclass(frozen=True)
class EndpointSpec:
    """What to create: the model, where it runs, and how it scales.

    ``scale_to_zero_timeout_min`` needs ``min_replica == 0`` (HF refuses it otherwise).
    """

    name: str
    repository: str
    instance: Instance
    framework: str = "pytorch"
    task: str | None = None
    revision: str | None = None
    min_replica: int = 1
    max_replica: int = 1
    scale_to_zero_timeout_min: int | None = None
    endpoint_type: str = "authenticated"
    image: Mapping[str, Any] | None = None
    env: Mapping[str, str] | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointChanges:
    """A partial update: only the fields that are not None are sent (the server merges them)."""

    instance_type: str | None = None
    instance_size: str | None = None
    accelerator: str | None = None
    min_replica: int | None = None
    max_replica: int | None = None
    scale_to_zero_timeout_min: int | None = None
    repository: str | None = None
    revision: str | None = None
    task: str | None = None
    framework: str | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in self.__dict__.values())


@dataclass(frozen=True)
class HardwareOption:
    """One compute offer of the hardware route, with its price per replica-hour."""

    vendor: str
    region: str
    accelerator: str
    instance_type: str
    instance_size: str
    price_per_hour: Decimal
    num_accelerators: int = 0
    memory_gb: float | None = None
    gpu_memory_gb: float | None = None
    status: str = "available"

    def matches(self, instance: Instance) -> bool:
        return (
            self.vendor == instance.vendor
            and self.region == instance.region
            and self.instance_type == instance.instance_type
            and self.instance_size == instance.instance_size
        )
