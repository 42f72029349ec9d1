"""The benchmark harness: interleaved timing, one JSON result per benchmark, and the docs tables made from them.

A benchmark is a module listed in :data:`benchmarks.registry.MODULES` with ``NAME``, ``TITLE``,
``run(quick: bool) -> dict`` (its figures, JSON-serialisable) and ``table(result: dict) -> str`` (Markdown).
``python -m benchmarks`` runs them, writes ``benchmarks/results/<NAME>.json`` and regenerates every table between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in docs/benchmarks.md (``python -m benchmarks.docs`` does
only the latter). Figures are ratios measured in one run, each side timed in alternating blocks, so drift (another
process, CPU frequency, a warming cache) lands on both sides alike.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass
class Blocks:
    """Seconds per block of each variant, the variants run in turn within every block (order rotated)."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)  # per-operation seconds, when recorded

    def ratio(self, a: str, b: str) -> float:
        """Median over blocks of ``a``'s time over ``b``'s (each block's pair measured side by side)."""
        return statistics.median(x / y for x, y in zip(self.seconds[a], self.seconds[b], strict=True))

    def spread(self, a: str, b: str) -> tuple[float, float]:
        ratios = [x / y for x, y in zip(self.seconds[a], self.seconds[b], strict=True)]
        return min(ratios), max(ratios)

    def total(self, name: str) -> float:
        return sum(self.seconds[name])

    def percentile(self, name: str, q: float) -> float:
        """The ``q`` quantile (0-1) of the recorded per-operation seconds of ``name``."""
        values = sorted(self.samples[name])
        return values[min(len(values) - 1, int(q * len(values)))]


def interleave(variants: dict[str, Callable[[], Any]], blocks: int, per_block: int, *, each: bool = False) -> Blocks:
    """Run ``per_block`` calls of every variant in each of ``blocks`` blocks, rotating who goes first.

    ``each`` also records every call's duration (for percentiles).
    """
    out = Blocks({name: [] for name in variants}, {name: [] for name in variants})
    names = list(variants)
    for block in range(blocks):
        order = names[block % len(names) :] + names[: block % len(names)]
        for name in order:
            call = variants[name]
            samples = out.samples[name]
            started = time.perf_counter()
            if each:
                for _ in range(per_block):
                    t = time.perf_counter()
                    call()
                    samples.append(time.perf_counter() - t)
            else:
                for _ in range(per_block):
                    call()
            out.seconds[name].append(time.perf_counter() - started)
    return out


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory of this process (or ``pid``), from /proc (Linux); 0 where unknown."""
    path = Path(f"/proc/{pid or 'self'}/status")
    try:
        for line in path.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def commit() -> str:
    """The checkout's commit (``EPMGR_BENCH_COMMIT`` for a copy outside git, e.g. an exported snapshot)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        found = out.stdout.strip() if out.returncode == 0 else ""
    except OSError:
        found = ""
    return found or os.environ.get("EPMGR_BENCH_COMMIT", "unknown")


def name_of(module: str) -> str:
    """A benchmark's name: its module's (``benchmarks.ledger_ingest`` -> ``ledger_ingest``)."""
    return module.rsplit(".", 1)[-1]


def load(module: str) -> ModuleType:
    """Import a benchmark module (only when it runs: one broken module does not stop the others)."""
    loaded = importlib.import_module(module)
    for attribute in ("NAME", "TITLE", "run", "table"):
        if not hasattr(loaded, attribute):
            raise SystemExit(f"benchmark module {module} has no {attribute} (see benchmarks/harness.py)")
    if name_of(module) != loaded.NAME:
        raise SystemExit(f"benchmark module {module} has NAME {loaded.NAME!r}: expected {name_of(module)!r}")
    return loaded


def run_one(module: ModuleType, *, quick: bool, out: Path) -> dict[str, Any]:
    """Run one benchmark and write its JSON result in ``out``."""
    started = time.perf_counter()
    load = os.getloadavg()[0]
    figures = module.run(quick)
    result = {
        "name": module.NAME,
        "title": module.TITLE,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "commit": commit(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
        "load": round(max(load, os.getloadavg()[0]), 1),  # 1-minute load average (other work on the machine)
        "figures": figures,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{module.NAME}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def render(doc: str, results: Sequence[dict[str, Any]], tables: dict[str, Callable[[dict[str, Any]], str]]) -> str:
    """``doc`` with each benchmark's marked block replaced by its table (blocks without a result are kept)."""
    for result in results:
        name = result["name"]
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        if start not in doc or end not in doc:
            continue
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        stamp = (
            f"*Run {result['date']} at commit {result['commit']}, {result['cpus']} cores "
            f"(load {result.get('load', '?')}), "
            f"{result['seconds']:.0f} s{' (--quick)' if result['quick'] else ''}: "
            f"`python -m benchmarks --only {name}`; "
            f"raw figures in `benchmarks/results/{name}.json`.*"
        )
        doc = f"{head}{start}\n{tables[name](result['figures'])}\n\n{stamp}\n{end}{tail}"
    return doc


def regenerate(modules: Sequence[str], results_dir: Path = RESULTS, doc_path: Path = DOC) -> int:
    """Rewrite the doc's tables from the JSON results on disk; returns how many were found."""
    results, tables = [], {}
    for module in modules:
        path = results_dir / f"{name_of(module)}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            tables[name_of(module)] = load(module).table
    doc_path.write_text(render(doc_path.read_text(), results, tables))
    return len(results)
