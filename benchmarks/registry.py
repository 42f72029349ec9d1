"""The benchmarks `make bench` runs, in order: one line each (a module with NAME, TITLE, run, table)."""

MODULES = (
    "benchmarks.ledger_ingest",
    "benchmarks.client_recording",
    "benchmarks.hf_seam",
    "benchmarks.wake_crowd",
    "benchmarks.fallback_wake",
    "benchmarks.proxy_speed",
    "benchmarks.fleet_scale",
    "benchmarks.simulator_speed",
    "benchmarks.cost_spend",
    "benchmarks.cost_savings_traces",
)
