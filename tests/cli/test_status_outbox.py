"""`epmgr status` shows the notification outbox in one line when something is pending or dead, and counts in JSON
(on SQLite, and on PostgreSQL when EPMGR_TEST_PG_URL is set)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from epmgr.cli.status_outbox import outbox_line
from epmgr.domain.notify import EventKind, Notification
from epmgr.ledger import Ledger, open_ledger
from epmgr.ledger.outbox import Outbox
from tests.cli.conftest import Cli
from tests.cli.conftest import epmgr as epmgr  # noqa: F401 (the fixture)


def note(subject: str, created_at: datetime) -> Notification:
    return Notification(target="ops", event=EventKind.ACTION, subject=subject, body="{}", created_at=created_at)


def test_status_is_quiet_about_an_empty_or_delivered_outbox(epmgr: Cli, ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)
    outbox = Outbox(ledger.engine)
    (done,) = outbox.enqueue([note("paused", datetime.now(timezone.utc))])
    outbox.delivered(done, datetime.now(timezone.utc))
    ledger.close()
    result = epmgr("status", EPMGR_DB_URL=ledger_url)
    assert result.exit_code == 0, result.output
    assert "notifications" not in result.output
    as_json = epmgr("status", "--json", EPMGR_DB_URL=ledger_url).output
    assert json.loads(as_json)["notifications"] == {"pending": 0, "dead": 0}


def test_status_shows_pending_and_dead_notifications_in_one_line(epmgr: Cli, ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)
    outbox = Outbox(ledger.engine)
    now = datetime.now(timezone.utc)
    retrying, dead, _fresh = outbox.enqueue(
        [note("paused", now - timedelta(minutes=12)), note("budget", now), note("resumed", now)]
    )
    outbox.failed(retrying, "HTTP 503 from target 'ops'", now + timedelta(minutes=1))
    outbox.failed(dead, "connection refused", None)
    ledger.close()

    result = epmgr("status", EPMGR_DB_URL=ledger_url)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("notifications:")]
    assert lines == [
        "notifications: 2 pending (oldest 12m ago; last error: HTTP 503 from target 'ops'), "
        "1 dead (given up after the last retry; see the daemon's log)"
    ]
    as_json = epmgr("status", "--json", EPMGR_DB_URL=ledger_url).output
    assert json.loads(as_json)["notifications"] == {"pending": 2, "dead": 1}


def test_a_long_error_is_cut(ledger: Ledger) -> None:
    outbox = Outbox(ledger.engine)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    (one,) = outbox.enqueue([note("paused", now)])
    outbox.failed(one, "x" * 500, now)
    line = outbox_line(ledger, now + timedelta(hours=1, minutes=5))
    assert line == f"notifications: 1 pending (oldest 1h5m ago; last error: {'x' * 120})"
