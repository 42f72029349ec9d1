"""Run every benchmark and print its figures."""

from __future__ import annotations

from benchmarks import ledger_writes


def main() -> None:
    result = ledger_writes.run()
    print(
        f"ledger writes (SQLite, {result['records']:.0f} records): "
        f"{result['single_per_s']:,.0f}/s one per transaction, {result['batched_per_s']:,.0f}/s in batches of 100 "
        f"-> batching is {result['batched_over_single']:.1f}x faster"
    )


if __name__ == "__main__":
    main()
