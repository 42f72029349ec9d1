"""What is worth telling people after a tick, and how it reads: JSON for a webhook, text for Slack and email.

Events: actions the daemon took (``action``), budget warnings and caps (``budget``), failed actions and ticks
(``failure``), and wake-ups slower than a target's threshold (``slow_wake``). Dry runs and skipped decisions are
not events. Nothing here reads a secret, so nothing here can leak one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from epmgr.domain.model import ActionKind, Outcome
from epmgr.domain.notify import Event, EventKind, Notification, Wake
from epmgr.notify.config import NotifyTarget
from epmgr.service import TickReport

ACTING = frozenset(
    {ActionKind.PAUSE, ActionKind.RESUME, ActionKind.SCALE_TO_ZERO, ActionKind.SET_REPLICAS, ActionKind.UPDATE}
)
SCHEMA = "epmgr.notification/1"


def events_from_tick(report: TickReport) -> list[Event]:
    """The events of one tick, in endpoint order, then the tick's own errors."""
    at = report.finished_at or report.started_at
    events = []
    for e in report.endpoints:
        ref, decision = str(e.ref), e.decision
        action = decision.action.value
        fields = (("endpoint", ref), ("action", action), ("policy", decision.policy), ("state", e.state.value))
        if e.outcome == Outcome.FAILED or (e.error and e.outcome is not None):
            why = e.error or decision.reason
            events.append(Event(EventKind.FAILURE, f"{ref}: {action} failed", why, ref, at, fields))
        elif e.outcome == Outcome.OK and decision.policy == "budget":
            left = "" if e.budget_left is None else f" (budget left ${e.budget_left:.2f})"
            events.append(Event(EventKind.BUDGET, f"{ref}: budget {action}", decision.reason + left, ref, at, fields))
        elif e.outcome == Outcome.OK and decision.action in ACTING:
            subject = f"{ref}: {action.replace('_', ' ')} by the {decision.policy} policy"
            events.append(Event(EventKind.ACTION, subject, decision.reason, ref, at, fields))
    for error in report.errors:
        events.append(Event(EventKind.FAILURE, "epmgr daemon: a tick step failed", error, None, at))
    return events


def slow_wake_events(found: Sequence[Wake], targets: Sequence[NotifyTarget]) -> list[tuple[NotifyTarget, Event]]:
    """Each wake-up slower than a target's ``slow_wake_after``, for that target."""
    pairs = []
    for wake in found:
        seconds = int(wake.took.total_seconds())
        event = Event(
            EventKind.SLOW_WAKE,
            f"{wake.ref}: waking took {seconds // 60} min {seconds % 60} s",
            f"{wake.ref} left its sleep at {wake.started_at:%H:%M:%S} UTC and served at {wake.ready_at:%H:%M:%S} UTC; "
            "requests waited all that time.",
            str(wake.ref),
            wake.ready_at,
            (("endpoint", str(wake.ref)), ("seconds", str(seconds))),
        )
        pairs += [(t, event) for t in targets if wake.took > t.slow_wake_after and t.wants(event.kind, event.endpoint)]
    return pairs


def body(event: Event) -> str:
    """The JSON document a generic webhook receives (schema ``epmgr.notification/1``)."""
    return json.dumps(
        {
            "schema": SCHEMA,
            "event": event.kind.value,
            "endpoint": event.endpoint,
            "subject": event.subject,
            "text": event.text,
            "at": event.at.isoformat() if event.at else None,
            "fields": dict(event.fields),
        },
        sort_keys=True,
    )


def notifications(pairs: Sequence[tuple[NotifyTarget, Event]], now: datetime) -> list[Notification]:
    """Outbox records for (target, event) pairs."""
    return [
        Notification(t.name, e.kind, e.subject, body(e), now, endpoint=e.endpoint, next_attempt_at=now)
        for t, e in pairs
    ]


def route(events: Sequence[Event], targets: Sequence[NotifyTarget]) -> list[tuple[NotifyTarget, Event]]:
    """Each event paired with every target that wants it."""
    return [(t, e) for e in events for t in targets if t.wants(e.kind, e.endpoint)]


def slack_payload(notification: Notification) -> dict[str, str]:
    """A Slack-compatible incoming-webhook message (also understood by Mattermost, Rocket.Chat, Discord's /slack)."""
    data = json.loads(notification.body)
    return {"text": f"*{data['subject']}*\n{data['text']}"}


def email_text(notification: Notification) -> str:
    data = json.loads(notification.body)
    lines = [data["text"], ""] + [f"{key}: {value}" for key, value in sorted(data["fields"].items())]
    return "\n".join(lines) + f"\n\nSent by epmgr ({data['event']}, {data['at']}).\n"
