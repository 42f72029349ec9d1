"""The spend arithmetic: HF's per-minute rounding, windows, unknown time, and its properties (hypothesis)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epmgr.domain.cost import BILLED_STATES, Spend, intervals, segment_usd, spend_between, spend_in
from epmgr.domain.model import EndpointState, StateChange
from epmgr.emulator.billing import segment_cost
from tests.conftest import T0
from tests.cost.conftest import PRICE, change

S = EndpointState
HOUR = timedelta(hours=1)


def test_billed_states_are_initializing_running_and_updating() -> None:
    assert frozenset({S.INITIALIZING, S.RUNNING, S.UPDATING}) == BILLED_STATES


def test_a_ten_second_cold_start_costs_one_whole_minute() -> None:
    changes = [change(0, S.INITIALIZING, previous=None), change(10, S.SCALED_TO_ZERO)]
    spend = spend_between(changes, T0, T0 + HOUR)
    assert spend == Spend(segment_usd(1, 1, PRICE), 1, timedelta(0))


def test_initializing_then_running_is_one_segment_rounded_once() -> None:
    changes = [change(0, S.INITIALIZING, previous=None), change(30, S.RUNNING), change(61, S.PAUSED)]
    assert spend_between(changes, T0, T0 + HOUR).replica_minutes == 2  # 61 s, not 1 min + 1 min


def test_replicas_multiply_and_a_replica_change_starts_a_new_segment() -> None:
    changes = [
        change(0, S.RUNNING, previous=None, replicas=2),
        change(90, S.RUNNING, replicas=3),
        change(120, S.PAUSED),
    ]
    spend = spend_between(changes, T0, T0 + HOUR)
    assert spend.replica_minutes == 2 * 2 + 1 * 3
    assert spend.usd == segment_usd(2, 2, PRICE) + segment_usd(1, 3, PRICE)


def test_a_price_change_starts_a_new_segment_and_a_changes_own_price_wins() -> None:
    changes = [change(0, S.RUNNING, previous=None), change(600, S.RUNNING, price=Decimal("2.5")), change(900, S.PAUSED)]
    spend = spend_between(changes, T0, T0 + HOUR, price_of=lambda _: Decimal(100))
    assert spend.usd == segment_usd(10, 1, PRICE) + segment_usd(5, 1, Decimal("2.5"))


def test_price_of_fills_changes_without_a_price_and_unpriced_minutes_are_reported() -> None:
    changes = [change(0, S.RUNNING, previous=None, price=None), change(120, S.PAUSED, price=None)]
    assert spend_between(changes, T0, T0 + HOUR, price_of=lambda _: PRICE).usd == segment_usd(2, 1, PRICE)
    unpriced = spend_between(changes, T0, T0 + HOUR)
    assert (unpriced.usd, unpriced.replica_minutes, unpriced.unpriced_replica_minutes) == (Decimal(0), 2, 2)
    assert not unpriced.complete


def test_a_whole_segment_costs_what_the_emulator_bills() -> None:
    for seconds in (1, 59, 60, 61, 3599, 3600, 86_400 + 7):
        changes = [change(0, S.RUNNING, previous=None), change(seconds, S.PAUSED)]
        spend = spend_between(changes, T0, T0 + timedelta(days=2))
        minutes = -(-seconds // 60)
        assert spend.usd == segment_cost(minutes, 1, PRICE)


def test_minutes_belong_to_the_window_where_they_begin() -> None:
    changes = [change(0, S.RUNNING, previous=None), change(150, S.PAUSED)]  # minutes begin at 0, 60, 120 s
    assert spend_between(changes, T0, T0 + timedelta(seconds=60)).replica_minutes == 1
    assert spend_between(changes, T0 + timedelta(seconds=1), T0 + timedelta(seconds=121)).replica_minutes == 2
    assert spend_between(changes, T0 + timedelta(seconds=121), T0 + HOUR).replica_minutes == 0


def test_an_open_segment_is_billed_up_to_the_window_end() -> None:
    changes = [change(0, S.RUNNING, previous=None)]
    assert spend_between(changes, T0, T0 + timedelta(minutes=90)).replica_minutes == 90


def test_paused_scaled_to_zero_pending_and_failed_are_free() -> None:
    for state in (S.PAUSED, S.SCALED_TO_ZERO, S.PENDING, S.FAILED, S.UPDATE_FAILED):
        assert spend_between([change(0, state, previous=None)], T0, T0 + HOUR) == Spend()


def test_unknown_state_is_reported_as_unknown_not_free() -> None:
    changes = [change(0, S.RUNNING, previous=None), change(600, S.UNKNOWN), change(1800, S.RUNNING)]
    spend = spend_between(changes, T0, T0 + HOUR)
    assert spend.unknown == timedelta(minutes=20)
    assert spend.replica_minutes == 10 + 30
    assert not spend.complete


def test_history_before_the_first_change_is_unknown_unless_it_is_the_first_record() -> None:
    truncated = [change(1800, S.PAUSED, previous=S.RUNNING)]
    assert spend_between(truncated, T0, T0 + HOUR).unknown == timedelta(minutes=30)
    created = [change(1800, S.PENDING, previous=None)]
    assert spend_between(created, T0, T0 + HOUR).unknown == timedelta(0)


def test_no_changes_at_all_is_an_unknown_window() -> None:
    assert spend_between([], T0, T0 + HOUR).unknown == HOUR


def test_a_deleted_endpoint_costs_nothing_after_its_deletion() -> None:
    history = intervals([change(0, S.RUNNING, previous=None)], ended_at=T0 + timedelta(seconds=90))
    assert history[-1].end == T0 + timedelta(seconds=90)
    assert spend_in(history, T0, T0 + HOUR) == Spend(segment_usd(2, 1, PRICE), 2, timedelta(0))


# -- properties -----------------------------------------------------------------------------------

STATES = st.sampled_from([S.RUNNING, S.INITIALIZING, S.UPDATING, S.PAUSED, S.SCALED_TO_ZERO, S.PENDING, S.UNKNOWN])


@st.composite
def histories(draw: st.DrawFn) -> list[StateChange]:
    """A random history: 1-12 changes at distinct instants (ms resolution) over about six hours."""
    offsets = draw(st.lists(st.integers(0, 6 * 3600 * 1000), min_size=1, max_size=12, unique=True))
    result = []
    for index, ms in enumerate(sorted(offsets)):
        state = draw(STATES)
        replicas = draw(st.integers(1, 3)) if state in BILLED_STATES else 0
        price = draw(st.sampled_from([Decimal("0.8"), Decimal("0.067"), Decimal("4.5")]))
        result.append(
            change(ms / 1000, state, previous=None if index == 0 else S.PAUSED, replicas=replicas, price=price)
        )
    return result


WINDOW_START = T0 - HOUR
WINDOW_END = T0 + timedelta(hours=8)


@settings(max_examples=200, deadline=None)
@given(histories(), st.lists(st.integers(1, 9 * 3600 * 1000 - 1), max_size=6))
def test_splitting_a_window_never_changes_the_total(changes: list[StateChange], cuts_ms: list[int]) -> None:
    whole = spend_between(changes, WINDOW_START, WINDOW_END)
    points = sorted({WINDOW_START + timedelta(milliseconds=ms) for ms in cuts_ms})
    edges = [WINDOW_START, *points, WINDOW_END]
    parts = sum((spend_between(changes, a, b) for a, b in zip(edges, edges[1:], strict=False)), Spend())
    assert parts == whole


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_totals_do_not_depend_on_the_order_changes_are_given_in(changes: list[StateChange], rnd: random.Random) -> None:
    shuffled = list(changes)
    rnd.shuffle(shuffled)
    assert spend_between(shuffled, WINDOW_START, WINDOW_END) == spend_between(changes, WINDOW_START, WINDOW_END)


@settings(max_examples=200, deadline=None)
@given(histories())
def test_unknown_time_is_never_billed_as_zero_silently(changes: list[StateChange]) -> None:
    """Every instant of the window is either known (billed or free) or counted in ``unknown``."""
    spend = spend_between(changes, WINDOW_START, WINDOW_END)
    expected_unknown = timedelta(0)
    history = intervals(changes)
    for interval in history:
        if interval.state == S.UNKNOWN:
            lo = WINDOW_START if interval.start is None else max(WINDOW_START, interval.start)
            hi = WINDOW_END if interval.end is None else min(WINDOW_END, interval.end)
            expected_unknown += max(hi - lo, timedelta(0))
    assert spend.unknown == expected_unknown
    # Removing the unknown marks (pretending those stretches were free) would hide them; the spend says so.
    if any(c.to_state == S.UNKNOWN for c in changes) and spend.unknown:
        assert not spend.complete


@pytest.mark.parametrize("split_at", [1, 59, 60, 61, 119, 3000])
def test_a_segment_cut_by_a_day_boundary_adds_up_to_its_own_bill(split_at: int) -> None:
    changes = [change(0, S.RUNNING, previous=None), change(3601, S.PAUSED)]
    cut = T0 + timedelta(seconds=split_at)
    total = spend_between(changes, T0, cut) + spend_between(changes, cut, T0 + HOUR * 2)
    assert total.usd == segment_cost(61, 1, PRICE)
    assert total.replica_minutes == 61
