"""The report reads right at any scale: axes fit the data, buckets add up, the headline explains a negative saving."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epmgr.domain.cost import Spend
from epmgr.domain.model import EndpointRecord, EndpointRef, EndpointState
from epmgr.ledger import Ledger, open_ledger
from epmgr.pricing import PriceBook
from epmgr.report.axes import MAX_BUCKETS, MAX_TICKS, extent, money_ticks, spend_buckets, time_ticks
from epmgr.report.data import endpoint_table, report_dict
from epmgr.report.model import CostReport, build_report
from epmgr.report.summary import headline, saving_notes
from tests.conftest import T0
from tests.report.histories import L4, Writer, thirty_days, two_minutes

S = EndpointState


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield store
    store.close()


def report_of(ledger: Ledger, end: datetime, window: timedelta) -> CostReport:
    return build_report(ledger, PriceBook(), end - window, end, end, timezone.utc)


@pytest.mark.parametrize(
    ("history", "window", "bucket", "count"),
    [(two_minutes, timedelta(days=1), "minute", 2), (thirty_days, timedelta(days=31), "day", 31)],
    ids=["two-minutes-in-a-day", "thirty-days-in-31"],
)
def test_charts_cover_the_history_not_the_window_and_buckets_add_up(
    ledger: Ledger, history: Callable[[Ledger, datetime], datetime], window: timedelta, bucket: str, count: int
) -> None:
    end = history(ledger, T0)
    report = report_of(ledger, end, window)

    assert extent(report) == (T0, end)
    name, buckets = spend_buckets(report)
    assert (name, len(buckets)) == (bucket, count)
    assert buckets[0].start <= T0 and buckets[-1].end >= end
    assert sum((s for b in buckets for s in b.spends), Spend()).usd == report.total.usd  # exact, to the micro-dollar


@pytest.mark.parametrize(
    "span",
    [timedelta(seconds=40), timedelta(minutes=2), timedelta(hours=5), timedelta(days=2), timedelta(days=30)],
    ids=str,
)
def test_time_ticks_are_few_round_and_inside_the_axis(span: timedelta) -> None:
    start = T0 + timedelta(seconds=7)
    ticks = time_ticks(start, start + span, timezone.utc)
    moments = [moment for moment, _ in ticks]
    assert 2 <= len(ticks) <= MAX_TICKS
    assert moments == sorted(moments) and start <= moments[0] and moments[-1] <= start + span
    assert len({label for _, label in ticks}) == len(ticks)  # no two ticks read the same
    assert all(moment.second % 10 == 0 and not moment.microsecond for moment in moments)  # round local times
    assert all(moment.second == 0 for moment in moments) or span <= timedelta(minutes=2)


def test_a_long_window_of_short_history_never_gets_more_than_the_bucket_limit(ledger: Ledger) -> None:
    writer = Writer(ledger, EndpointRef("acme", "chat"))
    writer.go(T0, S.RUNNING)
    end = T0 + timedelta(days=400)
    ledger.upsert_endpoint(EndpointRecord(writer.ref, L4), seen_at=end)
    name, buckets = spend_buckets(report_of(ledger, end, timedelta(days=400)))
    assert name == "week" and len(buckets) <= MAX_BUCKETS + 12


@pytest.mark.parametrize(("highest", "top"), [(0.0, 0.04), (0.03, 0.032), (10.27, 12), (1728, 2000)])
def test_money_ticks_are_round_and_reach_the_highest_bar(highest: float, top: float) -> None:
    ticks = money_ticks(highest)
    assert ticks[0] == (0, "$0") or ticks[0][1].startswith("$0.0")
    assert ticks[-1][0] == pytest.approx(top) and ticks[-1][0] >= highest


def test_the_headline_is_one_sentence_a_manager_understands(ledger: Ledger) -> None:
    end = thirty_days(ledger, T0)
    report = report_of(ledger, end, timedelta(days=30))
    first = headline(report).split(". ")[0]
    waited = report_dict(report)["totals"]["cold_waits"]  # the same figure in `epmgr cost --json`
    assert waited > 0
    assert (
        first == f"epmgr saved $1504.93 (87%) against keeping them running; {waited} requests waited for a cold start"
    )


def test_a_negative_saving_against_always_on_is_explained_where_it_appears(ledger: Ledger) -> None:
    """Three 10-second wake-ups in one minute bill three started minutes; always on bills one."""
    writer = Writer(ledger, EndpointRef("demo", "flappy"))
    for second in (0, 20, 40):
        writer.go(T0 + timedelta(seconds=second), S.RUNNING)
        writer.go(T0 + timedelta(seconds=second + 10), S.SCALED_TO_ZERO)
    end = T0 + timedelta(minutes=1)
    ledger.upsert_endpoint(EndpointRecord(writer.ref, L4), seen_at=end)
    report = report_of(ledger, end, timedelta(hours=1))

    text = headline(report)
    assert text.startswith("epmgr cost $0.03 (200%) more than keeping it running; 0 requests waited for a cold start.")
    assert "Every wake-up bills at least a whole minute of start-up, and 60 s of history is too short" in text
    assert "-$" not in text  # never a bare minus
    assert any("less than epmgr: every wake-up bills" in note for note in saving_notes(report))
    table = endpoint_table(report)
    assert "-$0.03" in table and "A negative SAVED means epmgr cost more than that baseline:" in table
    assert "Always on would have cost $0.01, $0.03 less than epmgr" in table


def test_hf_being_cheaper_without_recorded_requests_says_why(ledger: Ledger) -> None:
    writer = Writer(ledger, EndpointRef("demo", "quiet"))
    writer.go(T0, S.RUNNING)
    writer.go(T0 + timedelta(minutes=30), S.SCALED_TO_ZERO)
    end = T0 + timedelta(hours=2)
    ledger.upsert_endpoint(EndpointRecord(writer.ref, L4), seen_at=end)

    text = headline(report_of(ledger, end, timedelta(hours=2)))

    assert text.startswith("epmgr saved $1.20 (75%) against keeping it running; 0 requests waited")
    assert (
        "HF's scale to zero after 15m would have cost $0.40 less ($0.00) only because no requests were recorded" in text
    )
