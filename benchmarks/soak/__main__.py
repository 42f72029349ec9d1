"""`make soak` (python -m benchmarks.soak [--quick]): the long reliability runs, each bounded, and their figures."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks.soak import faults, kills, two_daemons, writers


def _line(title: str, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    started = time.monotonic()
    figures = run()
    shown = ", ".join(f"{key} {value:g}" for key, value in figures.items())
    print(f"{title} ({time.monotonic() - started:.0f} s): {shown}", flush=True)
    return figures


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    results = [
        _line("faults: 20% API faults for 1,000 daemon decisions (fake clock)",
              lambda: faults.run(decisions=200 if quick else 1000)),
        _line("kills: SIGKILL of the leader mid-tick, every API call 0.3 s",
              lambda: kills.run(kills=3 if quick else 20)),
        _line("writers: 8 ledger writer processes plus the daemon (SQLite)",
              lambda: writers.run(batches=50 if quick else 300)),
        _line("two daemons: slow API (1 s a call, 3 s lease), the leader frozen past its lease",
              lambda: two_daemons.run(seconds=20 if quick else 90, freezes=1 if quick else 4)),
    ]  # fmt: skip
    bad = sum(r.get(key, 0) for r in results for key in _MUST_BE_ZERO)
    print("soak: OK" if not bad else f"soak: FAILED ({bad:g} violations)")
    return 1 if bad else 0


_MUST_BE_ZERO = ("raw_exceptions", "missing", "duplicated", "left_started", "locked_errors", "write_errors",
                 "samples_both_acting", "calls_while_other_held_lease")  # fmt: skip

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
