"""The proxy's added latency and 16-thread throughput against calling the endpoint directly, on two HTTP stacks.

Five ways to send the same TGI request to a running emulator endpoint, in alternating blocks: directly; through
``epmgr proxy`` on uvicorn's pure-Python stack (``h11`` + ``asyncio`` + access log, as before issue 12) and on its
fast one (``httptools`` + ``uvloop``, no access log: epmgr's default now); and through a minimal proxy (Starlette +
httpx, forward and stream back, nothing else) on each stack, which tells the stack's share from epmgr's own. The
emulator and each proxy run in their own process (as in use); the calls come from this one. Figures: added p50/p99
per call (one thread), and calls/s with 16 threads as a ratio to direct.

``python -m benchmarks.proxy_speed ROLE PORT HTTP LOOP on|off [UPSTREAM]`` starts one server (the benchmark's).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import interleave

NAME = "proxy_speed"
TITLE = "Proxy: added latency and 16-thread throughput against direct calls, two HTTP stacks"
BODY = {"inputs": "one two three", "parameters": {"max_new_tokens": 3}}
STACKS = {"h11": ("h11", "asyncio", "on"), "fast": ("httptools", "uvloop", "off")}  # (http, loop, access log)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_role(role: str, port: int, http: str, loop: str, access_log: bool, upstream: str) -> None:
    """Run one server in the foreground (this process's job)."""
    if role == "emulator":
        from epmgr.emulator import EmulatorServer, EmulatorTimings

        timings = EmulatorTimings(pending=0.05, initializing=0.1, scale_up=0.1, update=0.1, minute=60)
        with EmulatorServer(timings=timings, access_log=False, port=port):
            while True:
                time.sleep(3600)
    if role == "epmgr":
        from epmgr.proxy.app import ProxyConfig
        from epmgr.proxy.server import serve

        serve(ProxyConfig(), port=port, stack={"http": http, "loop": loop, "access_log": access_log})
        return
    import uvicorn

    uvicorn.run(minimal_app(upstream), host="127.0.0.1", port=port, http=http, loop=loop, ws="none",
                access_log=access_log, log_level="info")  # fmt: skip


def minimal_app(upstream: str) -> Any:
    """Forward the request to ``upstream`` + path and stream the answer back: a proxy and nothing more."""
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import StreamingResponse

    client = httpx.AsyncClient(headers={"Authorization": f"Bearer {os.environ['HF_TOKEN']}"}, timeout=60)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        rest = request.url.path.removeprefix("/").partition("/")[2]
        target = f"{upstream}/{rest}" if rest else upstream
        headers = {"content-type": request.headers.get("content-type", "")}
        outgoing = client.build_request(request.method, target, content=body, headers=headers)
        answer = await client.send(outgoing, stream=True)
        kept = {k: v for k, v in answer.headers.items() if k not in ("content-length", "transfer-encoding")}
        response = StreamingResponse(
            answer.aiter_raw(), answer.status_code, kept, background=BackgroundTask(answer.aclose)
        )
        await response(scope, receive, send)

    return app


@contextmanager
def server(role: str, stack: str, env: dict[str, str], upstream: str = "") -> Iterator[str]:
    """One server process; yields its base URL once it answers."""
    port = free_port()
    args = [sys.executable, "-m", "benchmarks.proxy_speed", role, str(port), *STACKS[stack], upstream]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {role} server did not start") from None
                time.sleep(0.05)
        yield url
    except BaseException:
        log.seek(0)
        print(f"-- the {role} server's log ends with:\n{log.read().decode(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _threads(call: Callable[[], Any], calls: int) -> Callable[[], None]:
    pool = ThreadPoolExecutor(16)

    def block() -> None:
        for _ in pool.map(lambda _: call(), range(calls)):
            pass

    return block


def run(quick: bool = False) -> dict[str, float]:
    from epmgr.adapters.hf import HfEndpointsAPI
    from epmgr.domain.model import EndpointSpec, EndpointState, Instance
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER

    blocks, per_block, thread_blocks = (2, 20, 1) if quick else (10, 60, 4)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        emulator = stack.enter_context(server("emulator", "fast", {}))
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=emulator)
        api.create(EndpointSpec("bench", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")))
        while (endpoint := api.get("bench")).state != EndpointState.RUNNING:
            time.sleep(0.05)
        assert endpoint.url is not None
        env = {"EPMGR_DB_URL": f"sqlite:///{Path(tmp) / 'bench.db'}", "EPMGR_HF_API_URL": emulator,
               "EPMGR_NAMESPACE": DEMO_USER, "HF_TOKEN": DEMO_TOKEN,
               "EPMGR_URL_CACHE": str(Path(tmp) / "urls.json")}  # fmt: skip
        targets = {"direct": endpoint.url}
        for stack_name in STACKS:
            base = stack.enter_context(server("epmgr", stack_name, env))
            targets[f"epmgr_{stack_name}"] = f"{base}/bench"
            base = stack.enter_context(server("minimal", stack_name, env, upstream=endpoint.url.rstrip("/")))
            targets[f"minimal_{stack_name}"] = f"{base}/bench"
        http = stack.enter_context(
            httpx.Client(
                headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=60, limits=httpx.Limits(max_connections=32)
            )
        )

        def caller(url: str) -> Callable[[], None]:
            def call() -> None:
                answer = http.post(url, json=BODY)
                if answer.status_code != 200:
                    raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")

            return call

        variants = {name: caller(url) for name, url in targets.items()}
        interleave(variants, 1, 20)  # warm up: connections, the proxy's URL lookup
        single = interleave(variants, blocks, per_block, each=True)
        pools = {name: _threads(call, per_block * 4) for name, call in variants.items()}
        interleave(pools, 1, 1)  # warm up: the threads, 16 connections each
        threaded = interleave(pools, thread_blocks, 1)
    out: dict[str, float] = {"calls": blocks * per_block, "thread_calls": thread_blocks * per_block * 4}
    for name in targets:
        out[f"{name}_p50_ms"] = single.percentile(name, 0.5) * 1000
        out[f"{name}_p99_ms"] = single.percentile(name, 0.99) * 1000
        out[f"{name}_calls_per_s"] = out["thread_calls"] / threaded.total(name)
        out[f"{name}_threads_ratio"] = threaded.total("direct") / threaded.total(name)
    return out


def table(f: dict[str, float]) -> str:
    names = {"direct": "direct", "epmgr_h11": "`epmgr proxy`, h11 + asyncio (before)",
             "epmgr_fast": "`epmgr proxy`, httptools + uvloop (now)", "minimal_h11": "minimal proxy, h11 + asyncio",
             "minimal_fast": "minimal proxy, httptools + uvloop"}  # fmt: skip
    lines = ["| way | p50 | added p50 | added p99 | 16 threads | vs direct | goal < 1 ms p50, >= 0.8x |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, label in names.items():
        added = f[f"{name}_p50_ms"] - f["direct_p50_ms"]
        ratio = f[f"{name}_threads_ratio"]
        verdict = "" if name == "direct" else ("met" if added < 1 and ratio >= 0.8 else "missed")
        lines.append(
            f"| {label} | {f[f'{name}_p50_ms']:.2f} ms | {added:+.2f} ms | "
            f"{f[f'{name}_p99_ms'] - f['direct_p99_ms']:+.2f} ms | {f[f'{name}_calls_per_s']:,.0f}/s | {ratio:.2f}x | "
            f"{verdict} |"
        )
    lines.append(
        f"\n{f['calls']:,.0f} calls per way in one thread, {f['thread_calls']:,.0f} with 16 threads, alternating."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    role, port, http, loop, access_log, *upstream = sys.argv[1:]
    serve_role(role, int(port), http, loop, access_log == "on", upstream[0] if upstream else "")
