"""Request traces for ``epmgr simulate``: one or more streams of request times, read from files or the ledger.

A :class:`Stream` is one endpoint's traffic: sorted request times in epoch seconds (floats, for speed) and the window
``[start, end]`` it covers. Loaders (every one reads in place; nothing is copied):

- :func:`read_csv`: any CSV with a ``timestamp`` column (ISO-8601, naive means UTC, or epoch seconds), one request
  a row; an optional ``endpoint`` column splits it into one stream per value.
- :func:`read_azure_functions`: Azure Functions 2019 per-minute counts (``invocations.csv``), one stream per function
  of a trigger; the ``c`` requests of a minute are spread evenly over it (deterministic).
- :func:`read_azure_llm`: the Azure LLM inference trace 2023 (``TIMESTAMP`` column), one stream per file.
- :func:`read_servegen`: ServeGen per-client 10-minute windows; ``rate * 600`` requests spread evenly over each
  window, at most ``per_window`` of them (windows below 10 requests are censored to 0 upstream: they stay empty).
- :func:`from_ledger`: the requests the ledger recorded for one endpoint.

Bad input raises :class:`~epmgr.errors.ConfigError` naming the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from epmgr.domain.model import EndpointRef
from epmgr.errors import ConfigError
from epmgr.ledger import Ledger

FORMATS = ("csv", "azure-functions-2019", "azure-llm-2023", "servegen")
AZURE_DAY = datetime(2019, 7, 1, tzinfo=timezone.utc).timestamp()
"""Azure 2019 does not say which day its minutes belong to: they are placed on 2019-07-01 (a Monday), UTC."""
SERVEGEN_DAY = datetime(2025, 1, 6, tzinfo=timezone.utc).timestamp()
"""ServeGen counts seconds from 00:00 of an undated first day: placed on 2025-01-06 (a Monday), UTC."""
SERVEGEN_WINDOW = 600.0


@dataclass(frozen=True)
class Stream:
    """One endpoint's requests: sorted epoch seconds within ``[start, end]``."""

    name: str
    times: Sequence[float]
    start: float
    end: float

    @classmethod
    def of(cls, name: str, times: Iterable[float], start: float | None = None, end: float | None = None) -> Stream:
        ordered = sorted(times)
        first = ordered[0] if ordered else 0.0
        last = ordered[-1] if ordered else first
        return cls(name, ordered, first if start is None else start, last if end is None else end)


def parse_time(text: str) -> float:
    """Epoch seconds from ISO-8601 (naive means UTC; any number of fraction digits) or from epoch seconds.

    Example:
        >>> parse_time("1970-01-01T00:01:00Z"), parse_time("60.5")
        (60.0, 60.5)
    """
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    head, dot, tail = text.partition(".")
    if dot:  # Python's fromisoformat wants at most 6 fraction digits (Azure LLM has 7)
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[: min(digits, 6)] + tail[digits:]
        text = f"{head}.{tail}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header, with the file named in every error."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the trace ({exc.strerror or exc})", source=str(path)) from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"not a CSV file ({exc})", source=str(path), line=reader.line_num) from None


def read_csv(path: Path, column: str = "timestamp") -> list[Stream]:
    """Streams from a CSV with a ``timestamp`` column (any case), split by an ``endpoint`` column if there is one."""
    by_stream: dict[str, list[float]] = {}
    found: str | None = None
    split: str | None = None
    for line, row in _rows(path):
        if found is None:
            names = {name.strip().lower(): name for name in row if name}
            if column not in names:
                shown = ", ".join(sorted(names)) or "none"
                raise ConfigError(f"no {column!r} column (columns: {shown})", source=str(path), line=1)
            found = names[column]
            split = names.get("endpoint")
        value = row.get(found) or ""
        try:
            moment = parse_time(value)
        except ValueError:
            raise ConfigError(
                f"bad timestamp {value!r} (expected ISO-8601 or epoch seconds)", source=str(path), line=line
            ) from None
        key = (row.get(split) or "").strip() if split else ""
        by_stream.setdefault(key or path.stem, []).append(moment)
    if found is None:
        raise ConfigError(
            f"no requests in it (expected a header with a {column!r} column, then a row a request)", source=str(path)
        )
    return [Stream.of(name, times) for name, times in by_stream.items()]


def _spread(base: float, width: float, count: int) -> Iterator[float]:
    """``count`` moments spread evenly over ``[base, base + width)``, each in the middle of its share."""
    step = width / count
    return (base + (k + 0.5) * step for k in range(count))


