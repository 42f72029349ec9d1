"""Per-call overhead of the auto-wake client (wake check + activity recording) against bare httpx.

Both send the same TGI request to a running emulator endpoint over loopback; the figure is the ratio of the
client's time per call to bare httpx's, measured in one run (so it means the same on any machine).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.client import EndpointClient
from epmgr.client.context import close_shared_ledgers
from epmgr.domain.model import EndpointSpec, EndpointState, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings

BODY = {"inputs": "one two three", "parameters": {"max_new_tokens": 3}}


def run(n: int = 2000) -> dict[str, float]:
    timings = EmulatorTimings(pending=0.05, initializing=0.1, scale_up=0.1, update=0.1, minute=60)
    with tempfile.TemporaryDirectory() as tmp, EmulatorServer(timings=timings, access_log=False) as server:
        env = {
            "EPMGR_DB_URL": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "EPMGR_HF_API_URL": server.url,
            "EPMGR_NAMESPACE": DEMO_USER,
            "HF_TOKEN": DEMO_TOKEN,
            "EPMGR_URL_CACHE": str(Path(tmp) / "urls.json"),
        }
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
            api.create(EndpointSpec("bench", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")))
            while api.get("bench").state != EndpointState.RUNNING:
                time.sleep(0.05)
            client = EndpointClient("bench")
            url = client.url
            assert url is not None
            headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
            with httpx.Client(headers=headers) as bare:
                for _ in range(50):  # warm both connection pools
                    bare.post(url, json=BODY)
                    client.request("POST", json=BODY)
                started = time.perf_counter()
                for _ in range(n):
                    bare.post(url, json=BODY)
                bare_s = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(n):
                client.request("POST", json=BODY)
            client_s = time.perf_counter() - started
            client.close()
            close_shared_ledgers()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return {"calls": n, "bare_ms": bare_s / n * 1000, "client_ms": client_s / n * 1000, "ratio": client_s / bare_s}
