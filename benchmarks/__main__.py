"""Run every benchmark and print its figures."""

from __future__ import annotations

from benchmarks import client_recording, cost_savings_traces, cost_spend, ledger_writes, policy_eval


def main() -> None:
    result = ledger_writes.run()
    print(
        f"ledger writes (SQLite, {result['records']:.0f} records): "
        f"{result['single_per_s']:,.0f}/s one per transaction, {result['batched_per_s']:,.0f}/s in batches of 100 "
        f"-> batching is {result['batched_over_single']:.1f}x faster"
    )

    spend = cost_spend.run()
    print(
        f"cost: spend of {spend['changes']:.0f} state changes (30 days) at {spend['changes_per_s']:,.0f} changes/s; "
        f"the 30-day per-day breakdown takes {spend['daily_over_whole']:.1f}x one whole-window spend"
    )
    traces = cost_savings_traces.run()
    if traces is None:
        print("cost savings on traces: skipped (shared/traces not on this machine)")
    else:
        print(
            f"cost savings on {traces['functions']:.0f} Azure http functions (8 h, L4 price): always on "
            f"${traces['always_on']:,.2f}, HF scale to zero 15m ${traces['s2z_15m']:,.2f}, 1h ${traces['s2z_1h']:,.2f}"
        )
    print("policy evaluation (epmgr simulate; ratio to the oracle / cold starts):")
    policy_eval.main()

    calls = client_recording.run()
    print(
        f"client overhead ({calls['calls']:.0f} calls to a running emulator endpoint): bare httpx "
        f"{calls['bare_ms']:.2f} ms/call, EndpointClient with recording {calls['client_ms']:.2f} ms/call "
        f"-> ratio {calls['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
