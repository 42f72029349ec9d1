"""Retry-After read in both of its forms (RFC 9110 10.2.3), and the cap a server's wait is held to."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from epmgr.domain.backoff import Backoff, parse_retry_after

NOW = datetime(2026, 10, 21, 7, 27, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 2.5 ", 2.5), ("Wed, 21 Oct 2026 07:28:00 GMT", 60.0),
     ("Wednesday, 21-Oct-26 07:32:00 GMT", 300.0), ("Wed Oct 21 07:27:30 2026", 30.0),
     ("Wed, 21 Oct 2026 07:00:00 GMT", 0.0), ("soon", None), ("-5", None), ("inf", None), ("nan", None),
     ("   ", None), (None, None)],
)  # fmt: skip
def test_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_an_http_date_needs_now() -> None:
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert parse_retry_after("7") == 7.0


def test_a_server_wait_is_honoured_up_to_the_rate_limit_window() -> None:
    backoff = Backoff()
    assert backoff.delay(1, draw=0.0, retry_after_s=240) == 240  # was capped at 60 s
    assert backoff.delay(1, draw=0.0, retry_after_s=900) == backoff.max_retry_after_s == 300
