"""Demo chapter: what epmgr is for. A simulated week of the demo's endpoints, replayed through the daemon's policies.

Seeded traffic (:mod:`epmgr.simulate.traffic`: an office's working hours, a nightly batch, a developer at random
hours) is written to ``.demo/week/*.csv`` and each endpoint's week goes through ``epmgr simulate`` at its catalog
price, with HF's real start-up (4 min, billed): always on, HF's 15-minute and 1-hour scale to zero, and epmgr's
policies (two-stage idle, the adaptive keep-alive, and the production ``epmgr.toml`` the demo would deploy).
Every figure shown comes from the simulator's JSON, next to the command that prints it; the totals add the three
runs up, and :func:`headline` says what they mean in one paragraph. Run last by scripts/demo.py as
``chapter(env, say)``; it needs neither the emulator nor the ledger.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from epmgr.catalog import lookup
from epmgr.simulate import traffic

SEED, DAYS, STARTUP = 1, 7, "4m"
EPMGR = str(Path(sys.executable).parent / "epmgr")


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str
    what: str
    compute: tuple[str, str, str, str]  # vendor, region, instance type, size: as the demo created it

    @property
    def price(self) -> str:
        instance = lookup(*self.compute)
        assert instance is not None, self.compute
        return f"{instance.price_per_hour.normalize():f}"


ENDPOINTS = (
    Endpoint("phi3-mini", "office_hours", "an office's assistant, weekdays 08:30-18:30 UTC",
             ("aws", "us-east-1", "nvidia-l4", "x1")),
    Endpoint("llama-8b", "nightly_batch", "a batch job cron starts every night at 02:00 UTC",
             ("aws", "us-east-1", "nvidia-a10g", "x1")),
    Endpoint("chat-demo", "sporadic_dev", "a developer's sandbox, a few sessions a day at random hours",
             ("aws", "us-east-1", "intel-spr", "x1")),
)  # fmt: skip

CONFIG = """# The demo's policies at production timings (the daemon chapter used seconds), for `epmgr simulate`.
[daemon]
interval = "1m"

[defaults]
scale_to_zero_after = "15m"   # no requests for 15 min: scale to zero (wakes on the next request)
pause_after = "6h"            # no requests for 6 h: pause (frees quota)
min_uptime = "5m"

[[endpoints]]
name = "phi3-mini"            # the office's assistant: learns the office's day, stops at once when it goes quiet
keep_alive = "adaptive"

[[endpoints]]
name = "llama-8b"             # the nightly batch: learns its period, stops after it, pre-warms before the next
keep_alive = "adaptive"

