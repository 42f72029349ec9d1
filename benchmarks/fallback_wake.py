"""Fallback during a cold start: how fast 50 concurrent LangChain chat invokes on a paused endpoint are answered by
the (emulated) serverless router, how many resumes that makes, and when the primary serves again.

Run: ``.venv/bin/python -m benchmarks.fallback_wake`` (wall clock; emulator on loopback, cold start 4 s, router
latency 0.05 s). Issue 14's target: every caller answered within 1 s, exactly one resume.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CALLERS = int(os.environ.get("CALLERS", "50"))
MODEL = "microsoft/Phi-3-mini-4k-instruct"


def main() -> None:
    from epmgr.adapters.hf import HfEndpointsAPI
    from epmgr.client.context import close_shared_ledgers
    from epmgr.domain.model import EndpointSpec, Instance
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings

    folder = Path(tempfile.mkdtemp())
    timings = EmulatorTimings(pending=1.0, initializing=3.0, scale_up=3.0)
    with EmulatorServer(timings=timings, access_log=False) as server:
        os.environ.update(
            EPMGR_DB_URL=f"sqlite:///{folder / 'ledger.db'}", EPMGR_HF_API_URL=server.url, EPMGR_NAMESPACE=DEMO_USER,
            HF_TOKEN=DEMO_TOKEN, EPMGR_URL_CACHE=str(folder / "urls.json"), EPMGR_HF_ROUTER_URL=server.url,
        )  # fmt: skip
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        cpu = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")
        api.create(EndpointSpec(name="bench-fb", repository="gpt2", instance=cpu, task="text-generation"))
        api.pause("bench-fb")
        from langchain_core.messages import HumanMessage

        from epmgr.langchain import ChatHuggingFace, HuggingFaceEndpoint

        llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
            endpoint_url="bench-fb", task="text-generation", max_new_tokens=16, fallback=[f"serverless:{MODEL}"]
        )
        chat = ChatHuggingFace(llm=llm, model_id=MODEL)
        import langsmith.run_trees  # noqa: F401  # LangChain imports it on the first invoke (0.6 s): not measured

        started = time.monotonic()

        def call(i: int) -> tuple[float, str]:
            reply = chat.invoke([HumanMessage(f"question {i}")])
            return time.monotonic() - started, str(reply.response_metadata["served_by"])

        with ThreadPoolExecutor(CALLERS) as pool:
            results = list(pool.map(call, range(CALLERS)))
        chain = llm.client
        chain.wait_for_wake()
        ready_s = time.monotonic() - started
        after = chat.invoke([HumanMessage("you now")]).response_metadata["served_by"]
        resumes = sum(n for k, n in server.requests.counts().items() if k.endswith("/resume"))
        chain.close()
        close_shared_ledgers()
    latencies = sorted(t for t, _ in results)
    print(f"{CALLERS} concurrent invokes on a paused endpoint: served by {sorted({s for _, s in results})}")
    print(f"  answered after: median {statistics.median(latencies):.3f} s, max {latencies[-1]:.3f} s")
    print(f"  resumes: {resumes}; primary ready after {ready_s:.1f} s; next call served by {after}")


if __name__ == "__main__":
    main()
