"""Property tests of the wake schedule: for any attempt count and any wait up to the timeout, the delays stay
within the cap, never go negative, never raise, and add up to the deadline (so every wait ends)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epmgr.domain.wake import MAX_WAKE_TIMEOUT, PollCadence, next_sleep, poll_delay, wake_timeout

FLOOR = timedelta(milliseconds=10)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=999_999_998))


@given(attempt=st.integers(min_value=-10, max_value=10**6), first=durations, cap=durations)
def test_poll_delay_is_defined_for_any_attempt_and_stays_within_the_cap(
    attempt: int, first: timedelta, cap: timedelta
) -> None:
    delay = poll_delay(attempt, first=first, cap=cap)
    assert timedelta(0) <= delay <= cap


@given(attempt=st.integers(min_value=1, max_value=200))
def test_poll_delay_doubles_until_the_cap(attempt: int) -> None:
    cadence = PollCadence()
    now, after = cadence.api_delay(attempt), cadence.api_delay(attempt + 1)
    assert after == min(2 * now, cadence.api_cap)


@settings(max_examples=40, deadline=None)
@given(
    timeout=st.timedeltas(
        min_value=timedelta(milliseconds=1), max_value=timedelta(hours=1)
    ),  # the CLI's default is 15 min
    cap=st.sampled_from([timedelta(milliseconds=400), timedelta(seconds=2), timedelta(seconds=5)]),
    first=st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(seconds=1)),
    poll_cost=st.timedeltas(min_value=timedelta(0), max_value=timedelta(seconds=8)),
)
def test_a_wait_of_any_length_reaches_its_deadline_and_stops_there(
    timeout: timedelta, cap: timedelta, first: timedelta, poll_cost: timedelta
) -> None:
    """The waiters' loop (Waker, Operator.wait_ready): look (which costs ``poll_cost``: an API call of several
    seconds), give up once ``waited >= timeout``, else sleep ``next_sleep``."""
    waited, attempt = timedelta(0), 0
    while True:
        attempt += 1
        waited += poll_cost
        if waited >= timeout:
            break
        delay = next_sleep(poll_delay(attempt, first=first, cap=cap), waited, timeout, floor=FLOOR)
        assert FLOOR <= delay <= max(cap, FLOOR)
        assert waited + delay <= timeout + FLOOR  # never sleeps past the deadline by more than the floor
        waited += delay
    assert timeout <= waited <= timeout + poll_cost + FLOOR
    assert attempt <= timeout / min(cap, first) + 2 * 64  # bounded: the schedule always advances


@given(waited=durations, timeout=durations, delay=durations)
def test_next_sleep_is_never_negative_nor_past_the_deadline(
    waited: timedelta, timeout: timedelta, delay: timedelta
) -> None:
    sleep = next_sleep(delay, waited, timeout, floor=FLOOR)
    assert sleep >= FLOOR
    assert sleep <= max(delay, FLOOR)
    if waited < timeout:
        assert sleep <= max(timeout - waited, FLOOR)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), 86_401, 999_999_999 * 86_400.0])
def test_wake_timeouts_out_of_range_are_refused_with_what_is_expected(seconds: float) -> None:
    with pytest.raises(ValueError, match="expected a wake timeout of more than 0 s and at most 86400 s"):
        wake_timeout(seconds)


def test_wake_timeouts_in_range_are_kept() -> None:
    assert wake_timeout(600) == timedelta(minutes=10)
    assert wake_timeout(MAX_WAKE_TIMEOUT.total_seconds()) == MAX_WAKE_TIMEOUT
