"""Which ticks and state changes become notifications, and the retry schedule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from epmgr.clock import FakeClock
from epmgr.domain.model import ActionKind, EndpointRef, EndpointState, Outcome, StateChange
from epmgr.domain.notify import EventKind, Retry, Scrubber, wakes
from epmgr.domain.rules import Decision
from epmgr.ledger import Ledger
from epmgr.notify.config import NotifyTarget
from epmgr.notify.deliver import Notifier
from epmgr.notify.events import events_from_tick
from epmgr.service import EndpointReport, TickReport
from tests.conftest import T0

S = EndpointState
REF = EndpointRef("acme", "chat")


def change(seconds: int, old: EndpointState | None, new: EndpointState, ref: EndpointRef = REF) -> StateChange:
    return StateChange(ref, old, new, T0 + timedelta(seconds=seconds))


def test_wakes_are_measured_from_leaving_sleep_to_running() -> None:
    other = EndpointRef("acme", "other")
    changes = [
        change(0, S.SCALED_TO_ZERO, S.INITIALIZING),
        change(5, S.PAUSED, S.PENDING, other),
        change(200, S.INITIALIZING, S.RUNNING),
        change(400, S.PENDING, S.FAILED, other),  # never became running: not a wake
        change(500, S.RUNNING, S.UPDATING),  # an update is not a wake either
        change(560, S.UPDATING, S.RUNNING),
    ]
    assert [(w.ref, w.took) for w in wakes(changes)] == [(REF, timedelta(seconds=200))]


def test_budget_warnings_and_caps_are_budget_events_and_dry_runs_are_nothing() -> None:
    report = TickReport(
        started_at=T0,
        endpoints=[
            EndpointReport(REF, S.RUNNING, Decision(ActionKind.WARN, "budget", "daily budget at 80%"), Outcome.OK,
                           budget_left=Decimal("4")),
            EndpointReport(EndpointRef("acme", "b"), S.RUNNING, Decision(ActionKind.PAUSE, "idle", "idle"),
                           Outcome.DRY_RUN),
        ],
        errors=["list endpoints of acme: the HF API is unavailable (503)"],
    )  # fmt: skip
    events = events_from_tick(report)
    assert [(e.kind, e.subject) for e in events] == [
        (EventKind.BUDGET, "acme/chat: budget warn"),
        (EventKind.FAILURE, "epmgr daemon: a tick step failed"),
    ]
    assert events[0].text == "daily budget at 80% (budget left $4.00)"


def test_a_slow_wake_is_reported_once_to_targets_whose_threshold_it_passes(ledger: Ledger, clock: FakeClock) -> None:
    strict = NotifyTarget(name="strict", kind="webhook", url_env="X", slow_wake_after=timedelta(minutes=3))
    relaxed = NotifyTarget(name="relaxed", kind="webhook", url_env="X", slow_wake_after=timedelta(minutes=10))
    notifier = Notifier([strict, relaxed], ledger, clock, env={})
    for c in (change(0, S.SCALED_TO_ZERO, S.INITIALIZING), change(300, S.INITIALIZING, S.RUNNING)):
        ledger.record_state_change(c)
    clock.advance(timedelta(minutes=6))
    empty = TickReport(started_at=clock.now())
    assert notifier.enqueue_tick(empty) == 1
    assert notifier.enqueue_tick(empty) == 0  # already reported
    [note] = notifier.outbox.notifications()
    assert (note.target, note.event, note.subject) == (
        "strict",
        EventKind.SLOW_WAKE,
        "acme/chat: waking took 5 min 0 s",
    )


def test_retry_delays_double_up_to_the_cap_then_give_up() -> None:
    retry = Retry(first=timedelta(seconds=30), cap=timedelta(minutes=30), attempts=4, jitter=0.2)
    assert [retry.next_attempt(n, T0, 0.5) for n in (1, 2, 3)] == [
        T0 + timedelta(seconds=30), T0 + timedelta(seconds=60), T0 + timedelta(seconds=120),
    ]  # fmt: skip
    assert retry.next_attempt(1, T0, 0.0) == T0 + timedelta(seconds=24)  # jitter: -20 % ... +20 %
    assert retry.next_attempt(4, T0, 0.5) is None


def test_the_scrubber_hides_every_secret() -> None:
    scrub = Scrubber(("https://hooks.example/abc123", "pa55word", ""))
    assert scrub("POST https://hooks.example/abc123 failed; login pa55word") == "POST *** failed; login ***"
