"""The proxy forwards inference only: confined paths, inference methods, bounded bodies, valid names, bounded
clients. Raw HTTP (http.client, which sends a path as given) against the real proxy and the emulator."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from epmgr.domain.model import EndpointRef, EndpointState
from epmgr.emulator import DEMO_USER
from epmgr.proxy import ProxyConfig, ProxyServer
from epmgr.proxy.limits import Refused, confined_path
from tests.client.world import World

BODY = json.dumps({"inputs": "hi"}).encode()


def connect(proxy: ProxyServer) -> http.client.HTTPConnection:
    where = urlsplit(proxy.url)
    return http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)


def send(
    proxy: ProxyServer, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    """One raw request: the path goes out byte for byte (no client-side '..' normalisation)."""
    conn = connect(proxy)
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/json", **headers})
        response = conn.getresponse()
        raw = response.read()
        data = json.loads(raw) if raw.startswith(b"{") else {"raw": raw.decode(errors="replace")}
        data["_allow"] = response.getheader("allow")
        return response.status, data
    finally:
        conn.close()


def calls(world: World) -> dict[str, int]:
    """The emulator's request counts, without the call that reads them."""
    return {k: v for k, v in world.counts().items() if not k.endswith("/_emulator/requests")}


@pytest.fixture
def proxy(world: World) -> Iterator[ProxyServer]:
    with ProxyServer(ProxyConfig(max_body=4096, max_clients=4)) as server:
        yield server


LEAVING = [
    "/px/../../v2/endpoint/demo/victim",
    "/px/live/../../v2/endpoint/demo/victim",
    "/px/%2e%2e/%2e%2e/v2/endpoint/demo/victim",
    "/px/%2E%2E%2Fv2",
    "/px/generate/..%2f..%2fv2",
    "/px//v2/endpoint/demo/victim",
    "/px/a\\..\\..\\v2",
    "/px/http://127.0.0.1:1/steal",
    "/px/%252e%252e/v2",
    "/px/./generate",
    "/px/generate/..",
]


@pytest.mark.parametrize("path", LEAVING)
def test_a_path_that_leaves_the_endpoint_gets_400_and_reaches_nothing(
    world: World, proxy: ProxyServer, path: str
) -> None:
    world.create("px", EndpointState.RUNNING)
    world.create("victim", EndpointState.RUNNING)
    world.clear_counts()
    status, body = send(proxy, "POST", path, BODY)
    assert status == 400, body
    assert "not forwarded" in body["error"] or "absolute URL" in body["error"]
    assert calls(world) == {}  # neither the management API nor any endpoint URL was called
    assert world.api.get("victim").state == EndpointState.RUNNING


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"])
def test_a_method_inference_does_not_use_gets_405(world: World, proxy: ProxyServer, method: str) -> None:
    world.create("victim", EndpointState.RUNNING)
    world.clear_counts()
    status, body = send(proxy, method, "/live/../../v2/endpoint/demo/victim")
    assert status == 405
    assert body["_allow"] == "GET, POST"
    if method != "HEAD":
        assert f"method {method} is not forwarded" in body["error"]
    assert calls(world) == {}
    assert world.api.get("victim").state == EndpointState.RUNNING


def test_get_and_post_under_the_endpoint_pass(world: World, proxy: ProxyServer) -> None:
    world.create("px", EndpointState.RUNNING)
    assert send(proxy, "GET", "/px/health")[0] == 200
    assert send(proxy, "GET", "/px/health?probe=1&x=%2F")[0] == 200  # a query follows the path: still under it
    status, body = send(proxy, "POST", "/px/generate", BODY)
    assert (status, body["generated_text"]) == (200, "echo: hi")
    assert send(proxy, "POST", "/px/v1/", json.dumps({"x": 1}).encode())[0] == 405  # the emulator's own answer


