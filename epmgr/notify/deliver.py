"""Deliver notifications from the outbox: webhook, Slack-compatible webhook, SMTP; retried with backoff.

The daemon's tick only *enqueues* (one insert into the ledger); a background thread claims what is due and sends
it, each send with a timeout. A failed send is retried later with capped exponential backoff (``Retry``), so a
receiver that is down for an hour loses nothing and never slows a tick. Secrets (webhook URLs, the SMTP password)
are read from the environment at send time and scrubbed from every error that is logged or stored.
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from email.message import EmailMessage

import httpx

from epmgr.clock import Clock
from epmgr.domain.notify import EventKind, Notification, Retry, Scrubber, wakes
from epmgr.errors import EpmgrError
from epmgr.ledger import Ledger
from epmgr.ledger.outbox import Outbox
from epmgr.notify.config import NotifyTarget
from epmgr.notify.events import email_text, events_from_tick, notifications, route, slack_payload, slow_wake_events
from epmgr.service import TickReport

log = logging.getLogger("epmgr.notify")

TIMEOUT_S = 10.0
POLL_S = 15.0
WAKE_LOOKBACK = timedelta(hours=2)  # a wake-up that ends now may have started this long ago


class _Redact(logging.Filter):
    """Scrubs secrets from the records of the HTTP libraries, whose INFO lines name the URL of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = Scrubber(tuple(self.secrets))(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACT = _Redact()


def redact_http_logs(scrub: Scrubber) -> None:
    """Keep ``scrub``'s secrets out of httpx's and httpcore's log lines (a webhook URL is a secret)."""
    _REDACT.secrets.update(scrub.secrets)
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _REDACT not in logger.filters:
            logger.addFilter(_REDACT)


def _secret(env: Mapping[str, str], variable: str | None, what: str) -> str:
    value = env.get(variable or "", "").strip()
    if not value:
        raise EpmgrError(f"{what}: environment variable {variable} is not set")
    return value


def secrets_of(targets: Sequence[NotifyTarget], env: Mapping[str, str]) -> Scrubber:
    """A scrubber for every secret the targets read from ``env``."""
    names = [t.url_env for t in targets] + [t.password_env for t in targets]
    return Scrubber(tuple(env[n] for n in names if n and env.get(n)))


def send(target: NotifyTarget, notification: Notification, env: Mapping[str, str], timeout: float = TIMEOUT_S) -> None:
    """Send one notification to ``target``; raises EpmgrError (its message may still need scrubbing)."""
    if target.kind in ("webhook", "slack"):
        url = _secret(env, target.url_env, f"notify target {target.name!r}")
        headers = {"User-Agent": "epmgr", "Content-Type": "application/json"}
        content = notification.body if target.kind == "webhook" else None
        payload = slack_payload(notification) if target.kind == "slack" else None
        try:
            response = httpx.post(url, content=content, json=payload, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:  # the message may hold the URL: only the kind of failure is kept
            raise EpmgrError(f"cannot reach the {target.kind} receiver ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise EpmgrError(f"the {target.kind} receiver answered {response.status_code}")
        return
    message = EmailMessage()
    message["Subject"] = f"[epmgr] {notification.subject}"
    message["From"] = target.sender or ""
    message["To"] = ", ".join(target.recipients)
    message.set_content(email_text(notification))
    host, port = target.smtp_host or "localhost", target.smtp_port
    try:
        if target.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if target.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if target.username:
                smtp.login(target.username, _secret(env, target.password_env, f"notify target {target.name!r}"))
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise EpmgrError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from None


Sender = Callable[[NotifyTarget, Notification, Mapping[str, str]], None]


class Notifier:
    """Turns ticks into outbox entries, and delivers the outbox in a background thread.

    Args:
        targets: The configured ``[[notify]]`` targets.
        ledger: The ledger (the outbox table, and state changes for slow wake-ups).
        clock: The clock (the outbox's times, and the retry schedule).
        env: Where secrets are read at send time (default ``os.environ``).
        retry: The retry schedule.
        sender: What sends one notification (default :func:`send`).
        background: Start the delivery thread on the first tick that queues something (the daemon does).
    """

    def __init__(
        self,
        targets: Sequence[NotifyTarget],
        ledger: Ledger,
        clock: Clock,
        *,
        env: Mapping[str, str] | None = None,
        retry: Retry | None = None,
        sender: Sender = send,
        draw: Callable[[], float] | None = None,
        background: bool = False,
    ) -> None:
        self.targets = {t.name: t for t in targets}
        self.ledger = ledger
        self.outbox = Outbox(ledger.engine)
        self.clock = clock
        self.env = os.environ if env is None else env
        self.retry = retry or Retry()
        self.sender = sender
        self.draw = draw or random.Random().random  # its own generator: the shared ``random`` state is the app's
        self._wakes_since = clock.now()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None
        self._background = background

    def enqueue_tick(self, report: TickReport) -> int:
        """Write the tick's events (and slow wake-ups seen since the last tick) to the outbox; returns how many."""
        if not self.targets:
            return 0
        now = self.clock.now()
        targets = list(self.targets.values())
        pairs = route(events_from_tick(report), targets)
        if any(EventKind.SLOW_WAKE in t.events for t in targets):
            changes = self.ledger.state_changes(since=self._wakes_since - WAKE_LOOKBACK, until=now)
            fresh = [w for w in wakes(changes) if self._wakes_since <= w.ready_at < now]
            pairs += slow_wake_events(fresh, targets)
        self._wakes_since = now
        return len(self.outbox.enqueue(notifications(pairs, now)))

    def on_tick(self, report: TickReport) -> None:
        """The daemon's hook: enqueue, wake the delivery thread; never raises into the tick."""
        try:
            if self.enqueue_tick(report):
                self._kick.set()
            if self._background:
                self.start()  # also after a takeover: the new leader delivers what the old one left
        except Exception as exc:  # a notification problem must never stop the daemon
            log.warning("notifications not queued: %s", secrets_of(list(self.targets.values()), self.env)(str(exc)))

    def deliver_due(self) -> int:
        """Claim and send what is due now; returns how many were delivered."""
        scrub = secrets_of(list(self.targets.values()), self.env)
        redact_http_logs(scrub)
        delivered = 0
        for note in self.outbox.claim(self.clock.now()):
            assert note.id is not None
            target = self.targets.get(note.target)
            if target is None:
                self.outbox.failed(note.id, f"target {note.target!r} is no longer configured", None)
                continue
            try:
                self.sender(target, note, self.env)
            except Exception as exc:
                error = scrub(str(exc))
                retry_at = self.retry.next_attempt(note.attempts + 1, self.clock.now(), self.draw())
                self.outbox.failed(note.id, error, retry_at)
                later = f"retry at {retry_at:%H:%M:%S}" if retry_at else "giving up"
                log.warning("notification %s to %s failed (attempt %s): %s; %s",
                            note.id, target.name, note.attempts + 1, error, later)  # fmt: skip
                continue
            self.outbox.delivered(note.id, self.clock.now())
            delivered += 1
        return delivered

    def start(self, poll_s: float = POLL_S) -> None:
        """Deliver in a daemon thread: at once after a tick queued something, else every ``poll_s`` seconds."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.deliver_due()
                except Exception as exc:  # the ledger may be briefly unreachable: try again next round
                    log.warning("notification delivery paused: %s", exc)
                self._kick.wait(poll_s)
                self._kick.clear()

        if self.targets and self._thread is None:
            self._thread = threading.Thread(target=loop, name="epmgr-notify", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = TIMEOUT_S + 5) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
