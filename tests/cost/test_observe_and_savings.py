"""Observation rules (change times, gaps, first sight) and the savings replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from epmgr.domain.cost import spend_between
from epmgr.domain.model import EndpointSnapshot, EndpointState, PriceRecord
from epmgr.domain.savings import hf_scale_to_zero, scale_to_zero_history
from epmgr.ledger import Ledger
from epmgr.observe import observe_snapshot
from epmgr.pricing import Price, PriceBook
from tests.conftest import T0
from tests.cost.conftest import L4, PRICE, REF

S = EndpointState


def snap(state: EndpointState, updated_seconds: float | None = None, created_seconds: float = 0) -> EndpointSnapshot:
    replicas = 1 if state in (S.RUNNING, S.INITIALIZING) else 0
    return EndpointSnapshot(
        REF,
        state,
        L4,
        target_replicas=replicas,
        price_per_hour=PRICE,
        created_at=T0 + timedelta(seconds=created_seconds),
        updated_at=None if updated_seconds is None else T0 + timedelta(seconds=updated_seconds),
    )


def look(ledger: Ledger, snapshot: EndpointSnapshot, seconds: float) -> list[S]:
    written = observe_snapshot(
        ledger, snapshot, T0 + timedelta(seconds=seconds), ledger.endpoint(REF), max_gap=timedelta(seconds=90)
    )
    return [c.to_state for c in written]


def test_a_pause_is_dated_by_updated_at_when_it_is_after_the_last_look(ledger: Ledger) -> None:
    look(ledger, snap(S.RUNNING), 0)
    look(ledger, snap(S.RUNNING), 30)
    look(ledger, snap(S.PAUSED, updated_seconds=41), 60)
    assert [c.observed_at for c in ledger.state_changes(REF)] == [T0, T0 + timedelta(seconds=41)]


def test_an_updated_at_before_the_last_look_is_ignored(ledger: Ledger) -> None:
    look(ledger, snap(S.RUNNING, updated_seconds=0), 0)
    look(ledger, snap(S.RUNNING, updated_seconds=0), 30)
    look(ledger, snap(S.SCALED_TO_ZERO, updated_seconds=0), 60)  # HF's idle timer: updatedAt does not move
    assert ledger.state_changes(REF)[-1].observed_at == T0 + timedelta(seconds=60)


def test_a_gap_longer_than_max_gap_is_recorded_as_unknown(ledger: Ledger) -> None:
    look(ledger, snap(S.RUNNING), 0)
    assert look(ledger, snap(S.RUNNING), 3600) == [S.UNKNOWN, S.RUNNING]
    spend = spend_between(ledger.state_changes(REF), T0, T0 + timedelta(hours=2))
    assert spend.unknown == timedelta(hours=1)
    assert spend.replica_minutes == 60  # the hour after the gap only


def test_paused_before_and_after_a_gap_without_an_action_is_paused_throughout(ledger: Ledger) -> None:
    look(ledger, snap(S.PAUSED, updated_seconds=0), 0)
    assert look(ledger, snap(S.PAUSED, updated_seconds=0), 7200) == []
    assert spend_between(ledger.state_changes(REF), T0, T0 + timedelta(hours=2)).complete


def test_an_endpoint_first_seen_long_after_its_creation_has_an_unknown_past(ledger: Ledger) -> None:
    assert look(ledger, snap(S.RUNNING, created_seconds=0), 600) == [S.UNKNOWN, S.RUNNING]
    assert spend_between(ledger.state_changes(REF), T0, T0 + timedelta(seconds=600)).unknown == timedelta(minutes=10)


def test_config_price_wins_over_the_api_cache_and_the_published_table() -> None:
    book = PriceBook()
    published = book.price(L4)
    assert published is not None and (published.usd_per_hour, published.source) == (PRICE, "published")
    book.cached[("aws", "us-east-1", "nvidia-l4", "x1")] = PriceRecord(L4, Decimal("0.7"), "api", T0)
    assert book.price(L4) == Price(Decimal("0.7"), "api", T0)
    book.overrides[REF] = Decimal("0.5")
    assert book.price(L4, REF) == Price(Decimal("0.5"), "config")
    assert book.price_of(REF)(L4) == Decimal("0.5")


def test_scale_to_zero_replay_wakes_on_requests_and_sleeps_after_the_timeout() -> None:
    minutes = [0, 5, 40, 41]  # a burst, a 35-minute gap, another burst
    arrivals = [T0 + timedelta(minutes=m) for m in minutes]
    end = T0 + timedelta(hours=2)
    history = scale_to_zero_history(
        arrivals,
        T0,
        end,
        timeout=timedelta(minutes=15),
        cold_start=timedelta(minutes=4),
        replicas=1,
        price_per_hour=PRICE,
    )
    awake = [(i.state, i.start, i.end) for i in history if i.state != S.SCALED_TO_ZERO]
    assert awake == [
        (S.INITIALIZING, T0, T0 + timedelta(minutes=4)),
        (S.RUNNING, T0 + timedelta(minutes=4), T0 + timedelta(minutes=20)),
        (S.INITIALIZING, T0 + timedelta(minutes=40), T0 + timedelta(minutes=44)),
        (S.RUNNING, T0 + timedelta(minutes=44), T0 + timedelta(minutes=59)),
    ]
    baseline = hf_scale_to_zero(arrivals, T0, end, timeout=timedelta(minutes=15), price_per_hour=PRICE)
    assert (baseline.spend.replica_minutes, baseline.wake_ups) == (20 + 19, 2)
    assert replace(baseline).name == "HF scale to zero after 15m"
