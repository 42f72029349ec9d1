"""The emulated serverless router, driven by huggingface_hub's real InferenceClient over HTTP."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from epmgr.domain.fallback import parse_spec
from epmgr.emulator import DEMO_TOKEN, EmulatorServer
from epmgr.errors import ApiUnavailable, BadRequest
from epmgr.fallback.backends import RouterBackend
from tests.adapters.conftest import emulator

__all__ = ["emulator"]
PHI3 = "microsoft/Phi-3-mini-4k-instruct"


def test_chat_by_repo_id_and_provider_suffix(emulator: EmulatorServer) -> None:
    client = InferenceClient(base_url=emulator.url, api_key=DEMO_TOKEN)
    for model in (PHI3, f"{PHI3}:fastest"):
        answer = client.chat_completion([{"role": "user", "content": "hi there"}], model=model, max_tokens=5)
        assert answer.choices[0].message.content == "echo: hi there"
        assert answer.model == PHI3 and answer.usage.completion_tokens == 3
    client.close()  # type: ignore[no-untyped-call]


def test_raw_text_generation_goes_to_hf_inference_unchanged(emulator: EmulatorServer) -> None:
    client = InferenceClient(model=f"{emulator.url}/hf-inference/models/{PHI3}", api_key=DEMO_TOKEN)
    assert client.text_generation("<|user|> hi <|end|>", max_new_tokens=10) == "echo: <|user|> hi <|end|>"
    client.close()  # type: ignore[no-untyped-call]


def test_an_unsupported_model_is_the_routers_400_and_bad_request_in_epmgr(emulator: EmulatorServer) -> None:
    client = InferenceClient(base_url=emulator.url, api_key=DEMO_TOKEN)
    with pytest.raises(HfHubHTTPError) as caught:
        client.chat_completion([{"role": "user", "content": "x"}], model="someone/unknown-model")
    assert caught.value.response is not None and caught.value.response.status_code == 400
    assert caught.value.response.json()["error"]["code"] == "model_not_supported"
    client.close()  # type: ignore[no-untyped-call]
    backend = RouterBackend(parse_spec("serverless:someone/unknown-model"), token=DEMO_TOKEN, router=emulator.url)
    with pytest.raises(BadRequest, match="not supported"):
        backend.chat_completion([{"role": "user", "content": "x"}])
    backend.close()


def test_no_token_is_401_and_latency_is_settable(emulator: EmulatorServer) -> None:
    anonymous = httpx.post(f"{emulator.url}/v1/chat/completions", json={"model": PHI3, "messages": []})
    assert anonymous.status_code == 401
    changed = httpx.put(f"{emulator.url}/_emulator/router", json={"latency_s": 0, "models": [PHI3, "a/b"]})
    assert changed.json()["models"] == ["a/b", PHI3] and changed.json()["latency_s"] == 0


def test_a_router_that_is_down_is_api_unavailable() -> None:
    backend = RouterBackend(parse_spec(f"serverless:{PHI3}"), token=DEMO_TOKEN, router="http://127.0.0.1:9")
    with pytest.raises(ApiUnavailable, match="serverless:microsoft"):
        backend.chat_completion([{"role": "user", "content": "x"}])
    backend.close()
