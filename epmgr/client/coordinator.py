"""The wake coordinator port: who leads a wake (the lease), and where the states it sees are published.

- :class:`InProcessCoordinator`: this process only (every wake leads; nothing is published).
- :class:`LedgerCoordinator`: the processes sharing one ledger. The holder of the lease ``wake:{ref}`` makes the
  one resume call (audited) and asks the management API, publishing each state it sees; the others read those
  states and poll the endpoint's health route (not the rate-limited API), and take the lease over only once it
  is released or expires. Budget holds come from the ledger too.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from epmgr.clock import Clock
from epmgr.domain.model import ActionKind, Actor, ChangeSource, EndpointRef, EndpointSnapshot, EndpointState
from epmgr.ports import EndpointsAPI

if TYPE_CHECKING:  # SQLAlchemy is imported only when a ledger is used
    from epmgr.ledger import Ledger

RESUME_REASON = "a request needed it (auto-wake)"


class WakeCoordinator(Protocol):
    """Coordinates the wakes of one endpoint between waiters (``holder`` names one wake)."""

    def lead(self, ref: EndpointRef, holder: str, now: datetime) -> bool:
        """Whether ``holder`` leads the wake (takes, keeps or renews the lease)."""
        ...

    def fence(self, ref: EndpointRef, holder: str, now: datetime) -> bool:
        """Renew the lease right before the one resume call: False if it was lost."""
        ...

    def release(self, ref: EndpointRef, holder: str) -> None: ...

    def publish(self, snapshot: EndpointSnapshot, now: datetime) -> None:
        """Make a state the leader saw known to the followers."""
        ...

    def last_state(self, ref: EndpointRef) -> EndpointState | None:
        """The state the leader published last (None: none)."""
        ...

    def budget(self, ref: EndpointRef, now: datetime) -> tuple[str, datetime | None] | None:
        """The reason and end of a budget hold in force on ``ref``, if any."""
        ...

    def resumer(self, api: EndpointsAPI, name: str, holder: str) -> Callable[[], EndpointSnapshot | None]:
        """The resume call of ``name`` (the leader's, once), recorded as the port can. The waker makes the call, so
        only the executor and the adapter stand between it and the socket; the call answers None when ``holder``
        lost the lease and nothing was sent."""
        ...


class InProcessCoordinator:
    """Every wake leads; states are not published; no budget holds (no ledger)."""

    def lead(self, ref: EndpointRef, holder: str, now: datetime) -> bool:
        return True

    def fence(self, ref: EndpointRef, holder: str, now: datetime) -> bool:
        return True

    def release(self, ref: EndpointRef, holder: str) -> None:
        return None

    def publish(self, snapshot: EndpointSnapshot, now: datetime) -> None:
        return None

    def last_state(self, ref: EndpointRef) -> EndpointState | None:
        return None

    def budget(self, ref: EndpointRef, now: datetime) -> tuple[str, datetime | None] | None:
        return None

    def resumer(self, api: EndpointsAPI, name: str, holder: str) -> Callable[[], EndpointSnapshot | None]:
        return functools.partial(api.resume, name)


class LedgerCoordinator:
    """The lease, published states, budget holds and the audited resume, through one ledger.

    Args:
        ledger: Shared by the processes.
        clock: Time of the audit lines and observations.
        actor: Who the audit log names for the resume.
        lease_ttl: How long a crashed leader blocks the others before one of them takes over.
    """

    def __init__(
        self, ledger: Ledger, clock: Clock, actor: Actor = Actor.CLIENT, lease_ttl: timedelta = timedelta(seconds=30)
    ) -> None:
        self.ledger = ledger
        self.clock = clock
        self.actor = actor
        self.lease_ttl = lease_ttl
        self._renewed: dict[str, datetime] = {}  # holder -> when its lease was last taken or renewed
        self._lock = threading.Lock()

    def lead(self, ref: EndpointRef, holder: str, now: datetime) -> bool:
        with self._lock:
            renewed = self._renewed.get(holder)
        if renewed is not None and now - renewed <= self.lease_ttl / 3:
            return True
        if renewed is None:
            current = self.ledger.lease(f"wake:{ref}")
            if current is not None and current.expires_at > now:
                return False
        return self.fence(ref, holder, now)

    def fence(self, ref: EndpointRef, holder: str, now: datetime) -> bool:
        taken = self.ledger.acquire_lease(f"wake:{ref}", holder, self.lease_ttl, now)
        with self._lock:
            if taken:
                self._renewed[holder] = now
            else:
                self._renewed.pop(holder, None)
        return taken

    def release(self, ref: EndpointRef, holder: str) -> None:
        with self._lock:
            held = self._renewed.pop(holder, None) is not None
        if held:
            self.ledger.release_lease(f"wake:{ref}", holder)

    def publish(self, snapshot: EndpointSnapshot, now: datetime) -> None:
        from epmgr.observe import observe_snapshot

        observe_snapshot(self.ledger, snapshot, now, self.ledger.endpoint(snapshot.ref), source=ChangeSource.OBSERVED)

    def last_state(self, ref: EndpointRef) -> EndpointState | None:
        change = self.ledger.last_state_change(ref)
        return change.to_state if change else None

    def budget(self, ref: EndpointRef, now: datetime) -> tuple[str, datetime | None] | None:
        hold = self.ledger.active_hold(ref, now)
        return (hold.reason, hold.until) if hold is not None and hold.kind == "budget" else None

    def resumer(self, api: EndpointsAPI, name: str, holder: str) -> Callable[[], EndpointSnapshot | None]:
        from epmgr.acting import fenced_call
        from epmgr.domain.model import ActionRecord, Outcome

        ref = EndpointRef(api.namespace, name)
        record = ActionRecord(ref, ActionKind.RESUME, RESUME_REASON, self.actor, self.clock.now(), Outcome.STARTED)
        # the one executor: the lease checked and renewed in the transaction that audits the call
        return functools.partial(fenced_call, self.ledger, self.clock, record, functools.partial(api.resume, name),
                                 lease_name=f"wake:{ref}", holder=holder, ttl=self.lease_ttl)  # fmt: skip
