"""Every task an endpoint serves, through huggingface_hub's real InferenceClient against the real-time emulator.

Each task's endpoint is created with its task (as ``epmgr create --task`` or ``create_inference_endpoint(task=)``
does); the answers must parse into InferenceClient's own return types, with the right shapes.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from typing import Any

import httpx
import numpy as np
import pytest
from huggingface_hub import (
    AutomaticSpeechRecognitionOutput,
    FillMaskOutputElement,
    HfApi,
    InferenceClient,
    QuestionAnsweringOutputElement,
    SummarizationOutput,
    TextClassificationOutputElement,
    TokenClassificationOutputElement,
    TranslationOutput,
    ZeroShotClassificationOutputElement,
)
from huggingface_hub.errors import BadRequestError, HfHubHTTPError
from PIL import Image

from epmgr.emulator import DEMO_TOKEN, EmulatorServer

POLL = 0.02

REPOSITORIES = {
    "feature-extraction": "BAAI/bge-small-en-v1.5",
    "sentence-similarity": "sentence-transformers/all-MiniLM-L6-v2",
    "text-classification": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    "text-ranking": "BAAI/bge-reranker-base",
    "token-classification": "dslim/bert-base-NER",
    "zero-shot-classification": "facebook/bart-large-mnli",
    "fill-mask": "google-bert/bert-base-uncased",
    "summarization": "facebook/bart-large-cnn",
    "translation": "facebook/nllb-200-distilled-600M",
    "question-answering": "deepset/roberta-base-squad2",
    "automatic-speech-recognition": "openai/whisper-tiny",
    "text-to-image": "stabilityai/stable-diffusion-xl-base-1.0",
}


def running_url(api: HfApi, task: str, name: str | None = None, repository: str | None = None) -> str:
    """Create an endpoint serving ``task`` and wait until it runs; its URL."""
    endpoint = api.create_inference_endpoint(
        name or task.replace("-", "")[:20],
        repository=repository or REPOSITORIES[task],
        framework="pytorch",
        task=task,
        accelerator="cpu",
        vendor="aws",
        region="us-east-1",
        instance_type="intel-icl",
        instance_size="x2",
        namespace="demo",
    )
    endpoint.wait(timeout=5, refresh_every=POLL)  # type: ignore[arg-type]
    assert endpoint.url is not None
    return endpoint.url


def client(url: str, **kwargs: Any) -> InferenceClient:
    return InferenceClient(model=url, token=DEMO_TOKEN, **kwargs)


def wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{int(seconds * rate)}h", *([0] * int(seconds * rate))))
    return buffer.getvalue()


def test_feature_extraction_has_the_models_dimension_and_unit_vectors(hf_api: HfApi) -> None:
    small = client(running_url(hf_api, "feature-extraction"))
    large = client(running_url(hf_api, "feature-extraction", "large", "BAAI/bge-large-en-v1.5"))
    one = small.feature_extraction("the cat sat")
    batch = small.feature_extraction(["the cat sat", "a dog ran", "the cat sat"])
    assert isinstance(one, np.ndarray) and one.shape == (1, 384)
    assert batch.shape == (3, 384) and large.feature_extraction("x").shape == (1, 1024)
    assert np.linalg.norm(batch, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-4)
    assert np.array_equal(batch[0], batch[2]) and not np.array_equal(batch[0], batch[1])  # deterministic, distinct
    assert np.linalg.norm(small.feature_extraction("the cat sat", normalize=False)) > 1.0
    short = small.feature_extraction("the cat sat", dimensions=64)
    assert short.shape == (1, 64) and np.linalg.norm(short) == pytest.approx(1.0, abs=1e-4)


def test_sentence_similarity_ranks_the_sentence_sharing_words_first(hf_api: HfApi) -> None:
    scores = client(running_url(hf_api, "sentence-similarity")).sentence_similarity(
        "the cat sat on the mat", ["stock prices fell", "the cat sat on the mat", "a cat on a mat"]
    )
    assert [type(s) for s in scores] == [float] * 3
    assert scores[1] == pytest.approx(1.0, abs=1e-4) and scores[2] > scores[0]


def test_text_classification_scores_sum_to_one_best_first(hf_api: HfApi) -> None:
    labels = client(running_url(hf_api, "text-classification")).text_classification("I loved it")
    assert all(isinstance(x, TextClassificationOutputElement) for x in labels)
    assert {x.label for x in labels} == {"NEGATIVE", "POSITIVE"}
    assert sum(x.score for x in labels) == pytest.approx(1.0, abs=1e-4)
    assert labels[0].score >= labels[1].score


def test_token_classification_finds_capitalised_words_with_offsets(hf_api: HfApi) -> None:
    text = "my name is Sarah and I live in London"
    tokens = client(running_url(hf_api, "token-classification")).token_classification(text)
    assert all(isinstance(t, TokenClassificationOutputElement) for t in tokens)
    assert [text[t.start : t.end] for t in tokens] == ["Sarah", "I", "London"] == [t.word for t in tokens]
    assert all(t.entity and t.entity.startswith("B-") for t in tokens)
    grouped = client(running_url(hf_api, "token-classification", "grouped")).token_classification(
        text, aggregation_strategy="simple"
    )
    assert all(t.entity_group in ("PER", "ORG", "LOC", "MISC") for t in grouped)


def test_zero_shot_classification_sums_to_one_unless_multi_label(hf_api: HfApi) -> None:
    c = client(running_url(hf_api, "zero-shot-classification"))
    candidates = ["sport", "politics", "cooking"]
    single = c.zero_shot_classification("the match ended in a draw", candidates)
    multi = c.zero_shot_classification("the match ended in a draw", candidates, multi_label=True)
    assert all(isinstance(x, ZeroShotClassificationOutputElement) for x in single)
    assert sorted(x.label for x in single) == sorted(candidates)
    assert sum(x.score for x in single) == pytest.approx(1.0, abs=1e-4)
    assert sum(x.score for x in multi) != pytest.approx(1.0, abs=1e-3)


def test_fill_mask_fills_the_mask_and_refuses_text_without_one(hf_api: HfApi) -> None:
    c = client(running_url(hf_api, "fill-mask"))
    filled = c.fill_mask("The capital of France is [MASK].", top_k=3)
    assert len(filled) == 3 and all(isinstance(x, FillMaskOutputElement) for x in filled)
    assert all("[MASK]" not in x.sequence and x.token_str in x.sequence for x in filled)
    assert c.fill_mask("Hi <mask>", targets=["there"])[0].sequence == "Hi there"
    with pytest.raises(BadRequestError, match="mask_token"):
        c.fill_mask("no mask here")


def test_summarization_translation_and_question_answering(hf_api: HfApi) -> None:
    summary = client(running_url(hf_api, "summarization")).summarization("First sentence here. Second one.")
    assert isinstance(summary, SummarizationOutput) and summary.summary_text == "First sentence here."
    translated = client(running_url(hf_api, "translation")).translation("Hello", src_lang="en", tgt_lang="fr")
    assert isinstance(translated, TranslationOutput) and translated.translation_text == "[fr] Hello"
    context = "Paris is in France. Berlin is the capital of Germany."
    answer = client(running_url(hf_api, "question-answering")).question_answering(
        question="What is the capital of Germany?", context=context
    )
    assert isinstance(answer, QuestionAnsweringOutputElement)
    assert answer.answer == "Berlin is the capital of Germany." == context[answer.start : answer.end]


def test_speech_recognition_reads_raw_audio(hf_api: HfApi) -> None:
    audio = wav()
    out = client(running_url(hf_api, "automatic-speech-recognition")).automatic_speech_recognition(audio)
    assert isinstance(out, AutomaticSpeechRecognitionOutput) and f"{len(audio)} bytes" in out.text


def test_text_to_image_is_a_real_png_of_the_asked_size(hf_api: HfApi) -> None:
    c = client(running_url(hf_api, "text-to-image"))
    image = c.text_to_image("an astronaut riding a horse", width=64, height=32)
    assert isinstance(image, Image.Image) and image.format == "PNG" and image.size == (64, 32)
    assert c.text_to_image("another prompt", width=64, height=32).getpixel((0, 0)) != image.getpixel((0, 0))
    with pytest.raises(BadRequestError, match="width"):
        c.text_to_image("too big", width=4096)


# ------------------------------------------------------------------------------------------- TEI routes


def post(url: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{url}/{path}", json=body, headers={"Authorization": f"Bearer {DEMO_TOKEN}"})


def test_tei_embed_and_openai_embeddings_agree(hf_api: HfApi) -> None:
    url = running_url(hf_api, "feature-extraction")
    embedded = post(url, "embed", {"inputs": ["a b", "c"]}).json()
    openai = post(url, "v1/embeddings", {"input": ["a b", "c"], "model": "x"}).json()
    assert len(embedded) == 2 and len(embedded[0]) == 384
    assert [d["embedding"] for d in openai["data"]] == embedded
    assert openai["object"] == "list" and openai["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    encoded = post(url, "v1/embeddings", {"input": "a b", "encoding_format": "base64"}).json()["data"][0]["embedding"]
    assert isinstance(encoded, str) and len(encoded) > 1000


def test_tei_rerank_predict_and_similarity(hf_api: HfApi) -> None:
    rerank = post(
        running_url(hf_api, "text-ranking"),
        "rerank",
        {
            "query": "capital of France",
            "texts": ["bananas are yellow", "Paris is the capital of France"],
            "return_text": True,
        },
    ).json()
    assert [r["index"] for r in rerank] == [1, 0] and rerank[0]["text"].startswith("Paris")
    assert all(0 < r["score"] < 1 for r in rerank)
    classifier = running_url(hf_api, "text-classification")
    single = post(classifier, "predict", {"inputs": "great"}).json()
    batch = post(classifier, "predict", {"inputs": ["great", "awful"]}).json()
    assert {p["label"] for p in single} == {"NEGATIVE", "POSITIVE"} and batch[0] == single and len(batch) == 2
    assert math.isclose(sum(p["score"] for p in single), 1.0, abs_tol=1e-4)
    similar = post(
        running_url(hf_api, "sentence-similarity"),
        "similarity",
        {"inputs": {"source_sentence": "a", "sentences": ["a", "b"]}},
    ).json()
    assert similar[0] == pytest.approx(1.0, abs=1e-4) and len(similar) == 2


def test_tei_info_names_the_model_type(hf_api: HfApi) -> None:
    url = running_url(hf_api, "text-classification")
    info = httpx.get(f"{url}/info", headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).json()
    assert info["model_id"] == REPOSITORIES["text-classification"]
    assert info["model_type"]["classifier"]["label2id"] == {"NEGATIVE": 0, "POSITIVE": 1}


@pytest.mark.parametrize(
    ("task", "path", "body", "status", "error"),
    [
        (
            "feature-extraction",
            "embed",
            {"inputs": []},
            400,
            {"error": "`inputs` cannot be empty", "error_type": "Empty"},
        ),
        (
            "feature-extraction",
            "embed",
            {"inputs": ["x"] * 33},
            422,
            {"error": "batch size 33 > maximum allowed batch size 32", "error_type": "Validation"},
        ),
        (
            "text-ranking",
            "rerank",
            {"query": "q", "texts": []},
            400,
            {"error": "`texts` cannot be empty", "error_type": "Empty"},
        ),
        (
            "feature-extraction",
            "rerank",
            {"query": "q", "texts": ["a"]},
            424,
            {"error": "model is not a re-ranker model", "error_type": "Backend"},
        ),
        (
            "text-ranking",
            "predict",
            {"inputs": "a"},
            424,
            {"error": "model is not a classifier model", "error_type": "Backend"},
        ),
        (
            "feature-extraction",
            "v1/embeddings",
            {"input": []},
            400,
            {"message": "`inputs` cannot be empty", "code": 400, "type": "Empty"},
        ),
        ("text-generation", "embed", {"inputs": "a"}, 404, {"error": "Not Found"}),
    ],
    ids=[
        "empty",
        "batch-too-big",
        "rerank-empty",
        "rerank-on-embedder",
        "predict-on-reranker",
        "openai-shape",
        "not-tei",
    ],
)
def test_tei_errors_have_teis_shapes(
    hf_api: HfApi, task: str, path: str, body: Any, status: int, error: dict[str, Any]
) -> None:
    url = running_url(hf_api, task, repository="gpt2" if task == "text-generation" else None)
    response = post(url, path, body)
    assert (response.status_code, response.json()) == (status, error)


def test_a_body_that_is_not_the_routes_shape_gets_axums_plain_text(hf_api: HfApi) -> None:
    url = running_url(hf_api, "feature-extraction")
    missing = post(url, "embed", {"text": "a"})
    assert missing.status_code == 422 and missing.text.endswith("missing field `inputs`")
    garbage = httpx.post(f"{url}/embed", content=b"{", headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
    assert garbage.status_code == 400 and garbage.text.startswith("Failed to parse the request body as JSON")


# ------------------------------------------------------------------------------- sleeping endpoints


def test_a_scaled_to_zero_embedder_answers_503_then_holds_with_scale_up_timeout(
    hf_api: HfApi, server: EmulatorServer
) -> None:
    url = running_url(hf_api, "feature-extraction")
    hf_api.scale_to_zero_inference_endpoint("featureextraction", namespace="demo")
    with pytest.raises(HfHubHTTPError) as refused:
        client(url).feature_extraction("wake up")
    assert refused.value.response.status_code == 503
    held = client(url, headers={"X-Scale-Up-Timeout": "10"}).feature_extraction(["wake up"])
    assert held.shape == (1, 384)


def test_a_paused_endpoint_answers_400_invalid_state_on_every_task_route(hf_api: HfApi) -> None:
    url = running_url(hf_api, "text-ranking")
    hf_api.pause_inference_endpoint("textranking", namespace="demo")
    response = post(url, "rerank", {"query": "q", "texts": ["a"]})
    assert (response.status_code, response.text) == (400, "Bad Request: Invalid state")
    with pytest.raises(BadRequestError, match="Invalid state"):
        client(url, headers={"X-Scale-Up-Timeout": "1"}).text_classification("held but never woken")
