"""Each kind of fallback against the emulator: another endpoint (used awake, skipped asleep), an OpenAI-compatible
server (the emulator's TGI routes), the error condition, and the async face LangChain uses."""

from __future__ import annotations

import asyncio

import pytest

from epmgr.domain.model import EndpointState
from epmgr.errors import EndpointFailed
from epmgr.fallback import FallbackClient
from epmgr.fallback.lc import AsyncFallbackClient
from tests.client.world import World
from tests.fallback.test_chain_emulator import CHAT, PHI3


@pytest.fixture(autouse=True)
def router(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPMGR_HF_ROUTER_URL", world.server.url)


def test_an_awake_endpoint_serves_and_an_asleep_one_is_skipped_not_woken(world: World) -> None:
    world.create("fb-main", EndpointState.PAUSED)
    world.create("fb-small", EndpointState.RUNNING)
    world.create("fb-sleepy", EndpointState.PAUSED)
    chain = ["endpoint:fb-sleepy", "endpoint:fb-small", PHI3]
    with FallbackClient("fb-main", fallback=chain) as client:
        assert client.chat_completion(CHAT, max_tokens=8).served_by == "endpoint:fb-small"
        client.wait_for_wake()
    assert world.api.get("fb-sleepy").state == EndpointState.PAUSED  # skipped, never woken


def test_an_openai_compatible_server_answers_chat_and_raw_prompts(world: World) -> None:
    server = world.create("fb-oai", EndpointState.RUNNING)
    world.create("fb-main2", EndpointState.PAUSED)
    spec = f"openai:{server.url}/v1#tgi"
    with FallbackClient("fb-main2", fallback=[spec]) as client:
        answer = client.chat_completion(CHAT, max_tokens=8)
        raw = client.text_generation("<|user|> as is", max_new_tokens=8)
        client.wait_for_wake()
    assert answer.served_by == spec and answer.choices[0].message.content == "echo: hello there"
    assert raw.served_by == spec and raw == "echo: <|user|> as is"


def test_a_failed_primary_is_covered_only_when_fallback_when_has_error(world: World) -> None:
    world.create("fb-broken", EndpointState.FAILED)
    with FallbackClient("fb-broken", fallback=[PHI3]) as client:
        client.chat_completion(CHAT)  # not known yet to have failed: answered while its wake finds out
        client.wait_for_wake()
        with pytest.raises(EndpointFailed):  # now known: "error" is not in the default fallback_when
            client.chat_completion(CHAT)
    with FallbackClient("fb-broken", fallback=[PHI3], fallback_when=["error"]) as client:
        assert client.chat_completion(CHAT).served_by == PHI3
        client.wait_for_wake()
        assert client.chat_completion(CHAT).served_by == PHI3


def test_the_async_face_answers_and_streams(world: World) -> None:
    world.create("fb-async", EndpointState.PAUSED)
    chain = FallbackClient("fb-async", fallback=[PHI3])

    async def calls() -> tuple[str, list[str]]:
        client = AsyncFallbackClient(chain)
        text = await client.text_generation("one two", max_new_tokens=8)
        chunks = [c async for c in await client.text_generation("three", stream=True, max_new_tokens=8)]
        await client.aclose()
        return text, chunks

    text, chunks = asyncio.run(calls())
    assert text == "echo: one two" and chunks == ["echo: three"]
    assert chain.served[PHI3] == 2
