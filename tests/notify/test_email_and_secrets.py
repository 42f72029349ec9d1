"""Email through a real local SMTP server (aiosmtpd), and no secret in any notification, log, outbox row or report."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta, timezone
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from epmgr.clock import FakeClock
from epmgr.config import load_settings
from epmgr.domain.notify import Status
from epmgr.errors import ConfigError
from epmgr.ledger import Ledger
from epmgr.notify.config import NotifyTarget
from epmgr.notify.deliver import Notifier
from epmgr.pricing import PriceBook
from epmgr.report.html import render_html
from epmgr.report.model import build_report
from tests.conftest import T0
from tests.notify.conftest import SECRET_PATH, Receiver, free_port
from tests.notify.test_outbox import tick

PASSWORD = "pa55-w0rd-n0t-for-logs"
TOKEN = "hf_notATokenButSecretAnyway123"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's API)
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    yield inbox, port
    controller.stop()


def mail_target(port: int) -> NotifyTarget:
    return NotifyTarget(
        name="mail", kind="email", smtp_host="127.0.0.1", smtp_port=port, security="none",
        sender="epmgr@example.com", recipients=("ops@example.com",), username="epmgr", password_env="SMTP_PASSWORD",
    )  # fmt: skip


def test_email_is_delivered_through_smtp_with_login(ledger: Ledger, clock: FakeClock, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    notifier = Notifier([mail_target(port)], ledger, clock, env={"SMTP_PASSWORD": PASSWORD})
    notifier.on_tick(tick())
    assert notifier.deliver_due() == 2
    first = message_from_bytes(inbox.messages[0])
    assert first["Subject"] == "[epmgr] acme/prod-llm: pause by the idle policy"
    assert first["To"] == "ops@example.com" and first["From"] == "epmgr@example.com"
    assert "no requests for 6h" in first.get_payload()


def test_no_secret_in_any_notification_log_outbox_row_or_report(
    ledger: Ledger, clock: FakeClock, receiver: Receiver, smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    inbox, port = smtp
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    env = {"OPS_HOOK": receiver.url, "SMTP_PASSWORD": "wrong-" + PASSWORD, "HF_TOKEN": TOKEN}
    hook = NotifyTarget(name="ops", kind="webhook", url_env="OPS_HOOK")
    notifier = Notifier([hook, mail_target(port)], ledger, clock, env=env)
    caplog.set_level(logging.DEBUG)
    receiver.status = 500
    notifier.on_tick(tick())
    notifier.deliver_due()  # the webhook answers 500 and the SMTP login is refused: both are logged and stored
    receiver.status = 200
    env["SMTP_PASSWORD"] = PASSWORD
    clock.advance(timedelta(hours=1))
    notifier.deliver_due()

    rows = notifier.outbox.notifications()
    assert {n.status for n in rows} == {Status.DELIVERED} and any(n.attempts == 2 for n in rows)
    report = render_html(build_report(ledger, PriceBook(), T0, clock.now(), clock.now(), timezone.utc))
    where = {
        "log": caplog.text,
        "outbox": repr(rows),
        "webhook bodies": repr([body for _, body in receiver.received]),
        "emails": b"".join(inbox.messages).decode(errors="replace"),
        "report": report,
    }
    assert "login" in caplog.text.lower() or "535" in caplog.text  # the refused login was logged ...
    for secret in (SECRET_PATH, PASSWORD, TOKEN):
        for name, text in where.items():
            assert secret not in text, f"{secret[:6]}... appears in the {name}"  # ... without its secret


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[notify]]\nkind = "slack"\nurl = "https://hooks.slack.com/services/x"\n',
            "notify[0].url: secrets are never read from the configuration file; put it in an environment variable and "
            'name that variable with url_env = "..."',
        ),
        (
            '[[notify]]\nkind = "email"\nsmtp_host = "h"\nfrom = "a@b.c"\nto = ["d@e.f"]\npassword = "x"\n',
            "notify[0].password: secrets are never read from the configuration file",
        ),
        ('[[notify]]\nkind = "pager"\n', "notify[0].kind: expected one of 'webhook', 'slack', 'email', got 'pager'"),
        ('[[notify]]\nkind = "slack"\n', "notify[0].url_env: missing required key 'url_env'"),
        (
            '[[notify]]\nkind = "webhook"\nurl_env = "X"\nevents = ["actions"]\n',
            "notify[0].events[0]: expected one of 'action', 'budget', 'failure', 'slow_wake', got 'actions'; "
            "did you mean 'action'?",
        ),
    ],
    ids=["slack-url-in-file", "smtp-password-in-file", "unknown-kind", "no-url-env", "unknown-event"],
)
def test_bad_notify_config_is_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_settings(path, env={})
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith(f"{path}:2: {message}") or str(raised.value).startswith(f"{path}:")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert "hooks.slack.com" not in str(raised.value)


def test_notify_targets_load_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(
        '[[notify]]\nname = "slack-ops"\nkind = "slack"\nurl_env = "EPMGR_SLACK_URL"\nendpoints = ["prod-llm"]\n'
        'events = ["action", "failure"]\nslow_wake_after = "10m"\n\n'
        '[[notify]]\nkind = "email"\nsmtp_host = "smtp.example.com"\nfrom = "epmgr@example.com"\n'
        'to = ["ops@example.com"]\nusername = "epmgr"\npassword_env = "EPMGR_SMTP_PASSWORD"\n'
    )
    slack, mail = load_settings(path, env={}).notify
    assert (slack.name, slack.kind, slack.endpoints, slack.slow_wake_after) == (
        "slack-ops", "slack", ("prod-llm",), timedelta(minutes=10),
    )  # fmt: skip
    assert {e.value for e in slack.events} == {"action", "failure"}
    assert (mail.name, mail.smtp_port, mail.security, mail.recipients) == ("email-2", 587, "starttls",
                                                                           ("ops@example.com",))  # fmt: skip