def test_a_body_over_the_limit_gets_413_and_wakes_nothing(world: World, proxy: ProxyServer) -> None:
    world.create("px", EndpointState.SCALED_TO_ZERO)
    world.clear_counts()
    big = b'{"inputs": "' + b"x" * 5000 + b'"}'
    status, body = send(proxy, "POST", "/px/generate", big)
    assert status == 413 and "over the proxy's limit of 4096 bytes" in body["error"]

    conn = connect(proxy)  # chunked, no Content-Length: refused while streaming
    conn.request("POST", "/px/generate", body=iter([b"x" * 1024] * 64), encode_chunked=True)
    streamed = conn.getresponse()
    assert streamed.status == 413
    conn.close()
    assert calls(world) == {}
    assert world.api.get("px").state == EndpointState.SCALED_TO_ZERO
    ledger = world.ledger()
    assert ledger.count_requests(EndpointRef(DEMO_USER, "px")) == 0
    ledger.close()


@pytest.mark.parametrize(
    "path",
    ["/X-Upper/generate", "/a%0Ab/generate", "/" + "n" * 100_000 + "/generate", "/a_b/generate", "/%2e%2e/generate"],
    ids=["uppercase", "newline", "100k-characters", "underscore", "dots"],
)
def test_a_bad_endpoint_name_gets_400_before_any_api_call(world: World, proxy: ProxyServer, path: str) -> None:
    world.clear_counts()
    status, body = send(proxy, "POST", path, BODY)
    if len(path) > 65_536:  # beyond what the HTTP parser (httptools) takes: its own one-line 400
        assert status == 400 and body["raw"] == "Invalid HTTP request received.", body
    else:
        assert status == 400 and "expected an endpoint name" in body["error"], body
        assert len(body["error"]) < 300
    assert calls(world) == {}
    ledger = world.ledger()
    assert ledger.endpoints() == []
    ledger.close()


def _recorder_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "epmgr-recorder")


def test_300_unknown_names_leave_no_client_thread_or_row(world: World, proxy: ProxyServer) -> None:
    cache = proxy.app.state.proxy.cache
    threads_before, recorders_before = threading.active_count(), _recorder_threads()
    for i in range(300):
        status, body = send(proxy, "POST", f"/unknown-{i}/generate", BODY)
        assert status == 404 and f"unknown-{i}" in body["error"]
    assert len(cache) == 0 and cache.busy == {}
    assert cache.closed == 300
    assert _recorder_threads() == recorders_before
    assert threading.active_count() <= threads_before + 8  # asyncio's worker threads, not one per name
    ledger = world.ledger()
    assert ledger.endpoints() == [] and ledger.count_requests() == 0
    ledger.close()
    world.clear_counts()
    assert send(proxy, "POST", "/unknown-299/generate", BODY)[0] == 404  # remembered: no API call this time
    assert calls(world) == {}


def test_the_client_cache_is_bounded_and_closes_what_it_evicts(world: World) -> None:
    for name in ("lru-a", "lru-b", "lru-c"):
        world.create(name, EndpointState.RUNNING)
    recorders_before = _recorder_threads()
    with ProxyServer(ProxyConfig(max_clients=2)) as proxy:
        cache = proxy.app.state.proxy.cache
        for name in ("lru-a", "lru-b", "lru-c", "lru-a"):
            status, body = send(proxy, "POST", f"/{name}/generate", BODY)
            assert (status, body["generated_text"]) == (200, "echo: hi")
        assert list(cache.clients) == ["lru-c", "lru-a"]
        assert cache.closed == 2  # lru-a (evicted, then built again) and lru-b
        assert _recorder_threads() == recorders_before + 1  # one recorder for the proxy's clients
    assert _recorder_threads() == recorders_before
    ledger = world.ledger()
    assert ledger.count_requests(EndpointRef(DEMO_USER, "lru-a")) == 2  # eviction flushed the records
    ledger.close()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("/", ""), ("/generate", "generate"), ("/v1/chat/completions", "v1/chat/completions"),
     ("/v1/", "v1/"), ("/a%20b", "a b")],
)  # fmt: skip
def test_confined_paths_keep_what_inference_uses(raw: str, expected: str) -> None:
    assert confined_path(raw) == expected


@pytest.mark.parametrize("raw", [p.removeprefix("/px") for p in LEAVING] + ["/a/\x00", "/..", "/C:\\x"])
def test_confined_paths_refuse_whatever_could_leave(raw: str) -> None:
    with pytest.raises(Refused) as refused:
        confined_path(raw)
    assert refused.value.status == 400
