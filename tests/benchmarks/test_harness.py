"""`make bench`'s harness: the registry, interleaving, the docs tables, and a `--quick` smoke run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.registry import MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_has_a_table_in_the_docs_and_every_table_a_benchmark() -> None:
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    names = {harness.name_of(m) for m in MODULES}
    marked = {line[len("<!-- bench:") : -len(" -->")] for line in doc.splitlines() if line.startswith("<!-- bench:")}
    assert marked == names
    for name in names:
        assert f"<!-- /bench:{name} -->" in doc


def test_interleave_rotates_who_goes_first_and_counts_every_call() -> None:
    calls: list[str] = []
    blocks = harness.interleave({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, 2, each=True)
    assert calls == ["a", "a", "b", "b", "b", "b", "a", "a", "a", "a", "b", "b"]
    assert [len(blocks.seconds[n]) for n in "ab"] == [3, 3]
    assert [len(blocks.samples[n]) for n in "ab"] == [6, 6]


def test_ratios_pair_blocks_side_by_side() -> None:
    blocks = harness.Blocks({"a": [2.0, 4.0, 9.0], "b": [1.0, 4.0, 3.0]}, {"a": [1.0, 2.0, 3.0, 4.0]})
    assert blocks.ratio("a", "b") == 2.0
    assert blocks.spread("a", "b") == (1.0, 3.0)
    assert blocks.total("a") == 15.0
    assert blocks.percentile("a", 0.5) == 3.0


def test_render_replaces_only_marked_blocks_of_benchmarks_with_results() -> None:
    doc = "intro\n<!-- bench:x -->\nold x\n<!-- /bench:x -->\nmiddle\n<!-- bench:y -->\nold y\n<!-- /bench:y -->\nend"
    result: dict[str, Any] = {"name": "x", "date": "2026-12-02", "commit": "abc", "cpus": 2, "seconds": 3.0,
                              "quick": False, "figures": {"v": 7}}  # fmt: skip
    out = harness.render(doc, [result], {"x": lambda f: f"| v | {f['v']} |"})
    assert "old x" not in out and "| v | 7 |" in out and "commit abc" in out
    assert "old y" in out and out.startswith("intro\n") and out.endswith("\nend")
    assert harness.render(out, [result], {"x": lambda f: f"| v | {f['v']} |"}) == out  # idempotent


def test_quick_run_writes_one_json_result_each_and_leaves_the_doc(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    names = ["cost_spend", "simulator_speed", "ledger_ingest", "wake_crowd"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPMGR_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", *names, "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for name in names:
        result = json.loads((tmp_path / f"{name}.json").read_text())
        assert result["name"] == name and result["quick"] is True and result["figures"]
    ingest = json.loads((tmp_path / "ledger_ingest.json").read_text())["figures"]["sqlite"]
    assert ingest["one_bulk"] > 0 and ingest["eight_bulk"] > 0
    crowd = json.loads((tmp_path / "wake_crowd.json").read_text())["figures"]["median"]
    assert crowd["resume_calls"] == 1 and crowd["ok"] == crowd["answers"] == 8 and crowd["last_s"] > 0
    assert (ROOT / "docs" / "benchmarks.md").read_text() == doc


def test_an_unknown_benchmark_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "unknown benchmark nope" in done.stderr
