"""Concurrent management calls through the HF adapter against a slow emulator: three at once against one.

The emulator answers every ``/v2`` call after a delay (its ``slow`` fault, 2 s as a slow real HF call; 0.5 s with
``--quick``). One adapter instance, as the daemon and the CLI hold it, makes one ``get`` alone, then three from
three threads at once, in alternating blocks. Before issue 11 the adapter held a process-wide lock around each
HTTP call, so three calls took three times one (6.1 s against 2.3 s); the goal is at most 1.3x.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.harness import interleave

NAME = "hf_seam"
TITLE = "HF adapter: three concurrent management calls against one, on a slow emulator"
GOAL = 1.3


def run(quick: bool) -> dict[str, Any]:
    from epmgr.adapters.hf import HfEndpointsAPI
    from epmgr.domain.model import EndpointSpec, Instance
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings, FaultConfig

    slow_s, blocks = (0.5, 2) if quick else (2.0, 5)
    timings = EmulatorTimings(pending=0.05, initializing=0.1, scale_up=0.1, update=0.1, minute=60)
    with EmulatorServer(timings=timings, access_log=False) as server, ThreadPoolExecutor(3) as pool:
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        api.create(EndpointSpec("seam", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")))
        api.get("seam")  # warm: the connection and huggingface_hub's headers
        server.faults.configure(FaultConfig(rate=1.0, kinds=("slow",), slow_seconds=slow_s))

        def one() -> None:
            api.get("seam")

        def three() -> None:
            list(pool.map(lambda _: api.get("seam"), range(3)))

        timed = interleave({"one": one, "three": three}, blocks=blocks, per_block=1)
        api.close()
    low, high = timed.spread("three", "one")
    return {
        "slow_s": slow_s,
        "blocks": blocks,
        "one_s": timed.total("one") / blocks,
        "three_s": timed.total("three") / blocks,
        "ratio": timed.ratio("three", "one"),
        "ratio_low": low,
        "ratio_high": high,
    }


def table(f: dict[str, Any]) -> str:
    verdict = "met" if f["ratio"] <= GOAL else "missed"
    return "\n".join(
        [
            f"| calls (each answered after {f['slow_s']:.1f} s) | time | ratio to one | goal <= {GOAL}x |",
            "|---|---|---|---|",
            f"| one `get` | {f['one_s']:.2f} s | 1.00x | |",
            f"| three `get` from three threads, one adapter | {f['three_s']:.2f} s | {f['ratio']:.2f}x "
            f"[{f['ratio_low']:.2f}-{f['ratio_high']:.2f}] | {verdict} |",
            f"\nMedian of {f['blocks']:.0f} alternating blocks [min-max]; before issue 11: 6.1 s against 2.3 s.",
        ]
    )
