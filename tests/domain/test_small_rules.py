"""Table-driven tests of the small pure rules: durations, windows, backoff, wake steps, money."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest

from epmgr.cli.render import money
from epmgr.domain.backoff import Backoff, parse_retry_after
from epmgr.domain.durations import format_duration, parse_duration
from epmgr.domain.model import EndpointState
from epmgr.domain.schedule import parse_window
from epmgr.domain.wake import WakeAction, WakeView, plan_wake, poll_delay


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)),
     ("1d", timedelta(days=1)), (" 0s ", timedelta(0))],
)  # fmt: skip
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15 minutes", "15", "1.5h", "-5m", "m", "", "15M"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match='expected a duration such as "90s", "15m", "2h" or "1d"'):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(0), "0s"), (timedelta(minutes=90), "1h30m"), (timedelta(days=1, seconds=5), "1d5s"),
     (-timedelta(minutes=2), "-2m")],
)  # fmt: skip
def test_durations_format(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


@pytest.mark.parametrize(
    ("text", "days", "start", "end", "overnight"),
    [
        ("Mon-Fri 08:00-19:00", {0, 1, 2, 3, 4}, time(8), time(19), False),
        ("Sat 10:00-14:00", {5}, time(10), time(14), False),
        ("Fri-Mon 22:00-06:00", {4, 5, 6, 0}, time(22), time(6), True),
        ("mon,wed,fri 09:30-24:00", {0, 2, 4}, time(9, 30), time(0), True),
        ("Tuesday 7:00-8:00", {1}, time(7), time(8), False),
    ],
    ids=["weekdays", "one-day", "wraps-week-and-midnight", "list-and-24h", "long-day-name"],
)
def test_windows_parse(text: str, days: set[int], start: time, end: time, overnight: bool) -> None:
    window = parse_window(text)
    assert (window.days, window.start, window.end, window.overnight) == (frozenset(days), start, end, overnight)


@pytest.mark.parametrize(
    ("text", "message"),
    [("Mon-Fri", "expected a window"), ("Mon-Fry 08:00-19:00", "unknown day"), ("Mon 25:00-26:00", "not a time"),
     ("Mon 08:00-08:00", "starts and ends at the same time")],
)  # fmt: skip
def test_bad_windows(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    backoff = Backoff(base_s=0.5, cap_s=4.0)
    assert [backoff.delay(n, draw=1.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(3, draw=0.25) == 0.5
    assert backoff.delay(1, draw=0.0, retry_after_s=12) == 12
    assert backoff.delay(1, draw=0.0, retry_after_s=600) == backoff.max_retry_after_s


@pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), (" 2.5 ", 2.5), (None, None), ("", None),
                                                ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("-1", None)])  # fmt: skip
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize(
    ("state", "action"),
    [(EndpointState.RUNNING, WakeAction.SEND), (EndpointState.SCALED_TO_ZERO, WakeAction.SEND_HOLDING),
     (EndpointState.PAUSED, WakeAction.RESUME), (EndpointState.PENDING, WakeAction.WAIT),
     (EndpointState.INITIALIZING, WakeAction.WAIT), (EndpointState.UPDATING, WakeAction.WAIT),
     (EndpointState.FAILED, WakeAction.FAIL), (EndpointState.UPDATE_FAILED, WakeAction.FAIL),
     (EndpointState.UNKNOWN, WakeAction.WAIT)],
)  # fmt: skip
def test_every_state_has_a_wake_action(state: EndpointState, action: WakeAction) -> None:
    assert plan_wake(WakeView(state, healthy=True)) == action


def test_poll_delay_doubles_and_caps() -> None:
    cap = timedelta(seconds=2)
    assert [poll_delay(n, cap=cap).total_seconds() for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_states_parse_with_unknown_as_fallback() -> None:
    assert EndpointState.parse("scaledToZero") is EndpointState.SCALED_TO_ZERO
    assert EndpointState.parse("somethingNew") is EndpointState.UNKNOWN
    assert EndpointState.parse(None) is EndpointState.UNKNOWN


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("0.8"), "$0.80"), (Decimal("0.033"), "$0.033"), (Decimal("23.5"), "$23.50"), (Decimal("1"), "$1.00"),
     (Decimal("0.800000"), "$0.80"), (None, "?")],
)  # fmt: skip
def test_money(value: Decimal | None, text: str) -> None:
    assert money(value) == text
