"""The simulator's speed: a month (30 days) of one endpoint at 1 request/s through ``epmgr simulate``'s engine.

The requests are generated beforehand; each policy is simulated event-driven with 1-minute ticks
(:func:`benchmarks.policy_eval.speed`). The figure is requests per second of simulation, per policy.
"""

from __future__ import annotations

from typing import Any

NAME = "simulator_speed"
TITLE = "Simulator speed: a month of one endpoint at 1 request/s, per policy"


def run(quick: bool = False) -> dict[str, Any]:
    from benchmarks.policy_eval import speed

    days = 1 if quick else 30
    figures = speed(days=days)
    return {"days": days, "requests": figures.pop("requests"), "seconds": figures}


def table(f: dict[str, Any]) -> str:
    policies = list(f["seconds"])
    lines = [
        f"| requests ({f['days']} days at 1/s) | {' | '.join(f'`{p}`' for p in policies)} | goal |",
        "|---" * (len(policies) + 2) + "|",
        f"| {f['requests']:,.0f} | "
        + " | ".join(f"{s:.1f} s ({f['requests'] / s:,.0f} requests/s)" for s in f["seconds"].values())
        + " | a month in a few seconds |",
    ]
    return "\n".join(lines)
