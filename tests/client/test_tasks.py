"""InferenceClient's tasks through epmgr's clients, on scaled-to-zero and paused endpoints of the emulator over HTTP.

Each call must wake its endpoint, answer with InferenceClient's own return type, and leave one request row in
the ledger; an error answer is epmgr's error.
"""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from huggingface_hub import (
    AutomaticSpeechRecognitionOutput,
    FillMaskOutputElement,
    QuestionAnsweringOutputElement,
    SummarizationOutput,
    TextClassificationOutputElement,
    TokenClassificationOutputElement,
    TranslationOutput,
    ZeroShotClassificationOutputElement,
)
from PIL import Image

from epmgr.client import AsyncEndpointClient, EndpointClient
from epmgr.client.tasks import TASKS, Tasks
from epmgr.domain.model import EndpointRef, EndpointSpec, EndpointState
from epmgr.emulator import DEMO_USER
from epmgr.errors import BadRequest
from tests.client.world import CPU, World


def audio() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


Check = Callable[[Any], bool]

# task → (endpoint task, repository, call, what the answer must satisfy)
CASES: dict[str, tuple[str, str, Callable[[Tasks], Any], Check]] = {
    "feature_extraction": (
        "feature-extraction",
        "BAAI/bge-small-en-v1.5",
        lambda c: c.feature_extraction(["a b", "c"]),
        lambda r: isinstance(r, np.ndarray) and r.shape == (2, 384),
    ),
    "sentence_similarity": (
        "sentence-similarity",
        "sentence-transformers/all-MiniLM-L6-v2",
        lambda c: c.sentence_similarity("a cat", ["a cat", "stocks"]),
        lambda r: len(r) == 2 and abs(r[0] - 1) < 1e-4 and r[1] < r[0],
    ),
    "text_classification": (
        "text-classification",
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        lambda c: c.text_classification("I loved it"),
        lambda r: (
            all(isinstance(x, TextClassificationOutputElement) for x in r) and abs(sum(x.score for x in r) - 1) < 1e-4
        ),
    ),
    "token_classification": (
        "token-classification",
        "dslim/bert-base-NER",
        lambda c: c.token_classification("I met Ada in Paris"),
        lambda r: (
            all(isinstance(x, TokenClassificationOutputElement) for x in r)
            and [x.word for x in r] == ["I", "Ada", "Paris"]
        ),
    ),
    "zero_shot_classification": (
        "zero-shot-classification",
        "facebook/bart-large-mnli",
        lambda c: c.zero_shot_classification("a goal in the match", ["sport", "cooking"]),
        lambda r: (
            all(isinstance(x, ZeroShotClassificationOutputElement) for x in r)
            and abs(sum(x.score for x in r) - 1) < 1e-4
        ),
    ),
    "fill_mask": (
        "fill-mask",
        "google-bert/bert-base-uncased",
        lambda c: c.fill_mask("Paris is [MASK].", top_k=2),
        lambda r: len(r) == 2 and all(isinstance(x, FillMaskOutputElement) and "[MASK]" not in x.sequence for x in r),
    ),
    "summarization": (
        "summarization",
        "facebook/bart-large-cnn",
        lambda c: c.summarization("One. Two."),
        lambda r: isinstance(r, SummarizationOutput) and r.summary_text == "One.",
    ),
    "translation": (
        "translation",
        "facebook/nllb-200-distilled-600M",
        lambda c: c.translation("Hello", src_lang="en", tgt_lang="de"),
        lambda r: isinstance(r, TranslationOutput) and r.translation_text == "[de] Hello",
    ),
    "question_answering": (
        "question-answering",
        "deepset/roberta-base-squad2",
        lambda c: c.question_answering(question="Where is Ada?", context="Bob is home. Ada is in Paris."),
        lambda r: isinstance(r, QuestionAnsweringOutputElement) and r.answer == "Ada is in Paris.",
    ),
    "automatic_speech_recognition": (
        "automatic-speech-recognition",
        "openai/whisper-tiny",
        lambda c: c.automatic_speech_recognition(audio()),
        lambda r: isinstance(r, AutomaticSpeechRecognitionOutput) and f"{len(audio())} bytes" in r.text,
    ),
    "text_to_image": (
        "text-to-image",
        "stabilityai/stable-diffusion-xl-base-1.0",
        lambda c: c.text_to_image("a red fox", width=24, height=16),
        lambda r: isinstance(r, Image.Image) and r.size == (24, 16),
    ),
}


