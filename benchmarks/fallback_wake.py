"""Fallback during a cold start: how fast 50 concurrent LangChain chat invokes on a paused endpoint are answered by
the (emulated) serverless router, how many resumes that makes, and when the primary serves again.

Run: ``python -m benchmarks --only fallback_wake`` (or ``python -m benchmarks.fallback_wake`` to print the table;
wall clock; emulator on loopback, cold start 4 s). Issue 14's target: every caller answered within 1 s, exactly one
resume.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

if TYPE_CHECKING:  # epmgr is imported when a run starts, not when the registry is read
    from epmgr.emulator import EmulatorServer

NAME = "fallback_wake"
TITLE = "Fallback during a cold start: concurrent LangChain chat invokes on a paused endpoint"
CALLERS = int(os.environ.get("CALLERS", "50"))
MODEL = "microsoft/Phi-3-mini-4k-instruct"
GOAL_S = 1.0


def run(quick: bool = False) -> dict[str, Any]:
    """The figures of one run (``quick``: 8 callers)."""
    return measure(8 if quick else CALLERS)


def measure(callers: int) -> dict[str, Any]:
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings

    timings = EmulatorTimings(pending=1.0, initializing=3.0, scale_up=3.0)
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(timings=timings, access_log=False) as server:
        folder = Path(tmp)
        with patch.dict(os.environ, {
            "EPMGR_DB_URL": f"sqlite:///{folder / 'ledger.db'}", "EPMGR_HF_API_URL": server.url,
            "EPMGR_NAMESPACE": DEMO_USER, "HF_TOKEN": DEMO_TOKEN, "EPMGR_URL_CACHE": str(folder / "urls.json"),
            "EPMGR_HF_ROUTER_URL": server.url,
        }):  # fmt: skip
            results, ready_s, after, resumes = _crowd(server, callers)
    latencies = sorted(t for t, _ in results)
    return {
        "callers": callers,
        "served_by": sorted({s for _, s in results}),
        "answered_p50_s": round(statistics.median(latencies), 3),
        "answered_max_s": round(latencies[-1], 3),
        "resumes": resumes,
        "primary_ready_s": round(ready_s, 2),
        "then_served_by": after,
    }


def _crowd(server: EmulatorServer, callers: int) -> tuple[list[tuple[float, str]], float, str, int]:
    """The callers' (seconds to answer, backend), when the primary was ready, who served next, resume calls."""
    from langchain_core.messages import HumanMessage

    from epmgr.adapters.hf import HfEndpointsAPI
    from epmgr.client.context import close_shared_ledgers
    from epmgr.domain.model import EndpointSpec, Instance
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER
    from epmgr.langchain import ChatHuggingFace, HuggingFaceEndpoint

    api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
    cpu = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")
    api.create(EndpointSpec(name="bench-fb", repository="gpt2", instance=cpu, task="text-generation"))
    api.pause("bench-fb")
    llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
        endpoint_url="bench-fb", task="text-generation", max_new_tokens=16, fallback=[f"serverless:{MODEL}"]
    )
    chat = ChatHuggingFace(llm=llm, model_id=MODEL)
    import langsmith.run_trees  # noqa: F401  # LangChain imports it on the first invoke (0.6 s): not measured

    started = time.monotonic()

    def call(i: int) -> tuple[float, str]:
        reply = chat.invoke([HumanMessage(f"question {i}")])
        return time.monotonic() - started, str(reply.response_metadata["served_by"])

    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(call, range(callers)))
    chain = llm.client
    chain.wait_for_wake()
    ready_s = time.monotonic() - started
    after = chat.invoke([HumanMessage("you now")]).response_metadata["served_by"]
    resumes = sum(n for k, n in server.requests.counts().items() if k.endswith("/resume"))
    chain.close()
    close_shared_ledgers()
    return results, ready_s, str(after), resumes


def table(f: dict[str, Any]) -> str:
    met = f["answered_max_s"] <= GOAL_S and f["resumes"] == 1
    return "\n".join([
        f"| {f['callers']} concurrent chat invokes, paused endpoint, start-up 4 s | figure | goal |",
        "|---|---|---|",
        f"| served by (during the wake) | {', '.join(f['served_by'])} | the fallback |",
        f"| answered after: p50 / slowest | {f['answered_p50_s']:.3f} s / {f['answered_max_s']:.3f} s | "
        f"every caller within {GOAL_S:g} s |",
        f"| resume calls | {f['resumes']} | 1 |",
        f"| primary ready after | {f['primary_ready_s']:.1f} s | |",
        f"| the next call served by | {f['then_served_by']} | the primary |",
        f"| **goal** | **{'met' if met else 'not met'}** | |",
    ])  # fmt: skip


def main() -> None:
    print(table(measure(CALLERS)))


if __name__ == "__main__":
    main()
