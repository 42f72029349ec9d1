"""``local:`` for real: a tiny random model built into a temporary folder, loaded once through
``HuggingFacePipeline.from_model_id``; chat goes through the tokenizer's own chat template (Phi-3's here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from epmgr.domain.fallback import parse_spec
from epmgr.domain.model import EndpointState
from epmgr.errors import ConfigError
from epmgr.fallback import FallbackClient
from epmgr.fallback.local import LocalBackend, installed, pipeline_of
from tests.client.world import World
from tests.fallback.tiny_model import build_tiny_model

pytestmark = pytest.mark.skipif(
    not installed(), reason="transformers and torch are not installed: pip install '.[local]'"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    pytest.importorskip("langchain_huggingface")
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-phi3")))


def test_chat_is_formatted_by_the_models_own_template_and_answered(tiny: str) -> None:
    backend = LocalBackend(parse_spec(f"local:{tiny}"))
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    assert backend.prompt_of(messages) == "<|system|>\nbe brief<|end|>\n<|user|>\nhello there<|end|>\n<|assistant|>\n"
    answer = backend.chat_completion(messages, max_tokens=4)
    assert answer.choices[0].message.role == "assistant"
    assert answer.usage.prompt_tokens == len(pipeline_of(tiny).tokenizer(backend.prompt_of(messages))["input_ids"])
    assert answer.usage.completion_tokens >= 1
    assert pipeline_of(tiny) is pipeline_of(tiny)  # loaded once per process


def test_a_sleeping_primary_is_answered_by_the_local_model(world: World, tiny: str) -> None:
    world.create("fb-local", EndpointState.PAUSED)
    with FallbackClient("fb-local", fallback=[f"local:{tiny}"]) as client:
        answer = client.chat_completion([{"role": "user", "content": "hello"}], max_tokens=3)
        raw = client.text_generation("<|user|>\nhello<|end|>\n<|assistant|>\n", max_new_tokens=3)
        client.wait_for_wake()
    assert answer.served_by == f"local:{tiny}" and raw.served_by == f"local:{tiny}"
    assert isinstance(raw, str)


def test_a_missing_folder_is_one_line_naming_it_and_the_chain_skips_it(world: World, tmp_path: Path) -> None:
    missing = f"local:{tmp_path / 'nothing-here'}"
    with pytest.raises(ConfigError, match="nothing-here.*not found"):
        LocalBackend(parse_spec(missing)).text_generation("hi")
    world.create("fb-missing", EndpointState.PAUSED)
    with FallbackClient("fb-missing", fallback=[missing]) as client:
        assert client.text_generation("hi", max_new_tokens=3) == "echo: hi"  # no fallback left: the primary, woken
        assert client.last_served_by == "primary"
