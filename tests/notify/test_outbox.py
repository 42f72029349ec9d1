"""The outbox survives a receiver that is down for a while, and a tick only ever enqueues."""

from __future__ import annotations

from datetime import timedelta

import pytest

from epmgr.clock import FakeClock, SystemClock
from epmgr.domain.model import ActionKind, EndpointRef, EndpointState, Outcome
from epmgr.domain.notify import EventKind, Notification, Retry, Status
from epmgr.domain.rules import Decision
from epmgr.ledger import Ledger, open_ledger
from epmgr.ledger.outbox import Outbox
from epmgr.notify.config import NotifyTarget
from epmgr.notify.deliver import Notifier
from epmgr.service import EndpointReport, TickReport
from tests.conftest import T0
from tests.notify.conftest import SECRET_PATH, Receiver, free_port

PROD = EndpointRef("acme", "prod-llm")
DEV = EndpointRef("acme", "dev")


def tick() -> TickReport:
    """A tick that paused one endpoint, failed to resume another, and did nothing to a third."""
    return TickReport(
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
        endpoints=[
            EndpointReport(PROD, EndpointState.PAUSED, Decision(ActionKind.PAUSE, "idle", "no requests for 6h"),
                           Outcome.OK),
            EndpointReport(DEV, EndpointState.PAUSED, Decision(ActionKind.RESUME, "schedule", "window opens"),
                           Outcome.FAILED, error="resume acme/dev: the HF API is unavailable (503)"),
            EndpointReport(EndpointRef("acme", "quiet"), EndpointState.RUNNING,
                           Decision(ActionKind.NONE, "idle", "busy")),
        ],
    )  # fmt: skip


def webhook(**changes: object) -> NotifyTarget:
    return NotifyTarget(name="ops", kind="webhook", url_env="OPS_HOOK", **changes)  # type: ignore[arg-type]


def test_a_tick_only_enqueues_and_delivery_waits_out_a_receiver_outage(
    ledger: Ledger, clock: FakeClock, receiver: Receiver
) -> None:
    receiver.status = 503  # down
    notifier = Notifier([webhook()], ledger, clock, env={"OPS_HOOK": receiver.url}, draw=lambda: 0.5)

    notifier.on_tick(tick())

    assert receiver.hits == 0  # the tick did not talk to the receiver at all
    pending = notifier.outbox.notifications(status=Status.PENDING)
    assert [(n.event, n.endpoint) for n in pending] == [(EventKind.ACTION, str(PROD)), (EventKind.FAILURE, str(DEV))]

    delays = []
    for _ in range(8):  # down for a while: every due attempt fails and is rescheduled further out
        due = min(n.next_attempt_at for n in notifier.outbox.notifications() if n.next_attempt_at)
        clock.advance(max(due - clock.now(), timedelta(0)))
        assert notifier.deliver_due() == 0
        after = notifier.outbox.notifications()
        delays.append(after[0].next_attempt_at - clock.now())  # type: ignore[operator]
        assert {n.status for n in after} == {Status.PENDING}
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 960, 1800, 1800)]
    assert receiver.hits == 16  # two notifications, eight attempts each, none more
    assert notifier.outbox.notifications()[0].last_error == "the webhook receiver answered 503"

    clock.advance(timedelta(seconds=10))
    assert notifier.deliver_due() == 0 and receiver.hits == 16  # not due yet: nothing is sent early

    receiver.status = 200  # back
    clock.advance(timedelta(minutes=30))
    assert notifier.deliver_due() == 2
    assert [body["event"] for _, body in receiver.received] == ["action", "failure"]
    assert receiver.received[0][1]["subject"] == "acme/prod-llm: pause by the idle policy"
    assert notifier.outbox.counts() == {Status.PENDING: 0, Status.DELIVERED: 2, Status.DEAD: 0}
    assert notifier.deliver_due() == 0 and len(receiver.received) == 2  # delivered once, never again


def test_delivery_gives_up_after_the_last_attempt_and_says_why(ledger: Ledger, clock: FakeClock) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}"  # nothing listens there
    notifier = Notifier([webhook()], ledger, clock, env={"OPS_HOOK": dead_url}, retry=Retry(attempts=2))
    notifier.on_tick(tick())
    notifier.deliver_due()
    clock.advance(timedelta(hours=1))
    notifier.deliver_due()
    dead = notifier.outbox.notifications(status=Status.DEAD)
    assert len(dead) == 2 and dead[0].attempts == 2
    assert dead[0].last_error == "cannot reach the webhook receiver (ConnectError)"


def test_targets_filter_by_event_and_endpoint(ledger: Ledger, clock: FakeClock, receiver: Receiver) -> None:
    only_prod = webhook(endpoints=("prod-llm",))
    only_failures = NotifyTarget(
        name="pager", kind="webhook", url_env="OPS_HOOK", events=frozenset({EventKind.FAILURE})
    )
    notifier = Notifier([only_prod, only_failures], ledger, clock, env={"OPS_HOOK": receiver.url})
    notifier.on_tick(tick())
    assert sorted((n.target, n.event.value) for n in notifier.outbox.notifications()) == [
        ("ops", "action"),
        ("pager", "failure"),
    ]


def test_a_missing_secret_variable_is_a_clear_error_not_a_crash(ledger: Ledger, clock: FakeClock) -> None:
    notifier = Notifier([webhook()], ledger, clock, env={})
    notifier.on_tick(tick())
    notifier.deliver_due()
    error = notifier.outbox.notifications()[0].last_error
    assert error == "notify target 'ops': environment variable OPS_HOOK is not set"


def test_the_background_thread_delivers_right_after_a_tick(ledger: Ledger, receiver: Receiver) -> None:
    notifier = Notifier([webhook()], ledger, SystemClock(), env={"OPS_HOOK": receiver.url})
    notifier.start(poll_s=3600)  # only the tick's kick can make it send within the wait below
    try:
        notifier.on_tick(tick())
        assert receiver.got.wait(30), "nothing delivered"
    finally:
        notifier.stop()
    assert receiver.received[0][0] == SECRET_PATH


@pytest.mark.parametrize("status", [200, 204])
def test_slack_gets_a_text_message(ledger: Ledger, clock: FakeClock, receiver: Receiver, status: int) -> None:
    receiver.status = status
    slack = NotifyTarget(name="slack", kind="slack", url_env="SLACK_URL")
    notifier = Notifier([slack], ledger, clock, env={"SLACK_URL": receiver.url})
    notifier.on_tick(tick())
    assert notifier.deliver_due() == 2
    assert receiver.received[0][1] == {"text": "*acme/prod-llm: pause by the idle policy*\nno requests for 6h"}


def test_the_outbox_claims_each_notification_once_on_each_engine(ledger_url: str) -> None:
    store = open_ledger(ledger_url)
    try:
        outbox, other = Outbox(store.engine), Outbox(store.engine)  # two daemons on one ledger
        note = Notification("ops", EventKind.ACTION, "s", "{}", T0, endpoint=str(PROD), next_attempt_at=T0)
        first, second = outbox.enqueue([note, note])
        assert [n.id for n in outbox.claim(T0)] == [first, second]
        assert other.claim(T0 + timedelta(seconds=30)) == []  # claimed: the other daemon does not send them too
        outbox.delivered(first, T0)
        outbox.failed(second, "down", T0 + timedelta(minutes=1))
        assert [n.id for n in other.claim(T0 + timedelta(minutes=5))] == [second]  # due again, or its claim expired
        assert outbox.counts() == {Status.PENDING: 1, Status.DELIVERED: 1, Status.DEAD: 0}
    finally:
        store.close()
