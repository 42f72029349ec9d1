"""Durations are bounded: any text either parses to at most the bound or is refused; nothing overflows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from epmgr.domain.durations import MAX_DURATION, format_duration, parse_duration

UNITS = st.sampled_from("smhd")


@given(digits=st.integers(min_value=0, max_value=10**40), unit=UNITS)
def test_any_whole_number_parses_within_the_bound_or_is_refused(digits: int, unit: str) -> None:
    text = f"{digits}{unit}"
    try:
        delta = parse_duration(text)
    except ValueError as exc:
        assert "of at most 3650d" in str(exc) and text[:40] in str(exc)
        return
    assert timedelta(0) <= delta <= MAX_DURATION
    datetime(2026, 1, 1, tzinfo=timezone.utc) - delta  # never overflows  # noqa: B018


@given(seconds=st.integers(min_value=0, max_value=int(MAX_DURATION.total_seconds())))
def test_every_duration_up_to_the_bound_round_trips_through_its_smallest_unit(seconds: int) -> None:
    assert parse_duration(f"{seconds}s") == timedelta(seconds=seconds)
    assert format_duration(timedelta(seconds=seconds))  # renders without error


@pytest.mark.parametrize(
    ("text", "at_most", "ok"),
    [("1d", timedelta(days=1), True), ("86401s", timedelta(days=1), False), ("0" * 5000 + "5m", MAX_DURATION, True),
     ("9" * 5000 + "s", MAX_DURATION, False), ("3650d", MAX_DURATION, True), ("3651d", MAX_DURATION, False)],
)  # fmt: skip
def test_the_bound_is_inclusive_and_digits_are_never_turned_into_a_huge_int(
    text: str, at_most: timedelta, ok: bool
) -> None:
    if ok:
        assert parse_duration(text, at_most=at_most) <= at_most
    else:
        with pytest.raises(ValueError, match=f"of at most {format_duration(at_most)}"):
            parse_duration(text, at_most=at_most)


def test_a_long_bad_value_is_quoted_short() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("x" * 100_000)
    assert len(str(caught.value)) < 200 and "(100000 characters)" in str(caught.value)
