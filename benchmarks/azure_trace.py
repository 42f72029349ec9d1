"""The Azure Functions 2019 8-hour sample, read in place from ../shared/traces (never copied into the repo).

The reader itself is :func:`epmgr.simulate.traces.azure_function_counts` (also behind ``epmgr simulate
--trace-format azure-functions-2019``); this module only names the file and keeps the benchmarks' shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from epmgr.simulate.traces import azure_function_counts

TRACE = Path(__file__).resolve().parents[2] / "shared/traces/azure_functions_2019_invitro/window8h_500/invocations.csv"
MINUTES = 480  # columns "480" ... "959": 07:59-15:59 of one trace day


def available() -> bool:
    return TRACE.exists()


def http_function_counts() -> Iterator[list[int]]:
    """Per-minute invocation counts of each http-triggered function, in file order."""
    for _name, _first, counts in azure_function_counts(TRACE, "http"):
        yield counts
