"""The pure wake plan: one table of (view) -> action, and the recorder's token parsing."""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime, timedelta, timezone

import pytest

from epmgr.client.recorder import token_counts
from epmgr.domain.model import EndpointState as S
from epmgr.domain.wake import PollCadence, WakeAction, WakeView, budget_message, plan_wake

LATE = timedelta(minutes=11)


@pytest.mark.parametrize(
    ("view", "action"),
    [
        (WakeView(S.RUNNING, healthy=True), WakeAction.SEND),
        (WakeView(S.RUNNING, healthy=True, budget_hold=True), WakeAction.SEND),
        (WakeView(S.RUNNING), WakeAction.WAIT),
        (WakeView(S.SCALED_TO_ZERO), WakeAction.SEND_HOLDING),
        (WakeView(S.PAUSED), WakeAction.RESUME),
        (WakeView(S.PAUSED, resumed=True), WakeAction.WAIT),
        (WakeView(S.PAUSED, budget_hold=True), WakeAction.REFUSE_BUDGET),
        (WakeView(S.SCALED_TO_ZERO, budget_hold=True), WakeAction.REFUSE_BUDGET),
        (WakeView(S.INITIALIZING), WakeAction.WAIT),
        (WakeView(S.PENDING), WakeAction.WAIT),
        (WakeView(S.UPDATING), WakeAction.WAIT),
        (WakeView(S.UNKNOWN), WakeAction.WAIT),
        (WakeView(S.FAILED), WakeAction.FAIL),
        (WakeView(S.UPDATE_FAILED, waited=LATE), WakeAction.FAIL),
        (WakeView(S.INITIALIZING, waited=LATE), WakeAction.GIVE_UP),
        (WakeView(S.PAUSED, waited=LATE), WakeAction.GIVE_UP),
    ],
    ids=lambda v: v.value if isinstance(v, WakeAction) else f"{v.state.value}-{v.healthy}-{v.budget_hold}",
)
def test_plan_wake(view: WakeView, action: WakeAction) -> None:
    assert plan_wake(view) == action


def test_health_is_polled_at_most_every_half_second() -> None:
    cadence = PollCadence()
    assert max(cadence.health_delay(n) for n in range(1, 30)) <= timedelta(milliseconds=500)
    assert cadence.api_delay(30) == timedelta(seconds=5)


def test_budget_message_says_why_when_and_how_to_override() -> None:
    until = datetime(2026, 3, 3, tzinfo=timezone.utc)
    message = budget_message("demo/ep", "daily $5 spent", until)
    assert "daily $5 spent" in message and "2026-03-03T00:00" in message and "epmgr resume --force ep" in message


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        (b'{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}', (3, 5)),
        (b'{"generated_text": "x", "details": {"generated_tokens": 2, "input_length": 4}}', (4, 2)),
        (b'data:{"token": {}}\n\ndata:{"details": {"generated_tokens": 7}}\n\n', (None, 7)),
        (b'{"generated_text": "x"}', (None, None)),
        (b"not json", (None, None)),
        (None, (None, None)),
        (gzip.compress(b'{"usage": {"prompt_tokens": 3, "completion_tokens": 5}}'), (3, 5)),
        (zlib.compress(b'[{"details": {"generated_tokens": 2, "input_length": 4}}]'), (4, 2)),
        (gzip.compress(b'{"usage": {"prompt_tokens": 3, "completion_tokens": 5}}' * 9)[20:], (None, None)),
    ],
    ids=["openai", "tgi-details", "tgi-stream", "no-counts", "garbage", "none", "gzip", "deflate", "gzip-tail"],
)
def test_token_counts(body: bytes | None, tokens: tuple[int | None, int | None]) -> None:
    assert token_counts(body) == tokens
