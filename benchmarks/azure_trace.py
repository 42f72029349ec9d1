"""The Azure Functions 2019 8-hour sample, read in place from ../shared/traces (never copied into the repo)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

TRACE = Path(__file__).resolve().parents[2] / "shared/traces/azure_functions_2019_invitro/window8h_500/invocations.csv"
MINUTES = 480  # columns "480" ... "959": 07:59-15:59 of one trace day
FIRST_COLUMN = 480


def available() -> bool:
    return TRACE.exists()


def http_function_counts() -> Iterator[list[int]]:
    """Per-minute invocation counts of each http-triggered function, in file order."""
    with TRACE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Trigger"] == "http":
                yield [int(row[str(FIRST_COLUMN + m)]) for m in range(MINUTES)]
