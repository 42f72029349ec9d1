"""Every policy on every stream: the runs summed per policy, with the figures ``epmgr simulate`` reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from epmgr.simulate.billing import Run, percentile
from epmgr.simulate.engine import Params, simulate
from epmgr.simulate.oracle import oracle
from epmgr.simulate.specs import Spec
from epmgr.simulate.traces import Stream


@dataclass(frozen=True)
class Row:
    """One policy's figures over every stream."""

    policy: str
    run: Run
    usd: float
    ratio_to_oracle: float | None

    def as_json(self) -> dict[str, Any]:
        run = self.run
        return {
            "policy": self.policy,
            "usd": round(self.usd, 4),
            "replica_hours": round(run.replica_hours, 4),
            "cold_starts": run.cold_starts,
            "requests": run.requests,
            "requests_waited": len(run.waits),
            "requests_refused": run.refused,
            "waited_p50_s": round(percentile(run.waits, 0.5), 3),
            "waited_p99_s": round(percentile(run.waits, 0.99), 3),
            "ratio_to_oracle": None if self.ratio_to_oracle is None else round(self.ratio_to_oracle, 4),
            "decisions": run.decisions,
        }


def run_spec(spec: Spec, streams: Sequence[Stream], params: Params, *, keep: bool = False) -> Run:
    """One spec summed over every stream (stretches and actions kept for the first stream when ``keep``)."""
    total = Run(spec.text)
    own = params if spec.tick is None else replace(params, tick=spec.tick.total_seconds())
    for index, stream in enumerate(streams):
        first = keep and index == 0
        if spec.policy is None:
            one = oracle(stream, params.startup, keep=first)
        else:
            one = simulate(spec.policy, stream, own, label=spec.text, keep=first)
        total.add(one)
    return total


def evaluate(specs: Sequence[Spec], streams: Sequence[Stream], params: Params, *, keep: bool = False) -> list[Row]:
    """A row per spec; the ratio is to the oracle's cost on the same streams."""
    runs = [run_spec(spec, streams, params, keep=keep) for spec in specs]
    best = next((r for s, r in zip(specs, runs, strict=True) if s.policy is None), None)
    if best is None:
        best = run_spec(Spec("oracle", None), streams, params)
    floor = best.usd(params.price_per_hour)
    rows = []
    for spec, run in zip(specs, runs, strict=True):
        usd = run.usd(params.price_per_hour)
        rows.append(Row(spec.text, run, usd, usd / floor if floor > 0 else None))
    return rows
