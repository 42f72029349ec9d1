"""``X-Scale-Up-Timeout`` on the wire: once per request, the caller's own value first, whichever way the request
is made (the client sends it as a default header, a bare transport adds it). A real HTTP server records what came."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from epmgr.client import AsyncEndpointClient, EndpointClient, WakingTransport
from epmgr.client.waker import Waker


class _Recording(BaseHTTPRequestHandler):
    seen: list[list[str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append(self.headers.get_all("X-Scale-Up-Timeout") or [])
        body = json.dumps({"generated_text": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recording.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_hold_header_goes_once_and_the_callers_value_wins(server: str) -> None:
    with EndpointClient(server, token="t", api=None, record=False) as client:
        answer = client.request("POST", json={"inputs": "a"})
        assert answer.headers["x-epmgr-cold-start"] == "false"
        client.request("POST", json={"inputs": "a"}, headers={"x-scale-up-timeout": "7"})
    with EndpointClient(server, token="t", api=None, record=False, headers={"x-SCALE-up-timeout": "5"}) as client:
        client.request("POST", json={"inputs": "a"})
    with EndpointClient(server, token="t", api=None, record=False, hold=False) as client:
        client.request("POST", json={"inputs": "a"})
    with httpx.Client(transport=WakingTransport(Waker(None, url=server, token="t"))) as bare:  # hold_s: 600
        bare.post(server, json={"inputs": "a"})
        bare.post(server, json={"inputs": "a"}, headers={"X-Scale-Up-Timeout": "9"})
    assert _Recording.seen == [["600"], ["7"], ["5"], [], ["600"], ["9"]]


def test_the_async_client_sends_it_once_too(server: str) -> None:
    async def call() -> None:
        async with AsyncEndpointClient(server, token="t", api=None, record=False, wake_timeout=30) as client:
            await client.request("POST", json={"inputs": "a"}, headers={"X-Scale-Up-Timeout": "3"})
            await client.request("POST", json={"inputs": "a"})

    asyncio.run(call())
    assert _Recording.seen == [["3"], ["30"]]
