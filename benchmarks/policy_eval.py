"""Every policy on every trace, through ``epmgr simulate``'s engine: cost as a ratio to the oracle, and cold starts.

Traces: the Azure Functions 2019 http functions (8 h, one endpoint each; skipped when shared/traces is absent) and
each kind of :mod:`benchmarks.traffic` (14 days; seeds 1-3, which the adaptive keep-alive was tuned on; seeds 4-15,
held out, each set first run after a change and looked at for the next: 4-6 in the second round, then 7-9, 10-12,
13-15 (fresh in the second round's last run, looked at for the cold-start bank); seeds 16-18, fresh: run once, after
the bank's last change). Billing: $1 per replica-hour,
start-up billed 4 min, requests wait 4 min for a start, decisions every minute. Also the simulator's speed: a month
of one endpoint at 1 request/s.

Run: ``python -m benchmarks.policy_eval`` (prints a Markdown table for docs/benchmarks.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import traffic
from benchmarks.azure_trace import TRACE
from epmgr.simulate.engine import Params
from epmgr.simulate.evaluate import Row, evaluate, run_spec
from epmgr.simulate.specs import parse
from epmgr.simulate.traces import Stream, read_azure_functions

POLICIES = ("always-on", "fixed:5m", "fixed:15m", "fixed:60m", "two-stage:15m,6h", "adaptive", "oracle")
SEEDS = (1, 2, 3)
HELD_OUT = tuple(range(4, 16))
"""Seeds not used while tuning the adaptive keep-alive, each set first run after a change (then looked at)."""
FRESH = (16, 17, 18)
"""Seeds never looked at while tuning: run once, after the cold-start bank's last change."""
DAYS = 14
PARAMS = Params(price_per_hour=1.0, startup=240.0, latency=240.0, tick=60.0)


def traces() -> list[tuple[str, list[Stream]]]:
    """(name, streams) of every trace evaluated."""
    found: list[tuple[str, list[Stream]]] = []
    if Path(TRACE).exists():
        streams = [s for s in read_azure_functions(Path(TRACE)) if s.times]
        found.append((f"Azure Functions 2019 http, {len(streams)} streams, 8 h", streams))
    for name, make in traffic.KINDS.items():
        for seed in (*SEEDS, *HELD_OUT, *FRESH):
            held = ", held out" if seed in HELD_OUT else ", fresh" if seed in FRESH else ""
            found.append((f"{name} (seed {seed}{held}, {DAYS} d)", [make(seed, DAYS)]))
    return found


def evaluate_all(policies: Sequence[str] = POLICIES) -> list[tuple[str, list[Row]]]:
    specs = [parse(p) for p in policies]
    return [(name, evaluate(specs, streams, PARAMS)) for name, streams in traces()]


def markdown(results: Sequence[tuple[str, Sequence[Row]]]) -> str:
    """One row per trace, one column per policy: ``ratio to the oracle / cold starts``."""
    if not results:
        return ""
    names = [row.policy for row in results[0][1]]
    lines = [f"| traffic | {' | '.join(f'`{n}`' for n in names)} | adaptive beats fixed:15m |"]
    lines.append("|---" * (len(names) + 2) + "|")
    for trace, rows in results:
        by = {row.policy: row for row in rows}
        cells = [f"{row.ratio_to_oracle or 0:.2f}x / {row.run.cold_starts}" for row in rows]
        verdict = ""
        if "adaptive" in by and "fixed:15m" in by:
            a, f = by["adaptive"], by["fixed:15m"]
            cheaper, fewer = a.usd < f.usd, a.run.cold_starts <= f.run.cold_starts
            verdict = "yes" if cheaper and fewer else f"no ({'cost' if not cheaper else 'cold starts'})"
        lines.append(f"| {trace} | {' | '.join(cells)} | {verdict} |")
    return "\n".join(lines)


def speed(days: int = 30, per_second: float = 1.0) -> dict[str, float]:
    """Seconds to simulate a month of one endpoint at 1 request/s, per policy (the trace generated beforehand)."""
    stream = traffic.steady(1, days, per_second)
    out: dict[str, float] = {"requests": float(len(stream.times))}
    for policy in ("fixed:15m", "adaptive", "oracle"):
        started = time.perf_counter()
        run_spec(parse(policy), [stream], PARAMS)
        out[policy] = time.perf_counter() - started
    return out


def main() -> None:
    print(markdown(evaluate_all()))
    figures = speed()
    print(
        f"\nsimulator speed: {figures['requests']:,.0f} requests (30 days at 1/s): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in figures.items() if name != "requests")
    )


if __name__ == "__main__":
    main()
