"""The fenced lease and intent before act, on each engine; migration 0003 keeps existing data."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import text

from epmgr.domain.model import ActionKind, ActionRecord, Actor, EndpointRef, Outcome
from epmgr.ledger import Ledger, make_engine, migrate, open_ledger
from tests.conftest import T0

TTL = timedelta(seconds=90)
REF = EndpointRef("demo", "ep")


def pause(holder: str | None = None) -> ActionRecord:
    return ActionRecord(REF, ActionKind.PAUSE, "idle 1h", Actor.DAEMON, T0, Outcome.OK, policy="idle", holder=holder)


def test_the_epoch_grows_on_each_take_and_not_on_renewal(ledger: Ledger) -> None:
    first = ledger.take_lease("daemon", "a", TTL, T0)
    assert first is not None and first.epoch == 1 and first.expires_at == T0 + TTL
    renewed = ledger.take_lease("daemon", "a", TTL, T0 + timedelta(seconds=30))
    assert renewed is not None and renewed.epoch == 1
    assert ledger.take_lease("daemon", "b", TTL, T0 + timedelta(seconds=60)) is None  # a's is unexpired
    taken = ledger.take_lease("daemon", "b", TTL, T0 + timedelta(seconds=121))  # a's expired at +120 s
    assert taken is not None and taken.epoch == 2
    # "a" comes back after its lease expired: it may not renew the old epoch, and must not take b's lease.
    assert ledger.renew_lease(renewed, TTL, T0 + timedelta(seconds=122)) is None
    assert ledger.take_lease("daemon", "a", TTL, T0 + timedelta(seconds=122)) is None
    again = ledger.take_lease("daemon", "b", TTL, T0 + timedelta(seconds=300))  # b's own, expired: a new epoch
    assert again is not None and again.epoch == 3


def test_an_action_is_written_only_under_a_live_lease(ledger: Ledger) -> None:
    lease = ledger.take_lease("daemon", "a", TTL, T0)
    assert lease is not None
    intent = ledger.begin_action(pause(), lease=lease, ttl=TTL)
    assert intent is not None and intent.lease is not None and intent.lease.expires_at == T0 + TTL
    (row,) = ledger.actions(REF)
    assert row.outcome == Outcome.STARTED and row.holder == "a" and ledger.unfinished_actions() == [row]
    late = ActionRecord(REF, ActionKind.PAUSE, "idle", Actor.DAEMON, T0 + TTL, Outcome.OK)  # exactly at expiry
    assert ledger.begin_action(late, lease=lease, ttl=TTL) is None
    assert len(ledger.actions(REF)) == 1  # refused: nothing written


def test_a_started_action_completes_once(ledger: Ledger) -> None:
    intent = ledger.begin_action(pause())
    assert intent is not None
    done_at = T0 + timedelta(seconds=4)
    assert ledger.complete_action(intent.id, Outcome.OK, done_at, detail="took 4 s")
    assert not ledger.complete_action(intent.id, Outcome.FAILED, done_at, error="late")
    (row,) = ledger.actions(REF)
    assert (row.outcome, row.error, row.completed_at, row.detail) == (Outcome.OK, None, done_at, "took 4 s")
    assert ledger.unfinished_actions() == []


def test_two_holders_racing_for_an_expired_lease_get_one_winner(ledger: Ledger, ledger_url: str) -> None:
    ledger.take_lease("daemon", "old", TTL, T0)
    later = T0 + 2 * TTL
    others = [open_ledger(ledger_url) for _ in range(6)]
    won: list[str] = []
    barrier = threading.Barrier(len(others))

    def race(i: int) -> None:
        barrier.wait()
        if others[i].take_lease("daemon", f"h{i}", TTL, later) is not None:
            won.append(f"h{i}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(others))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other in others:
        other.close()
    assert len(won) == 1
    lease = ledger.lease("daemon")
    assert lease is not None and lease.holder == won[0] and lease.epoch == 2


def test_migration_0003_keeps_actions_and_leases(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    try:
        migrate.upgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO endpoints (namespace, name, managed, first_seen_at, last_seen_at) "
                    "VALUES ('demo', 'ep', false, :t, :t)"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
            conn.execute(
                text(
                    "INSERT INTO actions (endpoint_id, action, reason, actor, requested_at, outcome) "
                    "VALUES (1, 'pause', 'idle', 'daemon', :t, 'ok')"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
            conn.execute(
                text("INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES ('daemon', 'a', :t, :t)"),
                {"t": T0.replace(tzinfo=None)},
            )
        assert migrate.upgrade(engine) == migrate.head()
    finally:
        engine.dispose()
    ledger = open_ledger(ledger_url)
    try:
        (row,) = ledger.actions(REF)
        assert (row.action, row.outcome, row.holder, row.completed_at) == (ActionKind.PAUSE, Outcome.OK, None, None)
        lease = ledger.lease("daemon")
        assert lease is not None and lease.holder == "a" and lease.epoch == 0
        taken = ledger.take_lease("daemon", "b", TTL, T0 + timedelta(seconds=1))
        assert taken is not None and taken.epoch == 1
    finally:
        ledger.close()
