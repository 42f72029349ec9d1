"""Trace loaders: any CSV with a timestamp column, each shared public trace (on a slice), and the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.errors import ConfigError
from epmgr.ledger import Ledger
from epmgr.simulate.traces import (
    AZURE_DAY,
    SERVEGEN_DAY,
    from_ledger,
    load,
    parse_time,
    read_azure_functions,
    read_azure_llm,
    read_csv,
    read_servegen,
)
from tests.conftest import T0

SHARED = Path(__file__).resolve().parents[3] / "shared" / "traces"
needs_traces = pytest.mark.skipif(not SHARED.exists(), reason=f"the shared traces are not on this machine ({SHARED})")


def test_parse_time_reads_iso_naive_offsets_long_fractions_and_epoch_seconds() -> None:
    assert parse_time("2026-03-02T09:00:00Z") == T0.timestamp()
    assert parse_time("2026-03-02 10:00:00+01:00") == T0.timestamp()
    assert parse_time("2026-03-02 09:00:00") == T0.timestamp()  # naive: UTC
    assert parse_time("2023-11-16 18:17:03.9799600") == pytest.approx(
        datetime(2023, 11, 16, 18, 17, 3, 979960, tzinfo=timezone.utc).timestamp()
    )
    assert parse_time(" 1772442000.5 ") == T0.timestamp() + 0.5


def test_a_csv_gives_sorted_times_over_its_own_window(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text("id,Timestamp\n1,2026-03-02T09:30:00Z\n2,1772442000\n3,2026-03-02T09:01:00\n")
    [stream] = read_csv(path)
    start = T0.timestamp()
    assert list(stream.times) == [start, start + 60, start + 1800]
    assert (stream.name, stream.start, stream.end) == ("requests", start, start + 1800)


def test_an_endpoint_column_splits_a_csv_into_streams(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    path.write_text("timestamp,endpoint\n0,a\n60,b\n120,a\n")
    streams = {s.name: list(s.times) for s in read_csv(path)}
    assert streams == {"a": [0.0, 120.0], "b": [60.0]}


def test_a_csv_without_a_timestamp_column_is_named_with_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,user\n0,a\n")
    with pytest.raises(ConfigError) as info:
        read_csv(path)
    assert info.value.exit_code == 2
    assert str(info.value) == f"{path}:1: no 'timestamp' column (columns: time, user)"


def test_a_bad_row_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp\n0\n60\nyesterday\n")
    with pytest.raises(ConfigError, match=rf"^{path}:4: bad timestamp 'yesterday' \(expected ISO-8601"):
        read_csv(path)


def test_a_missing_file_and_an_unknown_format_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "missing.csv")
    (tmp_path / "t.csv").write_text("timestamp\n0\n")
    with pytest.raises(ConfigError, match="unknown trace format 'parquet'"):
        load(tmp_path / "t.csv", "parquet")


@needs_traces
def test_azure_functions_counts_are_spread_evenly_over_their_minute() -> None:
    path = SHARED / "azure_functions_2019_invitro" / "window8h_500"
    streams = read_azure_functions(path, limit=3)
    assert len(streams) == 3
    for stream in streams:
        assert stream.start == AZURE_DAY + 479 * 60  # label 480 covers minute 479-480 of the day
        assert stream.end - stream.start == 480 * 60
        assert list(stream.times) == sorted(stream.times)
        assert all(stream.start < t < stream.end for t in stream.times)
    first = streams[0]
    minute = int((first.times[0] - first.start) // 60)
    in_minute = [t for t in first.times if int((t - first.start) // 60) == minute]
    step = 60 / len(in_minute)
    assert in_minute[0] - (first.start + minute * 60) == pytest.approx(step / 2)


@needs_traces
def test_azure_llm_reads_both_services_with_exact_arrivals() -> None:
    code, conv = read_azure_llm(SHARED / "azure_llm_2023", limit=200)
    assert (code.name, conv.name) == ("code", "conv")
    assert len(code.times) == len(conv.times) == 200
    assert code.times[0] == pytest.approx(datetime(2023, 11, 16, 18, 17, 3, 979960, tzinfo=timezone.utc).timestamp())


@needs_traces
def test_servegen_spreads_each_window_and_keeps_censored_windows_empty() -> None:
    path = SHARED / "servegen_alibaba" / "language_m-large" / "chunk-73-trace.csv"
    [stream] = read_servegen(path, per_window=60)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    expected = sum(min(round(float(row[1]) * 600), 60) for row in rows)
    assert len(stream.times) == expected
    assert stream.end - stream.start == len(rows) * 600 == 14 * 86400
    assert stream.start == SERVEGEN_DAY
    quiet = next(float(row[0]) for row in rows if float(row[1]) == 0)
    assert not [t for t in stream.times if quiet <= t - SERVEGEN_DAY < quiet + 600]


def test_the_ledger_replays_what_it_recorded(ledger: Ledger) -> None:
    ref = EndpointRef("acme", "phi")
    other = EndpointRef("acme", "other")
    ledger.record_requests(
        [RequestRecord(ref, T0 + timedelta(minutes=m)) for m in (1, 5, 40)] + [RequestRecord(other, T0)]
    )
    stream = from_ledger(ledger, ref, T0, T0 + timedelta(hours=1))
    assert [t - T0.timestamp() for t in stream.times] == [60.0, 300.0, 2400.0]
    assert stream.end == (T0 + timedelta(hours=1)).timestamp()
    with pytest.raises(ConfigError, match="no requests recorded for acme/phi"):
        from_ledger(ledger, ref, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
