"""epmgr.langchain: the common LangChain usage, with only the import changed, against sleeping endpoints."""

from __future__ import annotations

import asyncio
import threading

import pytest

from epmgr.client import EndpointClient
from epmgr.domain.model import EndpointRef, EndpointState
from epmgr.emulator import DEMO_USER
from epmgr.errors import ApiUnavailable, AuthError
from tests.client.world import World

pytest.importorskip("langchain_huggingface")

from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_core.prompts import PromptTemplate  # noqa: E402

from epmgr.langchain import ChatHuggingFace, HuggingFaceEndpoint  # noqa: E402


@pytest.mark.parametrize("state", [EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO], ids=["paused", "scaled"])
def test_the_common_chain_gets_an_answer_from_a_sleeping_endpoint(world: World, state: EndpointState) -> None:
    url = world.create("lc-ep", EndpointState.RUNNING).url
    with EndpointClient("lc-ep", record=False) as seen:  # epmgr saw it running: it remembers the URL
        assert seen.url == url  # (a paused endpoint has none in the API)
    (world.api.pause if state == EndpointState.PAUSED else world.api.scale_to_zero)("lc-ep")
    assert url is not None
    llm = HuggingFaceEndpoint(  # type: ignore[call-arg]  # pydantic fills model from endpoint_url
        endpoint_url=url, max_new_tokens=512, temperature=0.01, task="text-generation"
    )
    prompt = PromptTemplate.from_template("Question: {question}")
    chain = prompt | llm
    assert chain.invoke({"question": "why sleep"}) == "echo: Question: why sleep"
    llm.client.close()
    ledger = world.ledger()
    assert ledger.count_requests(EndpointRef(DEMO_USER, "lc-ep")) == 1
    ledger.close()


def test_the_llm_passes_the_explicit_token_and_streams(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    url = world.create("lc-tok", EndpointState.SCALED_TO_ZERO).url
    token = world.env["HF_TOKEN"]
    monkeypatch.delenv("HF_TOKEN")  # upstream would send no token at all for this URL (§12)
    llm = HuggingFaceEndpoint(endpoint_url=url, max_new_tokens=8, huggingfacehub_api_token=token)  # type: ignore[call-arg]
    assert list(llm.stream("to be or not")) == ["echo:", " to", " be", " or", " not"]

    async def in_one_loop() -> tuple[str, list[str]]:
        answer = await llm.ainvoke("async hello")
        chunks = [chunk async for chunk in llm.astream("one two")]
        await llm.async_client.aclose()
        return answer, chunks

    assert asyncio.run(in_one_loop()) == ("echo: async hello", ["echo:", " one", " two"])
    llm.client.close()


def test_chat_model_uses_the_chat_route_of_a_paused_endpoint(world: World) -> None:
    running = world.create("lc-chat", EndpointState.RUNNING)
    with EndpointClient("lc-chat", record=False) as seen:
        assert seen.url == running.url
    world.api.pause("lc-chat")
    chat = ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=running.url, max_new_tokens=8))  # type: ignore[call-arg]
    answer = chat.invoke([HumanMessage(content="hello chat")])
    assert isinstance(answer, AIMessage) and answer.content == "echo: hello chat"
    assert [a.action.value for a in world.ledger().actions(EndpointRef(DEMO_USER, "lc-chat"))][-1] == "resume"
    streamed = "".join(str(chunk.content) for chunk in chat.stream([HumanMessage(content="a b")]))
    assert streamed == "echo: a b"
    chat.llm.client.close()


def test_building_models_calls_nothing_and_starts_no_thread(world: World) -> None:
    """Construction without I/O: a refused token or an unreachable API only matters once a model is called, and
    30 models share one recorder (one thread at most once used)."""
    url = world.create("lc-many", EndpointState.RUNNING).url
    world.clear_counts()
    before = threading.active_count()
    models = [HuggingFaceEndpoint(endpoint_url=url, max_new_tokens=2) for _ in range(30)]  # type: ignore[call-arg]
    refused = HuggingFaceEndpoint(endpoint_url=url, huggingfacehub_api_token="hf_wrong")  # type: ignore[call-arg]
    assert {k: v for k, v in world.counts().items() if "_emulator" not in k} == {}
    assert threading.active_count() == before
    assert [m.invoke("hi") for m in models[:3]] == ["echo: hi"] * 3
    assert threading.active_count() <= before + 1
    with pytest.raises(AuthError):
        refused.invoke("hi")


def test_an_unreachable_api_is_the_first_calls_error_not_the_constructions(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPMGR_HF_API_URL", "http://127.0.0.1:9")  # nothing listens there
    llm = HuggingFaceEndpoint(endpoint_url="http://127.0.0.1:9/e/none", max_new_tokens=2)  # type: ignore[call-arg]
    with pytest.raises(ApiUnavailable):
        llm.invoke("hi")
