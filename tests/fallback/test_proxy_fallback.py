"""`epmgr proxy` with a fallback chain: any HTTP client (here the openai SDK and plain TGI calls) is answered by the
router while the endpoint wakes, and every answer says who served it (X-Epmgr-Served-By)."""

from __future__ import annotations

import httpx
import openai
import pytest

from epmgr.domain.fallback import DEFAULT_WHEN
from epmgr.domain.model import EndpointState
from epmgr.proxy import ProxyConfig, ProxyServer
from tests.client.world import World
from tests.fallback.test_chain_emulator import PHI3


def test_the_openai_sdk_is_answered_by_the_router_while_the_endpoint_wakes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.create("px-fb", EndpointState.PAUSED)
    monkeypatch.setenv("EPMGR_HF_ROUTER_URL", world.server.url)
    chains = {"px-fb": ((PHI3,), DEFAULT_WHEN)}
    with ProxyServer(ProxyConfig(fallbacks=chains)) as proxy:
        sdk = openai.OpenAI(base_url=f"{proxy.url}/px-fb/v1", api_key="unused", max_retries=0)
        raw = sdk.chat.completions.with_raw_response.create(model="tgi", messages=[{"role": "user", "content": "hi"}])
        assert raw.headers["x-epmgr-served-by"] == PHI3
        assert raw.parse().choices[0].message.content == "echo: hi"
        tgi = httpx.post(f"{proxy.url}/px-fb/generate", json={"inputs": "raw text"}, timeout=30)
        assert tgi.headers["x-epmgr-served-by"] == PHI3 and tgi.json() == {"generated_text": "echo: raw text"}
        world.until("px-fb", EndpointState.RUNNING)
        chain = proxy.app.state.proxy.fallbacks._chain("px-fb")
        assert chain is not None
        chain.wait_for_wake()
        ready = sdk.chat.completions.with_raw_response.create(
            model="tgi", messages=[{"role": "user", "content": "you now"}]
        )
        assert ready.headers["x-epmgr-served-by"] == "primary"
        sdk.close()


def test_an_endpoint_without_a_chain_is_served_by_itself(world: World) -> None:
    world.create("px-plain", EndpointState.RUNNING)
    with ProxyServer(ProxyConfig(fallbacks={})) as proxy:
        answer = httpx.post(f"{proxy.url}/px-plain/generate", json={"inputs": "x"}, timeout=30)
    assert answer.headers["x-epmgr-served-by"] == "primary"
