"""Savings on real traffic: Azure Functions 2019 http functions replayed as endpoint requests (shared/traces).

Each http function of the 8-hour sample is taken as one endpoint's traffic (requests placed at the start of their
minute, as the data is per minute). For each, the always-on cost and HF's own scale to zero (15 min, 1 h; a 4 min
cold start) are computed with epmgr's billing model on an L4 price. The traces are read in place, never copied.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from benchmarks.azure_trace import available, http_function_counts
from epmgr.domain.savings import always_on, hf_scale_to_zero

NAME = "cost_savings_traces"
TITLE = "Savings on real traffic: Azure Functions 2019 http functions, always on vs HF's scale to zero"
PRICE = Decimal("0.8")  # aws nvidia-l4 x1, USD per replica-hour
T0 = datetime(2019, 7, 1, tzinfo=timezone.utc)


def run(quick: bool = False) -> dict[str, float]:
    """Sum over the http functions (``quick``: the first 10); empty when the traces are not on this machine."""
    if not available():
        return {}
    end = T0 + timedelta(minutes=480)
    totals = {"always_on": Decimal(0), "s2z_15m": Decimal(0), "s2z_1h": Decimal(0)}
    functions = 0
    for counts in http_function_counts():
        if quick and functions == 10:
            break
        functions += 1
        arrivals = [T0 + timedelta(minutes=m) for m, count in enumerate(counts) if count]
        totals["always_on"] += always_on(T0, end, 1, PRICE).usd
        for key, timeout in (("s2z_15m", 15), ("s2z_1h", 60)):
            baseline = hf_scale_to_zero(arrivals, T0, end, timeout=timedelta(minutes=timeout), price_per_hour=PRICE)
            totals[key] += baseline.spend.usd
    return {"functions": functions, **{k: float(v) for k, v in totals.items()}}


def table(f: dict[str, float]) -> str:
    if not f:
        return "(not run: shared/traces is not on this machine)"

    def cell(key: str) -> str:
        return f"${f[key]:,.2f} ({f[key] / f['always_on'] - 1:+.0%})"

    return "\n".join(
        [
            "| http functions | always on | HF scale to zero after 15m | after 1h |",
            "|---|---|---|---|",
            f"| {f['functions']:.0f} | ${f['always_on']:,.2f} | {cell('s2z_15m')} | {cell('s2z_1h')} |",
        ]
    )
