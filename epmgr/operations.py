"""Manual operations on endpoints (CLI, client): act through the API, audit in the ledger, wait for ready."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from epmgr.acting import execute
from epmgr.clock import Clock
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Actor,
    ChangeSource,
    EndpointRef,
    EndpointSnapshot,
    Lease,
    Outcome,
)
from epmgr.domain.wake import PollCadence
from epmgr.domain.wakeflow import Look, Probe, Reply, Seen, Target, Wait, wake_flow
from epmgr.errors import ApiUnavailable, EpmgrError
from epmgr.ledger import Ledger
from epmgr.observe import observe_snapshot, record_snapshots
from epmgr.ports import EndpointsAPI

Progress = Callable[[EndpointSnapshot, timedelta], None]


@dataclass
class Operator:
    """Performs actions on one namespace's endpoints and writes each to the audit log with what it caused."""

    api: EndpointsAPI
    ledger: Ledger
    clock: Clock
    actor: Actor = Actor.CLI

    def ref(self, name: str) -> EndpointRef:
        return EndpointRef(self.api.namespace, name)

    def act(
        self,
        kind: ActionKind,
        name: str,
        reason: str,
        call: Callable[[], EndpointSnapshot | None],
        *,
        lease: Lease | None = None,
        ttl: timedelta = timedelta(0),
        skip_on: tuple[type[EpmgrError], ...] = (),
    ) -> EndpointSnapshot | None:
        """Run ``call`` through the one executor (:func:`epmgr.acting.execute`): audited ok with the state change
        it caused, or failed with the error, which is raised again.

        A failure on an endpoint the ledger has never seen is audited too; the cost report leaves such an endpoint
        out until the API shows it exists. An error in ``skip_on`` (nothing to do) is audited ``skipped``, in the
        same one row, and raised again for the caller to say so.

        Raises:
            LeaseLost: ``lease`` (which fences the call, renewed for ``ttl``) expired or was taken: nothing sent.
        """
        record = ActionRecord(self.ref(name), kind, reason, self.actor, self.clock.now(), Outcome.STARTED)
        _, _, snapshot, _ = execute(
            self.ledger, self.clock, record, call, lease=lease, ttl=ttl, skip_on=skip_on, raise_errors=True
        )
        return snapshot

    def observe(self, snapshot: EndpointSnapshot, source: ChangeSource = ChangeSource.OBSERVED) -> None:
        """Record what the API showed, by the same rules as the daemon's observation (dating, gaps)."""
        observe_snapshot(self.ledger, snapshot, self.clock.now(), self.ledger.endpoint(snapshot.ref), source=source)

    def observe_all(self, snapshots: Sequence[EndpointSnapshot]) -> None:
        """Record what one list call showed (set-based: one read per table, one write transaction)."""
        record_snapshots(snapshots, self.ledger, self.clock.now())

    def wait_ready(
        self,
        name: str,
        timeout: timedelta,
        *,
        on_progress: Progress | None = None,
        poll_cap: timedelta = timedelta(seconds=5),
    ) -> EndpointSnapshot:
        """Wait, without waking it, until the endpoint is running and its health route answers 200.

        Runs the client's wake flow (:func:`~epmgr.domain.wakeflow.wake_flow`) with waking off: the API failing
        for a while does not end a wait of minutes; it is asked again at its next turn, until the deadline.

        Raises:
            EndpointFailed: It is failed (or its update failed).
            WakeTimeout: It was not ready within ``timeout``; the message names its last state.
            ApiUnavailable: The API never answered before the deadline.
        """
        started = self.clock.now()
        target = Target(str(self.ref(name)), wake=False)
        flow = wake_flow(target, started, timeout, PollCadence(api_cap=poll_cap))
        last: EndpointSnapshot | None = None
        try:
            step = next(flow)
            while True:
                value: object = None
                if isinstance(step, Look) and step.ask_api:
                    try:
                        last = self.api.get(name)
                    except ApiUnavailable as exc:
                        value = exc
                    else:
                        self.observe(last)
                        if on_progress is not None:
                            on_progress(last, self.clock.now() - started)
                        value = Seen(last.state, last.url, last.health_route, last.message)
                elif isinstance(step, Probe) and last is not None:
                    value = 200 if self.api.is_healthy(last) else 503
                elif isinstance(step, Wait):
                    self.clock.sleep(step.delay.total_seconds())
                step = flow.send(Reply(self.clock.now(), value))
        except StopIteration:
            assert last is not None
            return last