[[endpoints]]
name = "chat-demo"            # a developer's sandbox
keep_alive = "adaptive"
"""

CONFIG_POLICY = "epmgr.toml"
POLICIES: tuple[tuple[str, str], ...] = (
    ("always-on", "always on (huggingface_hub's create default)"),
    ("fixed:15m", "HF scale to zero after 15m (API default)"),
    ("fixed:60m", "HF scale to zero after 1h (web UI default)"),
    ("two-stage:15m,6h", "epmgr two-stage: zero at 15m, pause at 6h"),
    ("adaptive", "epmgr adaptive keep-alive"),
    (CONFIG_POLICY, "epmgr with the demo's epmgr.toml"),
    ("oracle", "offline optimum (nobody waits)"),
)
"""Spec (``epmgr.toml`` stands for ``config:FILE#ENDPOINT``) and label, in the order of the tables."""
EPMGR_POLICIES = ("two-stage:15m,6h", "adaptive", CONFIG_POLICY)


@dataclass(frozen=True)
class Total:
    """One policy's figures summed over the endpoints' runs."""

    usd: float
    cold_starts: int
    waited: int
    requests: int


def shown(path: Path) -> str:
    """The path as the commands show it: relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def simulate_args(endpoint: Endpoint, trace: str, config: str, html: str) -> list[str]:
    """``epmgr simulate`` arguments for one endpoint's week: every policy, JSON out, the HTML page too."""
    specs = [f"config:{config}#{endpoint.name}" if spec == CONFIG_POLICY else spec for spec, _ in POLICIES]
    return [
        "--json", "simulate", "--trace", trace, "--price-per-hour", endpoint.price, "--startup", STARTUP,
        *(arg for spec in specs for arg in ("--policy", spec)), "--html", html,
    ]  # fmt: skip


def totals(runs: Sequence[Sequence[Mapping[str, Any]]]) -> dict[str, Total]:
    """Each policy's rows summed over the runs (``epmgr simulate --json``, one list of rows per endpoint)."""
    by_spec = [{_spec(row["policy"]): row for row in run} for run in runs]
    summed = {}
    for spec, _ in POLICIES:
        rows = [run[spec] for run in by_spec]
        summed[spec] = Total(
            usd=round(sum(float(r["usd"]) for r in rows), 2),
            cold_starts=sum(int(r["cold_starts"]) for r in rows),
            waited=sum(int(r["requests_waited"]) for r in rows),
            requests=sum(int(r["requests"]) for r in rows),
        )
    return summed


def _spec(policy: str) -> str:
    return CONFIG_POLICY if policy.startswith("config:") else policy


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole > 0 else "-"


def headline(t: Mapping[str, Total]) -> list[str]:
    """What the week's totals mean, in sentences a manager reads: savings, and what the cheaper baseline costs in
    waiting where epmgr is not the cheapest."""
    ours, always = t[CONFIG_POLICY], t["always-on"]
    saved = always.usd - ours.usd
    verb = "saved" if saved > 0 else "did not save"
    lines = [
        f"On this week, epmgr (the demo's epmgr.toml) cost ${ours.usd:,.2f}: it {verb} ${abs(saved):,.2f} "
        f"({_pct(saved, always.usd)}) against keeping them running (${always.usd:,.2f}), with {ours.cold_starts} "
        f"cold starts ({ours.waited} of {ours.requests:,} requests waited for one)."
    ]
    for spec, name in (("fixed:60m", "HF's 1-hour scale to zero"), ("fixed:15m", "HF's 15-minute scale to zero")):
        hf = t[spec]
        gap = hf.usd - ours.usd
        if gap > 0:
            lines.append(
                f"Against {name} (${hf.usd:,.2f}) it saved ${gap:,.2f} ({_pct(gap, hf.usd)}), with {ours.cold_starts} "
                f"cold starts instead of {hf.cold_starts}."
            )
            continue
        if gap == 0:
            lines.append(f"Against {name} it cost the same (${hf.usd:,.2f}), with {ours.cold_starts} cold starts "
                         f"instead of {hf.cold_starts}.")  # fmt: skip
            continue
        cheaper = [(t[p].usd, p) for p in EPMGR_POLICIES if t[p].usd < hf.usd]
        if cheaper:
            usd, best = min(cheaper)
            alone = f"epmgr's {best} policy alone costs ${usd:,.2f}, with {t[best].cold_starts} cold starts"
        else:
            alone = "no epmgr policy is cheaper than it on this traffic"
        line = (
            f"{name[0].upper()}{name[1:]} is cheaper (${hf.usd:,.2f}, ${-gap:,.2f} less), but {hf.waited} requests "
            f"waited up to {STARTUP[:-1]} min for one of its {hf.cold_starts} cold starts, against {ours.waited} for "
            f"epmgr's {ours.cold_starts}: that is what epmgr.toml buys in waiting ({alone})."
        )
        lines.append(line)
    return lines


def table(t: Mapping[str, Total]) -> str:
    head = ("policy", "usd", "cold starts", "requests waited")
    rows = [head] + [
        (label, f"{t[spec].usd:,.2f}", str(t[spec].cold_starts), str(t[spec].waited)) for spec, label in POLICIES
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def simulate(args: list[str], env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Run ``epmgr ARGS`` (a ``--json simulate``) and return its rows; stop the demo if it fails."""
    result = subprocess.run([EPMGR, *args], env=dict(env), text=True, capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed: epmgr {shlex.join(args)} (exit {result.returncode}): {result.stderr}")
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def week(out: Path, env: Mapping[str, str], say: Callable[[str], None], *, days: int = DAYS) -> dict[str, Total]:
    """Write the traces and the configuration under ``out``, simulate each endpoint, print it all; the totals."""
    out.mkdir(parents=True, exist_ok=True)
    config = out / "epmgr.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in env.items() if k not in ("EPMGR_CONFIG", "EPMGR_DB_URL")}
    say(f"What epmgr is for: a simulated week ({days} days from Monday 2026-03-02) of the demo's endpoints")
    print("  The live run above lasted minutes, with start-ups of seconds: too short for savings to show. Here the")
    print("  same endpoints get a week of seeded traffic, replayed through the daemon's own decisions.")
    print(f"  Production policies in {shown(config)} (HF's real start-up: {STARTUP}, billed; per-minute billing):")
    print("".join(f"    {line}\n" for line in CONFIG.splitlines() if line.startswith(("name", "schedule", "keep"))))
    runs = []
    for endpoint in ENDPOINTS:
        trace, html = out / f"{endpoint.name}.csv", out / f"{endpoint.name}.html"
        with trace.open("w", encoding="utf-8") as file:
            traffic.write_csv(traffic.GENERATORS[endpoint.kind](SEED, days), file)
        args = simulate_args(endpoint, shown(trace), shown(config), shown(html))
        print(f"  {endpoint.name} ({endpoint.compute[2]} {endpoint.compute[3]}, ${endpoint.price}/h): {endpoint.what}")
        print(f"$ python -m epmgr.simulate.traffic {endpoint.kind} --seed {SEED} --days {days} > {shown(trace)}")
        print(f"$ epmgr {shlex.join(args)}", flush=True)
        rows = simulate(args, env)
        runs.append(rows)
        total = totals([rows])
        print(f"{table(total)}\n", flush=True)
    summed = totals(runs)
    say("The week in one table: the three runs above added up")
    print(table(summed))
    print("\n" + "\n".join(headline(summed)))
    print(f"\n  Charts (cost against cold starts, a timeline of who kept a replica up): {shown(out)}/*.html")
    return summed


def chapter(env: Mapping[str, str], say: Callable[[str], None]) -> None:
    """The demo's last chapter: the week in ``.demo/week/`` (next to the ledger)."""
    ledger = env.get("EPMGR_DB_URL", "sqlite:///.demo/ledger.db").removeprefix("sqlite:///")
    week(Path(ledger).parent / "week", env, say)
