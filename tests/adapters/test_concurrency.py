"""The adapter touches no process-wide state: its calls run side by side, and other huggingface_hub users in the
same process keep their own base URL and shared client.

The server epmgr calls is a real HTTP server that holds each request at a gate the test controls, so "in flight"
is a fact of the test, not a matter of timing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.utils import get_session  # type: ignore[attr-defined]  # lazy public

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointSpec, Instance
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from tests.adapters.conftest import FAST, adapter_for
from tests.adapters.test_retries import ENDPOINT_JSON

PATIENCE_S = 10.0  # only a guard against a hung test: nothing waits this long when the code is right


class Gate:
    """What the held server does with each request before answering it."""

    def __init__(self) -> None:
        self.arrived = threading.Semaphore(0)
        self.release = threading.Event()
        self.hold: Callable[[], bool] = lambda: self.release.wait(PATIENCE_S)
        self.paths: list[str] = []


@pytest.fixture
def held() -> Iterator[tuple[str, Gate]]:
    """A server that answers every GET with an endpoint, once its gate lets it (500 if the gate gives up)."""
    gate = Gate()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            gate.paths.append(self.path)
            gate.arrived.release()
            status, body = (200, ENDPOINT_JSON) if gate.hold() else (500, {"error": "the gate gave up"})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", gate
    finally:
        gate.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def held_api(url: str) -> HfEndpointsAPI:
    return HfEndpointsAPI(token="hf_secret", namespace="ns", api_url=url, backoff=Backoff(attempts=1))


def test_three_calls_of_one_adapter_are_in_flight_at_once(held: tuple[str, Gate]) -> None:
    url, gate = held
    together = threading.Barrier(3, timeout=PATIENCE_S)

    def all_three_arrived() -> bool:  # a serialised adapter never gets its 2nd request here: the barrier breaks
        try:
            together.wait()
        except threading.BrokenBarrierError:
            return False
        return True

    gate.hold = all_three_arrived
    api = held_api(url)
    with ThreadPoolExecutor(3) as pool:
        names = list(pool.map(lambda _: api.get("ep").ref.name, range(3)))
    assert names == ["ep"] * 3 and api.calls == 3
    assert not together.broken


def test_other_huggingface_hub_users_keep_their_url_and_client_while_epmgr_calls(
    held: tuple[str, Gate], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, gate = held
    own_url, own_session = constants.INFERENCE_ENDPOINTS_ENDPOINT, get_session()
    api = held_api(url)
    with EmulatorServer(timings=FAST, access_log=False) as other, ThreadPoolExecutor(1) as pool:
        adapter_for(other).create(
            EndpointSpec("theirs", "gpt2", Instance("aws", "us-east-1", "cpu", "intel-spr", "x1"))
        )
        in_flight = pool.submit(api.get, "ep")
        assert gate.arrived.acquire(timeout=PATIENCE_S), "epmgr's request never reached its server"
        assert own_url == constants.INFERENCE_ENDPOINTS_ENDPOINT  # epmgr's URL is not visible to anyone else
        monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", f"{other.url}/v2")  # another library's host
        theirs = HfApi(token=DEMO_TOKEN).get_inference_endpoint("theirs", namespace=DEMO_USER)
        assert theirs.name == "theirs" and not in_flight.done()
        gate.release.set()
        assert in_flight.result(timeout=PATIENCE_S).ref.name == "ep"
    assert gate.paths == ["/v2/endpoint/ns/ep"]  # epmgr kept its own host while the constant pointed elsewhere
    assert get_session() is own_session  # huggingface_hub's shared client was neither replaced nor reconfigured
