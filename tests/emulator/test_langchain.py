"""langchain-huggingface's HuggingFaceEndpoint and ChatHuggingFace against emulated endpoints."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from epmgr.clock import FakeClock
from tests.emulator.helpers import AUTH, SLOW, body

pytest.importorskip("langchain_huggingface")

from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint  # noqa: E402


@pytest.fixture
def url(fake_hf_api: HfApi, fake_http: httpx.Client, clock: FakeClock) -> str:
    """A running authenticated endpoint's URL (huggingface_hub is pointed at the same FakeClock emulator)."""
    fake_http.post("/v2/endpoint/demo", json=body())
    clock.advance(timedelta(seconds=SLOW.pending + SLOW.initializing))
    endpoint_url: str = fake_http.get("/v2/endpoint/demo/ep").json()["status"]["url"]
    return endpoint_url


def llm_for(url: str, **kwargs: object) -> HuggingFaceEndpoint:
    # The token goes in explicit headers: for a non-huggingface.co URL LangChain drops its own token (§12).
    options: dict[str, object] = {"max_new_tokens": 8, "server_kwargs": {"headers": AUTH}}
    options.update(kwargs)
    return HuggingFaceEndpoint(endpoint_url=url, **options)  # type: ignore[arg-type]


def test_the_llm_gets_an_answer_from_a_running_endpoint(url: str) -> None:
    assert llm_for(url).invoke("What is up") == "echo: What is up"


def test_the_llm_streams_the_answer(url: str) -> None:
    assert list(llm_for(url).stream("to be or not")) == ["echo:", " to", " be", " or", " not"]


def test_the_llm_honours_max_new_tokens(url: str) -> None:
    assert llm_for(url, max_new_tokens=2).invoke("one two three") == "echo: one"


def test_hf_token_in_the_environment_works_too(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = llm_for(url, server_kwargs={})  # HF_TOKEN is the demo token (fixture)
    assert llm.invoke("via env") == "echo: via env"
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HfHubHTTPError) as caught:  # LangChain's token bug: no token at all is sent
        llm_for(url, server_kwargs={}, huggingfacehub_api_token="ignored").invoke("no token")
    assert caught.value.response.status_code == 401


def test_chat_model_answers_through_chat_completions(url: str) -> None:
    chat = ChatHuggingFace(llm=llm_for(url))
    answer = chat.invoke([HumanMessage(content="hello chat")])
    assert isinstance(answer, AIMessage) and answer.content == "echo: hello chat"
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] == 5


def test_a_scaled_to_zero_endpoint_gives_a_503_error_and_wakes(url: str, fake_http: httpx.Client) -> None:
    fake_http.post("/v2/endpoint/demo/ep/scale-to-zero")
    with pytest.raises(HfHubHTTPError) as caught:
        llm_for(url).invoke("are you there")
    assert caught.value.response.status_code == 503
    assert fake_http.get("/v2/endpoint/demo/ep").json()["status"]["state"] == "initializing"
