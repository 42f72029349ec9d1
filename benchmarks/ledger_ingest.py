"""Ledger ingest: request rows per second written by 1 and 8 processes, SQLite and PostgreSQL.

Three ways to write the same finished requests, in batches as the recorder flushes them (500 rows, or what has
queued in 200 ms), each in its own transaction:

- ``orm``: :meth:`Ledger.record_requests` (SQLAlchemy insert with ordered RETURNING, the path before issue 12);
- ``bulk``: :meth:`Ledger.append_requests` (plain tuples, ``executemany`` on SQLite, ``COPY`` on PostgreSQL),
  what the recorder now uses for finished requests;
- ``raw`` (SQLite, 1 process): sqlite3's own ``executemany`` of prepared tuples, the ceiling;
- ``bulk_busy`` (SQLite, 8 processes): ``bulk`` without the writer queue (``flock``), the writers waiting in
  SQLite's busy handler instead.

One process: the variants alternate in blocks on one ledger. Eight processes (spawned, the ledger opened, then
released together): each writes its share; rows/s is all rows over the time from release to the last commit, and
the ``orm``/``bulk`` runs alternate. PostgreSQL runs when ``EPMGR_BENCH_PG_URL`` (or ``EPMGR_TEST_PG_URL``) names a
database that may be wiped.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.harness import interleave
from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.ledger import Ledger, make_engine, open_ledger
from epmgr.ledger.ingest import sqlite_time

NAME = "ledger_ingest"
TITLE = "Ledger ingest: request rows/s, 1 and 8 processes, SQLite and PostgreSQL"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
BATCH = 500
GOAL = 20_000


def records(n: int, worker: int = 0) -> list[RequestRecord]:
    ref = EndpointRef("bench", f"ep-{worker % 4}")
    return [
        RequestRecord(ref, T0 + timedelta(milliseconds=i), T0 + timedelta(milliseconds=i + 5), 200,
                      timedelta(milliseconds=5), "bench", 12, 40)
        for i in range(n)
    ]  # fmt: skip


def _write(ledger: Ledger, way: str, rows: list[RequestRecord], batch: int) -> None:
    if way == "bulk_busy":
        ledger.writers.path = None
    write = ledger.record_requests if way == "orm" else ledger.append_requests
    for i in range(0, len(rows), batch):
        write(rows[i : i + batch])


def _worker(url: str, way: str, worker: int, n: int, batch: int, go: Any, done: Any) -> None:
    ledger = open_ledger(url)
    rows = records(n, worker)
    ledger.append_requests(rows[:1])  # the endpoint exists before the clock starts
    done.put(("ready", 0.0))
    go.wait()
    _write(ledger, way, rows, batch)
    done.put(("done", time.monotonic()))
    ledger.close()


def processes(url: str, way: str, count: int, each: int, batch: int = BATCH) -> float:
    """Rows/s of ``count`` processes writing ``each`` rows each, released together."""
    context = multiprocessing.get_context("spawn")
    go, done = context.Event(), context.Queue()
    procs = [context.Process(target=_worker, args=(url, way, w, each, batch, go, done)) for w in range(count)]
    for proc in procs:
        proc.start()
    for _ in procs:
        done.get(timeout=120)
    started = time.monotonic()
    go.set()
    ends = [done.get(timeout=600)[1] for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise RuntimeError(f"a writer process failed (exit {proc.exitcode})")
    return float(count * each / (max(ends) - started))


def one_process(url: str, n: int, blocks: int, *, raw: str | None = None) -> dict[str, float]:
    """Rows/s of each way in one process, in alternating blocks of ``n`` rows."""
    ledger = open_ledger(url)
    rows = records(n)
    ledger.append_requests(rows[:1])
    variants = {"orm": lambda: _write(ledger, "orm", rows, BATCH), "bulk": lambda: _write(ledger, "bulk", rows, BATCH)}
    if raw is not None:
        connection = sqlite3.connect(raw, isolation_level=None, timeout=60)
        connection.execute("PRAGMA synchronous=NORMAL")
        plain = [
            (1, sqlite_time(r.started_at), sqlite_time(r.finished_at), 200, 5000, "bench", 12, 40) for r in rows
        ]  # the endpoint's id is 1: written first above

        def raw_write() -> None:
            for i in range(0, n, BATCH):
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany("INSERT INTO requests (endpoint_id, started_at, finished_at, status_code, "
                                       "latency_us, client_id, tokens_in, tokens_out) VALUES (?,?,?,?,?,?,?,?)",
                                       plain[i : i + BATCH])  # fmt: skip
                connection.execute("COMMIT")

        variants["raw"] = raw_write
    timed = interleave(variants, blocks, 1)
    ledger.close()
    return {way: n * blocks / timed.total(way) for way in variants}


def _wipe_pg(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def engine_figures(
    url: str, n: int, blocks: int, each: int, rounds: int, raw: str | None, count: int
) -> dict[str, float]:
    out = {f"one_{k}": v for k, v in one_process(url, n, blocks, raw=raw).items()}
    ways = ["orm", "bulk", "bulk_busy"] if raw is not None else ["orm", "bulk"]
    eight: dict[str, list[float]] = {way: [] for way in ways}
    for r in range(rounds):  # rotate which way goes first
        for way in ways[r % len(ways) :] + ways[: r % len(ways)]:
            eight[way].append(processes(url, way, count, each))
    for way, values in eight.items():
        out[f"eight_{way}"] = sorted(values)[len(values) // 2]
    out["eight_over_one_bulk"] = out["eight_bulk"] / out["one_bulk"]
    out["bulk_over_orm_eight"] = out["eight_bulk"] / out["eight_orm"]
    return out


def run(quick: bool = False) -> dict[str, Any]:
    n, blocks, each, rounds, count = (1000, 2, 500, 1, 2) if quick else (5_000, 4, 5_000, 3, 8)
    out: dict[str, Any] = {"batch": BATCH, "rows_one": n * blocks, "rows_eight": count * each, "goal": GOAL}
    out["processes"] = count
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ingest.db"
        out["sqlite"] = engine_figures(f"sqlite:///{path}", n, blocks, each, rounds, raw=str(path), count=count)
    pg = os.environ.get("EPMGR_BENCH_PG_URL") or os.environ.get("EPMGR_TEST_PG_URL")
    if pg:
        _wipe_pg(pg)
        out["postgresql"] = engine_figures(pg, n, blocks, each, rounds, raw=None, count=count)
        _wipe_pg(pg)
    return out


def table(f: dict[str, Any]) -> str:
    lines = [
        f"| engine | way | 1 process | {f['processes']} processes | {f['processes']} / 1 | "
        f"goal ({f['processes']} processes) >= {f['goal']:,} rows/s |",
        "|---|---|---|---|---|---|",
    ]
    for engine in ("sqlite", "postgresql"):
        if engine not in f:
            lines.append(f"| {engine} | (not run: set EPMGR_BENCH_PG_URL) | | | | |")
            continue
        e = f[engine]
        for way in ("orm", "bulk"):
            eight = e[f"eight_{way}"]
            verdict = "met" if eight >= f["goal"] else "missed"
            lines.append(
                f"| {engine} | `{way}` | {e[f'one_{way}']:,.0f}/s | {eight:,.0f}/s | "
                f"{eight / e[f'one_{way}']:.2f}x | {verdict} |"
            )
        if "eight_bulk_busy" in e:
            lines.append(
                f"| {engine} | `bulk` without the writer queue | | {e['eight_bulk_busy']:,.0f}/s | "
                f"{e['eight_bulk_busy'] / e['one_bulk']:.2f}x | |"
            )
        if "one_raw" in e:
            lines.append(f"| {engine} | raw sqlite3 (ceiling) | {e['one_raw']:,.0f}/s | | | |")
    lines.append(
        f"\nBatches of {f['batch']} rows per transaction; {f['rows_one']:,} rows per way in one process (alternating "
        f"blocks), {f['rows_eight']:,} rows from {f['processes']} processes (median of the runs, ways alternating)."
    )
    return "\n".join(lines)
