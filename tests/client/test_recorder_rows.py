"""The recorder's rows: a request shorter than ``interval`` costs one complete row; one still running ``interval``
after it started gets its in-flight row then (the daemon's bound), finished by a later flush; an explicit flush
writes everything at once. The thread's flush is driven here with its monotonic instants (no waiting)."""

from __future__ import annotations

import pytest

from epmgr.client import ActivityRecorder
from epmgr.clock import FakeClock
from epmgr.domain.model import EndpointRef
from epmgr.ledger import Ledger
from tests.conftest import T0

REF = EndpointRef("demo", "ep")


def finished(ledger: Ledger) -> list[bool]:
    return sorted(r.finished_at is not None for r in ledger.requests(REF))


def test_a_short_request_costs_one_row_and_a_long_one_is_marked_when_due(ledger: Ledger) -> None:
    recorder = ActivityRecorder(ledger, interval=3600, clock=FakeClock(T0))  # its thread sleeps: the test flushes
    short, long = recorder.start(REF), recorder.start(REF)
    assert recorder._flush(short.due - 1) == pytest.approx(1)  # both running, neither due: the first is in 1 s
    assert finished(ledger) == []
    recorder.finish(short, 200)
    recorder._flush(short.due - 0.5)
    assert finished(ledger) == [True]  # the short one: one complete row, never an in-flight one
    assert recorder._flush(long.due) == 3600  # the long one is due: its in-flight row now
    assert finished(ledger) == [False, True]
    recorder.finish(long, 200)
    recorder._flush(long.due + 1)
    assert finished(ledger) == [True, True] and recorder.queued == 0
    recorder.close()


def test_an_explicit_flush_writes_a_running_request_at_once(ledger: Ledger) -> None:
    recorder = ActivityRecorder(ledger, interval=3600, clock=FakeClock(T0))
    running = recorder.start(REF)
    recorder.flush()
    assert finished(ledger) == [False]
    recorder.finish(running, 503)
    recorder.close()
    assert [r.status_code for r in ledger.requests(REF)] == [503]
