"""The Ledger round-trips domain records on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Actor,
    ChangeSource,
    EndpointRecord,
    EndpointRef,
    EndpointSnapshot,
    EndpointState,
    Instance,
    Outcome,
    RequestRecord,
)
from epmgr.errors import LedgerError
from epmgr.ledger import Ledger
from epmgr.ledger.schema import RequestRow
from epmgr.ledger.store import IN_FLIGHT_STALE_AFTER, RequestFinish
from tests.conftest import T0

EP = EndpointRef("demo", "phi3-mini")
OTHER = EndpointRef("my-org", "llama")
L4 = Instance("aws", "us-east-1", "gpu", "nvidia-l4", "x1")


def snapshot(state: EndpointState, replicas: int = 1, instance: Instance = L4) -> EndpointSnapshot:
    return EndpointSnapshot(ref=EP, state=state, instance=instance, target_replicas=replicas)


def test_requests_round_trip_with_exact_latency(ledger: Ledger) -> None:
    record = RequestRecord(
        EP, T0, T0 + timedelta(microseconds=1_234_567), 200, timedelta(microseconds=1_234_567), "c1", 12, 34
    )
    (request_id,) = ledger.record_requests([record])
    (back,) = ledger.requests(EP)
    assert back == RequestRecord(**{**record.__dict__, "id": request_id})
    assert back.started_at.tzinfo == timezone.utc


def test_times_are_stored_as_utc_whatever_zone_they_come_in(ledger: Ledger) -> None:
    berlin = T0.astimezone(ZoneInfo("Europe/Berlin"))
    ledger.record_requests([RequestRecord(EP, berlin)])
    (back,) = ledger.requests(EP)
    assert back.started_at == T0 and back.started_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused_not_guessed(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="aware datetimes only"):
        ledger.record_requests([RequestRecord(EP, T0.replace(tzinfo=None))])
    assert ledger.count_requests() == 0


def test_a_month_of_latencies_sums_exactly(ledger: Ledger) -> None:
    """0.1 s a request, every 5 minutes for 30 days: the sum is exact (floats would drift)."""
    step, latency = timedelta(minutes=5), timedelta(milliseconds=100)
    records = [RequestRecord(EP, T0 + i * step, T0 + i * step + latency, 200, latency) for i in range(8640)]
    ledger.record_requests(records)
    total = sum((r.latency for r in ledger.requests(EP) if r.latency), timedelta())
    assert total == timedelta(seconds=864)
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.sum(RequestRow.latency_us))).scalar_one() == 864_000_000
    assert sum([0.1] * 8640) != 864.0  # the drift this design avoids


def test_in_flight_requests_count_as_activity_until_finished(ledger: Ledger) -> None:
    done, pending = ledger.record_requests(
        [RequestRecord(EP, T0, T0 + timedelta(seconds=2), 200), RequestRecord(EP, T0)]
    )
    activity = ledger.activity(EP, T0 + timedelta(seconds=5))
    assert activity.in_flight == 1 and activity.requests_last_hour == 2
    assert activity.last_request_at == T0 + timedelta(seconds=2)

    ledger.finish_requests([RequestFinish(pending, T0 + timedelta(seconds=9), 200, tokens_in=3, tokens_out=7)])
    activity = ledger.activity(EP, T0 + timedelta(seconds=10))
    assert activity.in_flight == 0 and activity.last_request_at == T0 + timedelta(seconds=9)
    finished = [r for r in ledger.requests(EP) if r.id == pending][0]
    assert finished.latency == timedelta(seconds=9) and finished.tokens_out == 7


def test_an_abandoned_request_stops_counting_as_in_flight(ledger: Ledger) -> None:
    ledger.record_requests([RequestRecord(EP, T0)])
    assert ledger.activity(EP, T0 + IN_FLIGHT_STALE_AFTER - timedelta(seconds=1)).in_flight == 1
    assert ledger.activity(EP, T0 + IN_FLIGHT_STALE_AFTER + timedelta(seconds=1)).in_flight == 0


def test_activity_of_an_unknown_endpoint_is_empty(ledger: Ledger) -> None:
    activity = ledger.activity(OTHER, T0)
    assert activity.last_request_at is None and activity.in_flight == 0


def test_requests_filter_by_endpoint_and_window(ledger: Ledger) -> None:
    ledger.record_requests([RequestRecord(EP, T0 + timedelta(minutes=i)) for i in range(10)])
    ledger.record_requests([RequestRecord(OTHER, T0)])
    window = ledger.requests(EP, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5))
    assert [r.started_at.minute for r in window] == [2, 3, 4]
    assert ledger.count_requests(EP) == 10 and ledger.count_requests() == 11


def test_snapshots_are_recorded_only_when_something_changed(ledger: Ledger) -> None:
    first = ledger.record_snapshot(snapshot(EndpointState.INITIALIZING), T0)
    assert first is not None and first.from_state is None
    assert ledger.record_snapshot(snapshot(EndpointState.INITIALIZING), T0 + timedelta(seconds=30)) is None
    running = ledger.record_snapshot(snapshot(EndpointState.RUNNING), T0 + timedelta(minutes=4), ChangeSource.ACTION)
    assert running is not None and running.from_state == EndpointState.INITIALIZING
    assert ledger.record_snapshot(snapshot(EndpointState.RUNNING, replicas=2), T0 + timedelta(minutes=5))
    a10g = Instance("aws", "us-east-1", "gpu", "nvidia-a10g", "x1")
    assert ledger.record_snapshot(snapshot(EndpointState.RUNNING, replicas=2, instance=a10g), T0 + timedelta(minutes=6))

    changes = ledger.state_changes(EP)
    assert [(c.to_state, c.replicas, c.instance) for c in changes] == [
        (EndpointState.INITIALIZING, 1, L4),
        (EndpointState.RUNNING, 1, L4),
        (EndpointState.RUNNING, 2, L4),
        (EndpointState.RUNNING, 2, a10g),
    ]
    assert changes[1].source == ChangeSource.ACTION and changes[0].source == ChangeSource.OBSERVED
    assert ledger.last_state_change(EP) == changes[-1]
    assert ledger.state_changes(EP, since=T0 + timedelta(minutes=5)) == changes[2:]


def test_actions_are_an_append_only_audit_log(ledger: Ledger) -> None:
    for minute, (kind, outcome, error) in enumerate(
        [
            (ActionKind.SCALE_TO_ZERO, Outcome.OK, None),
            (ActionKind.PAUSE, Outcome.FAILED, "503 from the API"),
            (ActionKind.PAUSE, Outcome.DRY_RUN, None),
        ]
    ):
        ledger.record_action(
            ActionRecord(EP, kind, f"idle for {minute}m", Actor.DAEMON, T0 + timedelta(minutes=minute), outcome, error)
        )
    ledger.record_action(ActionRecord(OTHER, ActionKind.RESUME, "by hand", Actor.CLI, T0, Outcome.OK))
    log = ledger.actions(EP)
    assert [(a.action, a.outcome, a.error) for a in log] == [
        (ActionKind.SCALE_TO_ZERO, Outcome.OK, None),
        (ActionKind.PAUSE, Outcome.FAILED, "503 from the API"),
        (ActionKind.PAUSE, Outcome.DRY_RUN, None),
    ]
    assert [a.reason for a in ledger.actions(EP, limit=2)] == ["idle for 1m", "idle for 2m"]
    assert len(ledger.actions()) == 4


def test_endpoint_records_are_upserted(ledger: Ledger) -> None:
    ledger.upsert_endpoint(EndpointRecord(EP, L4, Decimal("0.8"), managed=True, policy="phi3-mini"), seen_at=T0)
    ledger.upsert_endpoint(EndpointRecord(EP, managed=True), seen_at=T0 + timedelta(hours=1))
    (record,) = ledger.endpoints()
    assert record.instance == L4 and record.price_per_hour == Decimal("0.8") and record.managed
    assert record.first_seen_at == T0 and record.last_seen_at == T0 + timedelta(hours=1)
    assert ledger.endpoint(OTHER) is None


def test_a_lease_has_one_holder_until_it_expires(ledger: Ledger) -> None:
    ttl = timedelta(seconds=30)
    assert ledger.acquire_lease("daemon", "host-a", ttl, T0)
    assert not ledger.acquire_lease("daemon", "host-b", ttl, T0 + timedelta(seconds=10))
    assert ledger.acquire_lease("daemon", "host-a", ttl, T0 + timedelta(seconds=20))  # renewal
    assert not ledger.acquire_lease("daemon", "host-b", ttl, T0 + timedelta(seconds=45))
    assert ledger.acquire_lease("daemon", "host-b", ttl, T0 + timedelta(seconds=51))  # a's lease ran out
    lease = ledger.lease("daemon")
    assert lease is not None and lease.holder == "host-b" and lease.expires_at == T0 + timedelta(seconds=81)
    assert not ledger.release_lease("daemon", "host-a")
    assert ledger.release_lease("daemon", "host-b")
    assert ledger.lease("daemon") is None
    assert ledger.acquire_lease("daemon", "host-a", ttl, T0 + timedelta(seconds=52))


def test_a_hold_is_in_force_until_it_ends_or_is_released(ledger: Ledger) -> None:
    from epmgr.domain.model import Hold

    assert ledger.active_hold(EP, T0) is None
    midnight = T0.replace(hour=0) + timedelta(days=1)
    ledger.place_hold(Hold(EP, "budget", "daily budget of $20 used up", T0, until=midnight))
    hold = ledger.active_hold(EP, T0 + timedelta(hours=1))
    assert hold is not None and hold.kind == "budget" and hold.until == midnight and hold.in_force(T0)
    assert ledger.active_hold(EP, midnight) is None  # the budget period reset
    assert ledger.active_hold(OTHER, T0) is None

    ledger.place_hold(Hold(EP, "budget", "monthly budget used up", T0 + timedelta(minutes=5)))
    assert ledger.release_holds(EP, T0 + timedelta(hours=2), by="cli") == 2
    assert ledger.active_hold(EP, T0 + timedelta(hours=3)) is None


def test_prices_are_cached_one_per_instance(ledger: Ledger) -> None:
    from epmgr.domain.model import PriceRecord

    ledger.record_prices([PriceRecord(L4, Decimal("0.8"), "published", T0)])
    ledger.record_prices([PriceRecord(L4, Decimal("0.85"), "api", T0 + timedelta(hours=1))])
    (price,) = ledger.prices()
    assert (price.price_per_hour, price.source, price.read_at) == (Decimal("0.85"), "api", T0 + timedelta(hours=1))
    assert price.instance == L4


def test_actions_keep_their_policy(ledger: Ledger) -> None:
    ledger.record_action(
        ActionRecord(EP, ActionKind.PAUSE, "over budget", Actor.DAEMON, T0, Outcome.OK, None, "budget")
    )
    assert ledger.actions(EP)[0].policy == "budget"
