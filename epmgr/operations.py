"""Manual operations on endpoints (CLI, client): act through the API, audit in the ledger, wait for ready."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from epmgr.clock import Clock
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Actor,
    ChangeSource,
    EndpointRef,
    EndpointSnapshot,
    EndpointState,
    Outcome,
    StateChange,
)
from epmgr.domain.wake import WakeStep, next_sleep, next_wake_step, poll_delay
from epmgr.errors import ApiUnavailable, EndpointFailed, EpmgrError, WakeTimeout
from epmgr.ledger import Ledger
from epmgr.observe import observe_snapshot
from epmgr.ports import EndpointsAPI

Progress = Callable[[EndpointSnapshot, timedelta], None]
MIN_POLL = timedelta(milliseconds=10)  # the shortest pause between two looks while waiting


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
        self, kind: ActionKind, name: str, reason: str, call: Callable[[], EndpointSnapshot | None]
    ) -> EndpointSnapshot | None:
        """Run ``call`` and audit it: outcome ok with the state change it caused, or failed with the error.

        A failure on an endpoint the ledger has never seen is not written: the ledger gains an endpoint only from
        an answer of the API that it exists (a mistyped name must not become a permanent row in cost reports).
        """
        ref = self.ref(name)
        requested_at = self.clock.now()
        try:
            snapshot = call()
        except EpmgrError as exc:
            if self.ledger.endpoint(ref) is not None:
                self.ledger.record_action(
                    ActionRecord(ref, kind, reason, self.actor, requested_at, Outcome.FAILED, str(exc))
                )
            raise
        self.ledger.record_action(ActionRecord(ref, kind, reason, self.actor, requested_at, Outcome.OK))
        if snapshot is not None:
            self.observe(snapshot, ChangeSource.ACTION)
        elif kind == ActionKind.DELETE:
            last = self.ledger.last_state_change(ref)
            gone = StateChange(
                ref, last.to_state if last else None, EndpointState.DELETED, self.clock.now(), ChangeSource.ACTION
            )
            self.ledger.record_state_change(gone)
        return snapshot

    def observe(self, snapshot: EndpointSnapshot, source: ChangeSource = ChangeSource.OBSERVED) -> None:
        """Record what the API showed, by the same rules as the daemon's observation (dating, gaps)."""
        observe_snapshot(self.ledger, snapshot, self.clock.now(), self.ledger.endpoint(snapshot.ref), source=source)

    def wait_ready(
        self,
        name: str,
        timeout: timedelta,
        *,
        on_progress: Progress | None = None,
        poll_cap: timedelta = timedelta(seconds=5),
    ) -> EndpointSnapshot:
        """Poll until the endpoint is running and its health route answers 200.

        The API failing for a while (ApiUnavailable after the adapter's retries) does not end a wait of minutes:
        it is asked again at the next poll, until the deadline.

        Raises:
            EndpointFailed: It is failed (or its update failed).
            WakeTimeout: It was not ready within ``timeout``; the message names its last state.
            ApiUnavailable: The API never answered before the deadline.
        """
        started = self.clock.now()
        attempt = 0
        last: EndpointSnapshot | None = None
        while True:
            attempt += 1
            try:
                snapshot: EndpointSnapshot | None = self.api.get(name)
            except ApiUnavailable:
                if last is None and self.clock.now() - started >= timeout:
                    raise
                snapshot = None
            waited = self.clock.now() - started
            if snapshot is not None:
                last = snapshot
                self.observe(snapshot)
                if on_progress is not None:
                    on_progress(snapshot, waited)
                step = next_wake_step(snapshot.state)
                if step == WakeStep.FAIL:
                    raise EndpointFailed(
                        f"{snapshot.ref} is {snapshot.state.value}: {snapshot.message or 'no message'}; "
                        "it needs a person",
                        endpoint=str(snapshot.ref),
                    )
                if step == WakeStep.READY and self.api.is_healthy(snapshot):
                    return snapshot
            if waited >= timeout and last is not None:
                raise _timeout(last, waited, next_wake_step(last.state))
            delay = next_sleep(poll_delay(attempt, cap=poll_cap), waited, timeout, floor=MIN_POLL)
            self.clock.sleep(delay.total_seconds())


def _timeout(snapshot: EndpointSnapshot, waited: timedelta, step: WakeStep) -> WakeTimeout:
    hint = {
        WakeStep.RESUME: " (a paused endpoint needs `epmgr resume`)",
        WakeStep.TRIGGER: " (a scaled-to-zero endpoint wakes on a request or `epmgr resume`)",
    }.get(step, "")
    seconds = waited.total_seconds()
    return WakeTimeout(
        f"{snapshot.ref} was not ready after {seconds:.0f}s; last state {snapshot.state.value}{hint}",
        endpoint=str(snapshot.ref),
        last_state=snapshot.state.value,
        waited_s=seconds,
    )
