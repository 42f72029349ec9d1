"""Per-call overhead of the auto-wake client (wake check + activity recording) against plain httpx.

Both send the same TGI request to a running emulator endpoint over loopback, in alternating blocks of 100 calls
(the side that goes first alternates too), so drift lands on both sides alike: the ratio of total time, the
median and the spread of the per-block ratios, and the p50/p99 of single calls. Then 16 threads share one client
(or one ``httpx.Client``), again in alternating blocks: calls/s as a ratio. The emulator runs in this process
(a uvicorn thread), as the figures are ratios of the same setup.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from benchmarks.harness import interleave

NAME = "client_recording"
TITLE = "Client on a running endpoint against plain httpx (calls interleaved; 16 threads)"
BODY = {"inputs": "one two three", "parameters": {"max_new_tokens": 3}}


@contextmanager
def running_endpoint(tmp: Path) -> Iterator[tuple[str, str]]:
    """An emulator with one running endpoint, and the environment the client reads; yields (server, endpoint) URLs."""
    from epmgr.adapters.hf import HfEndpointsAPI
    from epmgr.domain.model import EndpointSpec, EndpointState, Instance
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings

    timings = EmulatorTimings(pending=0.05, initializing=0.1, scale_up=0.1, update=0.1, minute=60)
    with EmulatorServer(timings=timings, access_log=False) as server:
        env = {
            "EPMGR_DB_URL": f"sqlite:///{tmp / 'bench.db'}",
            "EPMGR_HF_API_URL": server.url,
            "EPMGR_NAMESPACE": DEMO_USER,
            "HF_TOKEN": DEMO_TOKEN,
            "EPMGR_URL_CACHE": str(tmp / "urls.json"),
        }
        with mock.patch.dict(os.environ, env):  # restored after
            api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
            api.create(EndpointSpec("bench", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")))
            while (endpoint := api.get("bench")).state != EndpointState.RUNNING:
                time.sleep(0.05)
            assert endpoint.url is not None
            yield server.url, endpoint.url


def _threads(call: Callable[[], Any], threads: int, calls: int) -> Callable[[], None]:
    pool = ThreadPoolExecutor(threads)

    def block() -> None:
        for _ in pool.map(lambda _: call(), range(calls)):
            pass

    return block


def run(quick: bool = False) -> dict[str, float]:
    from epmgr.client import EndpointClient, context
    from epmgr.emulator import DEMO_TOKEN

    blocks, per_block, thread_blocks = (4, 25, 2) if quick else (50, 100, 10)
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(Path(tmp)) as (_, url):
        client = EndpointClient("bench")
        with httpx.Client(headers={"Authorization": f"Bearer {DEMO_TOKEN}"}) as bare:
            variants = {"httpx": lambda: bare.post(url, json=BODY), "client": lambda: client.request("POST", json=BODY)}
            interleave(variants, 2, 50)  # warm both connection pools
            single = interleave(variants, blocks, per_block, each=True)
            pools = {name: _threads(call, 16, per_block * 4) for name, call in variants.items()}
            interleave(pools, 1, 1)  # warm up: the threads, 16 connections each
            threaded = interleave(pools, thread_blocks, 1)
        client.close()
        closing = getattr(context, "close_shared_ledgers", None)  # the client's shared ledgers, where it has them
        if closing is not None:
            closing()
    low, high = single.spread("client", "httpx")
    calls = blocks * per_block
    return {
        "calls": calls,
        "ratio": single.total("client") / single.total("httpx"),
        "ratio_median_block": single.ratio("client", "httpx"),
        "ratio_low": low,
        "ratio_high": high,
        "httpx_p50_ms": single.percentile("httpx", 0.5) * 1000,
        "client_p50_ms": single.percentile("client", 0.5) * 1000,
        "httpx_p99_ms": single.percentile("httpx", 0.99) * 1000,
        "client_p99_ms": single.percentile("client", 0.99) * 1000,
        "threads": 16,
        "thread_calls": thread_blocks * per_block * 4,
        "httpx_calls_per_s": thread_blocks * per_block * 4 / threaded.total("httpx"),
        "client_calls_per_s": thread_blocks * per_block * 4 / threaded.total("client"),
        "threads_ratio": threaded.total("httpx") / threaded.total("client"),
    }


def table(f: dict[str, float]) -> str:
    added50 = f["client_p50_ms"] - f["httpx_p50_ms"]
    added99 = f["client_p99_ms"] - f["httpx_p99_ms"]
    return "\n".join(
        [
            "| measure | goal | httpx | client | figure | |",
            "|---|---|---|---|---|---|",
            f"| {f['calls']:,.0f} calls, one thread, interleaved | <= 1.03x, < 0.3 ms added p50 | "
            f"{f['httpx_p50_ms']:.2f} ms p50, {f['httpx_p99_ms']:.2f} ms p99 | "
            f"{f['client_p50_ms']:.2f} ms p50, {f['client_p99_ms']:.2f} ms p99 | "
            f"{f['ratio']:.2f}x (blocks {f['ratio_low']:.2f}-{f['ratio_high']:.2f}), {added50:+.2f} ms p50, "
            f"{added99:+.2f} ms p99 | {'met' if f['ratio'] <= 1.03 and added50 < 0.3 else 'missed'} |",
            f"| {f['thread_calls']:,.0f} calls, {f['threads']:.0f} threads sharing one client | "
            ">= 0.97x httpx calls/s | "
            f"{f['httpx_calls_per_s']:,.0f}/s | {f['client_calls_per_s']:,.0f}/s | {f['threads_ratio']:.2f}x | "
            f"{'met' if f['threads_ratio'] >= 0.97 else 'missed'} |",
        ]
    )
