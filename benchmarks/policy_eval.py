"""Every policy on every trace, through ``epmgr simulate``'s engine: cost as a ratio to the oracle, and cold starts.

Traces: the Azure Functions 2019 http functions (8 h, one endpoint each; skipped when shared/traces is absent) and
each kind of :mod:`benchmarks.traffic` (14 days; seeds 1-3, which the adaptive keep-alive was tuned on; seeds 4-30,
held out, each set first run after a change and looked at for the next: 4-6 in the second round, then 7-9, 10-12,
13-15 (looked at for the cold-start bank), 16-18 (fresh after the bank, looked at for its repay), 19-30 (run before
and after the repay and the day map's any-day comparison, looked at to choose between them); seeds 31-36, fresh: run
once, after this round's last change). Billing: $1 per replica-hour,
start-up billed 4 min, requests wait 4 min for a start, decisions every minute. Also the simulator's speed: a month
of one endpoint at 1 request/s.

Run: ``python -m benchmarks.policy_eval`` (prints a Markdown table for docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
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
HELD_OUT = tuple(range(4, 31))
"""Seeds not used while tuning the adaptive keep-alive, each set first run after a change (then looked at)."""
FRESH = tuple(range(31, 37))
"""Seeds never looked at while tuning: run once, after this round's last change (the bank's repay)."""
DAYS = 14
PARAMS = Params(price_per_hour=1.0, startup=240.0, latency=240.0, tick=60.0)


def group(seed: int) -> str:
    return "tuned" if seed in SEEDS else "held out" if seed in HELD_OUT else "fresh"


def traces(seeds: Sequence[int] | None = None) -> list[tuple[str, str, int | None]]:
    """(name, kind, seed) of every trace evaluated (kind ``azure`` and no seed: the Azure sample, only with the
    default seeds)."""
    found: list[tuple[str, str, int | None]] = []
    if seeds is None and Path(TRACE).exists():
        found.append(("Azure Functions 2019 http, 8 h", "azure", None))
    for name in traffic.KINDS:
        for seed in seeds if seeds is not None else (*SEEDS, *HELD_OUT, *FRESH):
            held = "" if seed in SEEDS else f", {group(seed)}"
            found.append((f"{name} (seed {seed}{held}, {DAYS} d)", name, seed))
    return found


def _streams(kind: str, seed: int | None) -> list[Stream]:
    if seed is None:
        return [s for s in read_azure_functions(Path(TRACE)) if s.times]
    return [traffic.KINDS[kind](seed, DAYS)]


def _one(job: tuple[str, str, int | None, Sequence[str]]) -> tuple[str, list[Row]]:
    name, kind, seed, policies = job
    return name, evaluate([parse(p) for p in policies], _streams(kind, seed), PARAMS)


def evaluate_all(
    policies: Sequence[str] = POLICIES, processes: int | None = None, seeds: Sequence[int] | None = None
) -> list[tuple[str, list[Row]]]:
    """Every policy on every trace, one process per core (the traces are independent)."""
    jobs = [(name, kind, seed, tuple(policies)) for name, kind, seed in traces(seeds)]
    with multiprocessing.Pool(processes or os.cpu_count() or 1) as pool:
        return pool.map(_one, jobs, chunksize=1)


def miss(rows: Sequence[Row]) -> str | None:
    """Why ``adaptive`` fails the issue's acceptance test (cheaper than ``fixed:15m`` with no more cold starts); None
    when it passes."""
    by = {row.policy: row for row in rows}
    a, f = by["adaptive"], by["fixed:15m"]
    if a.usd < f.usd and a.run.cold_starts <= f.run.cold_starts:
        return None
    more = a.run.cold_starts - f.run.cold_starts
    if more > 0:
        return f"{more} cold start{'s' if more > 1 else ''} more"
    return "a tie" if round(a.usd, 2) == round(f.usd, 2) else f"dearer by ${a.usd - f.usd:.2f}"


def verdict(rows: Sequence[Row]) -> str:
    """The acceptance test's cell: ``yes`` or ``no (why)``."""
    why = miss(rows)
    return "yes" if why is None else f"no ({why})"


def summary(results: Sequence[tuple[str, Sequence[Row]]], chosen: Sequence[int] | None = None) -> str:
    """Per kind and seed group: traces passed, the summed cost as a ratio to the oracle, the misses."""
    evaluated = traces(chosen)
    kinds = {name: kind for name, kind, _ in evaluated}
    seeds = {name: seed for name, _, seed in evaluated}
    lines = [
        "| traffic | seeds | pass | `fixed:15m` | `adaptive` | cold starts (adaptive - fixed) | misses |",
        "|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[tuple[str, Sequence[Row]]]] = {}
    for name, rows in results:
        seed = seeds[name]
        key = (kinds[name], "" if seed is None else group(seed))
        groups.setdefault(key, []).append((name, rows))
    for (kind, label), members in groups.items():
        by = [{row.policy: row for row in rows} for _, rows in members]
        oracle = sum(b["oracle"].usd for b in by)
        fixed, adaptive = sum(b["fixed:15m"].usd for b in by), sum(b["adaptive"].usd for b in by)
        cold = sum(b["adaptive"].run.cold_starts - b["fixed:15m"].run.cold_starts for b in by)
        whys = [(seeds[name], miss(rows)) for name, rows in members]
        passed = sum(why is None for _, why in whys)
        misses = [f"{seed}: {why}" for seed, why in whys if why is not None]
        numbers = [seeds[name] for name, _ in members]
        span = "" if numbers[0] is None else f"{label} {numbers[0]}-{numbers[-1]}"
        lines.append(
            f"| {kind} | {span} | {passed} / {len(members)} | {fixed / oracle:.3f}x | {adaptive / oracle:.3f}x | "
            f"{cold:+d} | {'; '.join(misses) or '-'} |"
        )
    return "\n".join(lines)


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
        judged = verdict(rows) if "adaptive" in by and "fixed:15m" in by else ""
        lines.append(f"| {trace} | {' | '.join(cells)} | {judged} |")
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


def _seed_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    try:
        low, high = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds such as 37-60, got {text!r}") from None
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected seeds such as 37-60, got {text!r}")
    return list(range(low, high + 1))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.policy_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=_seed_range, help="only these seeds of each kind, e.g. 37-60 (no Azure sample)")
    parser.add_argument(
        "--policy", action="append", help=f"a policy to run (repeatable; default: {', '.join(POLICIES)})"
    )
    args = parser.parse_args(argv)
    policies = args.policy or list(POLICIES)
    for needed in ("fixed:15m", "adaptive", "oracle"):
        if needed not in policies:
            parser.error(f"--policy {needed} is needed for the verdict and the ratios")
    results = evaluate_all(policies, seeds=args.seeds)
    print(summary(results, args.seeds))
    print()
    print(markdown(results))
    if args.seeds is None:
        figures = speed()
        print(
            f"\nsimulator speed: {figures['requests']:,.0f} requests (30 days at 1/s): "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in figures.items() if name != "requests")
        )


if __name__ == "__main__":
    main()
