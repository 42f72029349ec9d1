"""`epmgr proxy`: the real openai SDK and plain HTTP through the proxy, from sleeping endpoints."""

from __future__ import annotations

import http.client
import json

import httpx
import openai
import pytest

from epmgr.domain.model import EndpointRef, EndpointState
from epmgr.emulator import DEMO_USER
from epmgr.errors import ConfigError
from epmgr.proxy import ProxyConfig, ProxyServer
from tests.client.world import World


def test_the_openai_sdk_gets_an_answer_and_a_stream_from_a_scaled_to_zero_endpoint(world: World) -> None:
    world.create("px-ep", EndpointState.SCALED_TO_ZERO)
    with ProxyServer(ProxyConfig()) as proxy:
        sdk = openai.OpenAI(base_url=f"{proxy.url}/px-ep/v1", api_key="unused", max_retries=0)
        raw = sdk.chat.completions.with_raw_response.create(
            model="tgi", messages=[{"role": "user", "content": "wake up"}]
        )
        assert raw.headers["x-epmgr-cold-start"] == "true"
        assert raw.parse().choices[0].message.content == "echo: wake up"
        stream = sdk.chat.completions.create(
            model="tgi", messages=[{"role": "user", "content": "and stream"}], stream=True
        )
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == (
            "echo: and stream"
        )
        sdk.close()
    ledger = world.ledger()
    recorded = ledger.requests(EndpointRef(DEMO_USER, "px-ep"))
    assert [(r.client_id, r.status_code) for r in recorded] == [("proxy", 200), ("proxy", 200)]
    ledger.close()


def test_tgi_paths_of_a_paused_endpoint_pass_through_and_resume_is_audited_as_proxy(world: World) -> None:
    world.create("px-tgi", EndpointState.PAUSED)
    with ProxyServer(ProxyConfig()) as proxy:
        answer = httpx.post(f"{proxy.url}/px-tgi/generate", json={"inputs": "a b"}, timeout=30)
        assert answer.json() == {"generated_text": "echo: a b"}
        assert answer.headers["x-epmgr-cold-start"] == "true"
        again = httpx.post(f"{proxy.url}/px-tgi", json={"inputs": "c"}, timeout=30)
        assert again.headers["x-epmgr-cold-start"] == "false" and again.json() == [{"generated_text": "echo: c"}]
    ledger = world.ledger()
    assert [(a.action.value, a.actor.value) for a in ledger.actions(EndpointRef(DEMO_USER, "px-tgi"))] == [
        ("resume", "proxy")
    ]
    ledger.close()


def test_a_full_queue_answers_503_with_retry_after(world: World) -> None:
    world.create("px-full", EndpointState.RUNNING)
    with ProxyServer(ProxyConfig(queue=0, retry_after_s=7)) as proxy:
        refused = httpx.post(f"{proxy.url}/px-full/generate", json={"inputs": "x"})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "7"


def test_an_api_key_is_required_off_loopback_and_checked(world: World) -> None:
    with pytest.raises(ConfigError, match="without an API key"):
        ProxyServer(ProxyConfig(), host="0.0.0.0")
    world.create("px-key", EndpointState.RUNNING)
    with ProxyServer(ProxyConfig(api_key="sesame")) as proxy:
        assert httpx.post(f"{proxy.url}/px-key/generate", json={"inputs": "x"}).status_code == 401
        ok = httpx.post(
            f"{proxy.url}/px-key/generate", json={"inputs": "x"}, headers={"Authorization": "Bearer sesame"}
        )
        assert ok.json() == {"generated_text": "echo: x"}


def test_answers_keep_the_encoding_the_client_asked_for(world: World) -> None:
    world.create("px-gzip", EndpointState.RUNNING)  # the emulator gzips whole answers when asked (its default)
    with ProxyServer(ProxyConfig()) as proxy:
        asked = httpx.post(f"{proxy.url}/px-gzip/generate", json={"inputs": "zip"}, timeout=30)
        assert asked.headers["content-encoding"] == "gzip" and asked.json() == {"generated_text": "echo: zip"}
        host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
        plain = http.client.HTTPConnection(host, int(port), timeout=30)  # sends no Accept-Encoding at all
        plain.request(
            "POST", "/px-gzip/generate", body=b'{"inputs": "raw"}', headers={"Content-Type": "application/json"}
        )
        answer = plain.getresponse()
        assert answer.getheader("content-encoding") is None
        assert json.loads(answer.read()) == {"generated_text": "echo: raw"}
        plain.close()
