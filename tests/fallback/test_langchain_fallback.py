"""Acceptance (issue 14): 50 concurrent LangChain invokes on a paused primary are all answered by the serverless
router while the primary wakes in the background (real HF timings, accelerated clock); exactly one resume is
made; once the primary is ready the next call is served by it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from epmgr.domain.model import EndpointRef, EndpointState
from epmgr.emulator import DEMO_USER
from tests.fallback.test_chain_emulator import PHI3, resumes
from tests.realtime.conftest import Hf

pytest.importorskip("langchain_huggingface")

from langchain_core.messages import HumanMessage  # noqa: E402

from epmgr.langchain import ChatHuggingFace, HuggingFaceEndpoint  # noqa: E402


def test_fifty_concurrent_invokes_answered_by_the_router_while_one_resume_wakes_the_primary(
    hf: Hf, monkeypatch: pytest.MonkeyPatch
) -> None:
    hf.create("lc-fb", EndpointState.PAUSED)
    monkeypatch.setenv("EPMGR_HF_ROUTER_URL", hf.server.url)  # the emulator serves the router too
    llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
        endpoint_url="lc-fb", max_new_tokens=16, task="text-generation", fallback=[PHI3]
    )
    chat = ChatHuggingFace(llm=llm, model_id="microsoft/Phi-3-mini-4k-instruct")
    chain = llm.client
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda i: chat.invoke([HumanMessage(f"question {i}")]), range(50)))
    waking = chain.waking  # the primary's cold start (minutes on HF) is still under way: nobody waited for it
    assert waking
    assert [a.content for a in answers] == [f"echo: question {i}" for i in range(50)]
    assert {a.response_metadata["served_by"] for a in answers} == {PHI3}
    chain.wait_for_wake()
    assert hf.api.get("lc-fb").state == EndpointState.RUNNING
    after = chat.invoke([HumanMessage("now you")])
    assert after.response_metadata["served_by"] == "primary"
    text = llm.invoke("raw prompt")  # the LLM's raw prompt reaches the primary unchanged
    assert text == "echo: raw prompt"
    assert resumes(hf) == 1
    chain.close()
    ledger = hf.ledger()
    rows = ledger.requests(EndpointRef(DEMO_USER, "lc-fb"))
    ledger.close()
    assert sum(1 for r in rows if r.served_by == PHI3) == 50


def test_the_llm_says_who_served_in_generation_info(hf: Hf, monkeypatch: pytest.MonkeyPatch) -> None:
    hf.create("lc-fb-llm", EndpointState.PAUSED)
    monkeypatch.setenv("EPMGR_HF_ROUTER_URL", hf.server.url)
    llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
        endpoint_url="lc-fb-llm", max_new_tokens=16, task="text-generation", fallback=[PHI3]
    )
    result = llm.generate(["<|user|> hi <|end|><|assistant|>"])  # a raw prompt is sent unchanged
    generation = result.generations[0][0]
    assert generation.generation_info == {"served_by": PHI3}
    assert generation.text == "echo: <|user|> hi <|end|><|assistant|>"
    llm.client.close()
