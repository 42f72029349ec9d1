"""What a user configured for an endpoint: idle timeouts, schedule, budget, protection."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from epmgr.domain.schedule import Window


class OnStart(str, enum.Enum):
    """What to do when an active window opens."""

    RESUME = "resume"  # pre-warm, so the first user of the day does not wait
    NONE = "none"


class OnEnd(str, enum.Enum):
    """What to do when an active window closes."""

    PAUSE = "pause"
    SCALE_TO_ZERO = "scale_to_zero"
    NONE = "none"


class OnExceed(str, enum.Enum):
    """What to do when a budget is used up (each stage includes a warning)."""

    WARN = "warn"
    CAP_REPLICAS = "cap_replicas"
    SCALE_TO_ZERO = "scale_to_zero"
    PAUSE = "pause"


@dataclass(frozen=True)
class Schedule:
    """When an endpoint should be available, in its own time zone.

    Either ``active`` windows or ``cron`` start/stop expressions (or both) may be given. ``prewarm`` is how long
    before a window opens ``on_start = "resume"`` acts (None: ``"auto"``, the endpoint's measured cold start).
    """

    tz: str
    active: tuple[Window, ...] = ()
    cron_start: str | None = None
    cron_stop: str | None = None
    on_start: OnStart = OnStart.RESUME
    on_end: OnEnd = OnEnd.PAUSE
    holidays: frozenset[date] = frozenset()
    enforce: bool = False
    prewarm: timedelta | None = None  # resume this long before a window opens; None: the measured cold start


@dataclass(frozen=True)
class Budget:
    """Spending caps in US dollars; None means no cap for that period."""

    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    warn_at: Decimal = Decimal("0.8")
    on_exceed: OnExceed = OnExceed.PAUSE
    cap_replicas: int = 1


@dataclass(frozen=True)
class IdlePolicy:
    """Two-stage idle policy: scale to zero after one idle period, pause after a longer one.

    Either stage is off when None. ``min_uptime`` keeps a freshly woken endpoint up (against flapping).
    """

    scale_to_zero_after: timedelta | None = timedelta(minutes=15)
    pause_after: timedelta | None = timedelta(hours=6)
    min_uptime: timedelta = timedelta(minutes=5)


class KeepAlive(str, enum.Enum):
    """How long a replica is kept after its last request.

    ``off``: the idle policy's fixed ``scale_to_zero_after``. ``adaptive``: learned from the endpoint's own idle gaps
    and priced (:mod:`epmgr.domain.adaptive`); ``keep_alive = true`` in a configuration means ``adaptive``.
    """

    OFF = "off"
    ADAPTIVE = "adaptive"


class Traffic(str, enum.Enum):
    """Who sends the endpoint its requests.

    ``epmgr``: every caller goes through epmgr's client or proxy, so the ledger sees all traffic and an idle pause
    is safe. ``shared``: other callers use the URL directly (curl, another service, a notebook); the daemon never
    pauses it for idleness (a paused endpoint breaks them) and relies on scale to zero, which any request wakes.
    """

    EPMGR = "epmgr"
    SHARED = "shared"


@dataclass(frozen=True)
class AdaptiveKnobs:
    """The adaptive keep-alive's knobs.

    Attributes:
        cold_start_usd: What one cold start a user waits for is worth, in US dollars (None: what
            ``scale_to_zero_after`` implies, that timeout minus one start-up of replica time).
        max_cold_starts_per_day: Keep warm longer when the learned gaps predict more cold starts than this a day.
        max_keep: Never keep a replica warm longer than this after its last request.
    """

    cold_start_usd: Decimal | None = None
    max_cold_starts_per_day: float | None = None
    max_keep: timedelta = timedelta(hours=2)


@dataclass(frozen=True)
class EndpointPolicy:
    """Everything configured for one endpoint."""

    name: str
    namespace: str | None = None
    idle: IdlePolicy = field(default_factory=IdlePolicy)
    schedule: Schedule | None = None
    budget: Budget | None = None
    managed: bool = True
    protect: bool = False
    keep_alive: KeepAlive = KeepAlive.OFF  # True/False are accepted and mean adaptive/off
    price_per_hour: Decimal | None = None
    adaptive: AdaptiveKnobs = field(default_factory=AdaptiveKnobs)
    traffic: Traffic | None = None  # None: not configured ("epmgr" if epmgr created it, else "shared")

    def __post_init__(self) -> None:
        if isinstance(self.keep_alive, bool):  # ``keep_alive = true``: the adaptive keep-alive
            object.__setattr__(self, "keep_alive", KeepAlive.ADAPTIVE if self.keep_alive else KeepAlive.OFF)

    @property
    def acts(self) -> bool:
        """True when epmgr may act on the endpoint (managed and not protected)."""
        return self.managed and not self.protect


@dataclass(frozen=True)
class NamespaceBudget:
    """A budget shared by every endpoint of one namespace."""

    namespace: str
    budget: Budget