def create(world: World, name: str, task: str, repository: str) -> None:
    spec = EndpointSpec(name=name, repository=repository, instance=CPU, min_replica=0)
    world.api.create(EndpointSpec(**{**spec.__dict__, "task": task}))


def asleep(world: World, names: list[str], state: EndpointState) -> None:
    """Every endpoint running first, then scaled to zero or paused."""
    for name in names:
        world.until(name, EndpointState.RUNNING)
    for name in names:
        world.api.pause(name) if state == EndpointState.PAUSED else world.api.scale_to_zero(name)
    for name in names:
        world.until(name, state)


STATES = [EndpointState.SCALED_TO_ZERO, EndpointState.PAUSED]


def test_the_listed_tasks_are_offered_by_both_clients() -> None:
    assert set(CASES) <= set(TASKS)
    assert all(hasattr(c, task) for c in (EndpointClient, AsyncEndpointClient) for task in TASKS)


@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_every_task_wakes_its_endpoint_and_is_recorded(world: World, state: EndpointState) -> None:
    names = {task: task.replace("_", "-")[:30] for task in CASES}
    for task, (hf_task, repository, _, _) in CASES.items():
        create(world, names[task], hf_task, repository)
    asleep(world, list(names.values()), state)
    for task, (_, _, call, check) in CASES.items():
        client = EndpointClient(names[task])
        with client:
            answer = call(client)
        assert check(answer), f"{task} answered {answer!r}"
    ledger = world.ledger()
    assert {task: ledger.count_requests(EndpointRef(DEMO_USER, names[task])) for task in CASES} == dict.fromkeys(
        CASES, 1
    )


def test_the_async_tasks_wake_a_scaled_to_zero_endpoint(world: World) -> None:
    create(world, "embedder", "feature-extraction", "BAAI/bge-base-en-v1.5")
    create(world, "painter", "text-to-image", "stabilityai/stable-diffusion-xl-base-1.0")
    asleep(world, ["embedder", "painter"], EndpointState.SCALED_TO_ZERO)

    async def main() -> tuple[Any, Any]:
        embedder, painter = AsyncEndpointClient("embedder"), AsyncEndpointClient("painter")
        async with embedder, painter:
            return await embedder.feature_extraction("hello"), await painter.text_to_image("fox", width=8, height=8)

    vectors, image = asyncio.run(main())
    assert vectors.shape == (1, 768) and image.size == (8, 8)
    assert world.ledger().count_requests(EndpointRef(DEMO_USER, "embedder")) == 1


def test_an_error_answer_is_epmgrs_bad_request(world: World) -> None:
    create(world, "masker", "fill-mask", "google-bert/bert-base-uncased")
    asleep(world, ["masker"], EndpointState.PAUSED)
    client = EndpointClient("masker")
    with client, pytest.raises(BadRequest, match="masker answered 400: No mask_token"):
        client.fill_mask("there is no mask in this text")


def test_model_cannot_point_an_epmgr_client_elsewhere(world: World) -> None:
    create(world, "other", "summarization", "facebook/bart-large-cnn")
    world.until("other", EndpointState.RUNNING)
    client = EndpointClient("other")
    with client, pytest.raises(ValueError, match="calls its own endpoint only"):
        client.summarization("x", model="https://example.com")


def test_task_calls_are_recorded_on_either_ledger(
    world: World, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPMGR_DB_URL", ledger_url)
    world.db_url = ledger_url
    create(world, "ranker", "text-classification", "distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    asleep(world, ["ranker"], EndpointState.SCALED_TO_ZERO)
    with EndpointClient("ranker") as client:
        labels = client.text_classification("fine")
        client.request("POST", "/predict", json={"inputs": ["a", "b"]})
    assert len(labels) == 2
    ledger = world.ledger()
    rows = ledger.requests(EndpointRef(DEMO_USER, "ranker"))
    ledger.close()
    assert [(r.status_code, r.client_id) for r in rows] == [(200, "client"), (200, "client")]
