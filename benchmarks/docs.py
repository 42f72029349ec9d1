"""Regenerate the tables of docs/benchmarks.md from benchmarks/results/*.json: `python -m benchmarks.docs`."""

from __future__ import annotations

from benchmarks import harness
from benchmarks.registry import MODULES

if __name__ == "__main__":
    print(f"{harness.regenerate(MODULES)} tables regenerated in {harness.DOC}")