def azure_function_counts(path: Path, trigger: str | None = "http") -> Iterator[tuple[str, int, list[int]]]:
    """(function hash, first minute label, per-minute counts) of each function of ``trigger`` (None: all)."""
    for line, row in _rows(path):
        if trigger is not None and row.get("Trigger") != trigger:
            continue
        minutes = sorted(int(key) for key in row if key and key.isdigit())
        if not minutes:
            raise ConfigError("no minute columns (expected 480, 481, ...)", source=str(path), line=line)
        try:
            counts = [int(row[str(minute)]) for minute in minutes]
        except ValueError:
            raise ConfigError("a minute count is not a whole number", source=str(path), line=line) from None
        yield row.get("HashFunction", f"line{line}"), minutes[0], counts


def read_azure_functions(path: Path, trigger: str | None = "http", limit: int | None = None) -> list[Stream]:
    """One stream per function: minute label ``m`` covers ``(m-1, m]`` minutes after 00:00 of the trace day."""
    streams = []
    for name, first, counts in azure_function_counts(_file(path, "invocations.csv"), trigger):
        origin = AZURE_DAY + (first - 1) * 60.0
        times = [t for minute, count in enumerate(counts) if count for t in _spread(origin + minute * 60, 60, count)]
        streams.append(Stream(name[:12], times, origin, origin + len(counts) * 60.0))
        if limit is not None and len(streams) >= limit:
            break
    return streams


def read_azure_llm(path: Path, limit: int | None = None) -> list[Stream]:
    """One stream per file (``code``, ``conv``): a folder reads both. ``limit`` keeps the first rows of each."""
    files = sorted(path.glob("AzureLLMInferenceTrace_*.csv")) if path.is_dir() else [path]
    streams = []
    for file in files:
        times = []
        for line, row in _rows(file):
            value = row.get("TIMESTAMP")
            if value is None:
                raise ConfigError("no 'TIMESTAMP' column", source=str(file), line=1)
            try:
                times.append(parse_time(value))
            except ValueError:
                raise ConfigError(f"bad TIMESTAMP {value!r}", source=str(file), line=line) from None
            if limit is not None and len(times) >= limit:
                break
        streams.append(Stream.of(file.stem.rsplit("_", 1)[-1], times))
    return streams


def read_servegen(path: Path, per_window: int = 60, limit: int | None = None) -> list[Stream]:
    """One stream per client file (``chunk-<client>-trace.csv``, no header); a folder reads every client in it.

    ``rate * 600`` requests per window, spread evenly, capped at ``per_window`` (60: one every 10 s; the cap keeps
    14 days of a busy client small and changes no gap longer than 10 s).
    """
    files = sorted(path.glob("chunk-*-trace.csv"), key=_client) if path.is_dir() else [path]
    streams = []
    for file in files[:limit]:
        times: list[float] = []
        windows = 0
        try:
            handle = file.open(newline="", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the trace ({exc.strerror or exc})", source=str(file)) from None
        with handle:
            for line, row in enumerate(csv.reader(handle), start=1):
                try:
                    base, rate = float(row[0]), float(row[1])
                except (ValueError, IndexError):
                    raise ConfigError("expected window_start_s,rate,...", source=str(file), line=line) from None
                count = min(round(rate * SERVEGEN_WINDOW), per_window)
                if count:
                    times.extend(_spread(SERVEGEN_DAY + base, SERVEGEN_WINDOW, count))
                windows = line
        streams.append(Stream(f"client-{_client(file)}", times, SERVEGEN_DAY, SERVEGEN_DAY + windows * SERVEGEN_WINDOW))
    return streams


def _client(file: Path) -> int:
    middle = file.stem.removeprefix("chunk-").removesuffix("-trace")
    return int(middle) if middle.isdigit() else -1


def _file(path: Path, name: str) -> Path:
    return path / name if path.is_dir() else path


def load(path: Path, trace_format: str = "csv", *, limit: int | None = None) -> list[Stream]:
    """The streams of a trace file (or folder) in one of :data:`FORMATS`."""
    if not path.exists():
        raise ConfigError("no such file or folder", source=str(path))
    if trace_format == "csv":
        return read_csv(path)
    if trace_format == "azure-functions-2019":
        return read_azure_functions(path, limit=limit)
    if trace_format == "azure-llm-2023":
        return read_azure_llm(path, limit=limit)
    if trace_format == "servegen":
        return read_servegen(path, limit=limit)
    raise ConfigError(f"unknown trace format {trace_format!r} (expected one of {', '.join(FORMATS)})")


def from_ledger(ledger: Ledger, ref: EndpointRef, since: datetime, until: datetime) -> Stream:
    """The requests the ledger recorded for ``ref`` in ``[since, until)``, over that whole window."""
    times = [r.started_at.timestamp() for r in ledger.requests(ref, since=since, until=until)]
    if not times:
        raise ConfigError(f"no requests recorded for {ref} since {since.isoformat(timespec='minutes')}")
    return Stream(str(ref), times, times[0], until.timestamp())
