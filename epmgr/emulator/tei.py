"""The answers of endpoints serving a task other than text generation: TEI's routes and the toolkit's ``POST /``.

An endpoint created with ``feature-extraction``, ``sentence-similarity``, ``text-classification`` or
``text-ranking`` runs Text Embeddings Inference: ``/embed``, ``/v1/embeddings``, ``/similarity``, ``/predict``
and ``/rerank``, and ``POST /`` is the route of its model type (embed, similarity, predict, rerank, as TEI's
router picks it). Any other task runs the HF inference toolkit: ``POST /`` with ``{"inputs", "parameters"}``
(raw audio for speech recognition), answered in the shapes huggingface_hub's ``InferenceClient`` parses.

Errors are TEI's: ``{"error", "error_type"}`` with 400 (``Empty``), 422 (``Validation``) or 424 (``Backend``,
a route its model type does not serve); ``/v1/embeddings`` answers ``{"message", "code", "type"}``; a body
that is not JSON gets axum's plain-text 400/422. The toolkit answers ``{"error": ...}`` with 400.
Every answer is a pure function of the request: see :mod:`epmgr.emulator.tasks`.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

from epmgr.emulator import tasks

TGI_TASKS = frozenset({"text-generation", "text2text-generation", "conversational", "image-text-to-text"})
TEI_MODEL_TYPES = {
    "feature-extraction": "embedding",
    "sentence-similarity": "embedding",
    "text-classification": "classifier",
    "text-ranking": "reranker",
}
TOOLKIT_TASKS = frozenset(
    {
        "token-classification",
        "zero-shot-classification",
        "fill-mask",
        "summarization",
        "translation",
        "question-answering",
        "automatic-speech-recognition",
        "text-to-image",
    }
)
MAX_CLIENT_BATCH_SIZE = 32  # TEI's --max-client-batch-size default
TEI_VERSION = "1.8.2"
_NOT_SERVED = {
    "embedding": "model is not an embedding model",
    "classifier": "model is not a classifier model",
    "reranker": "model is not a re-ranker model",
}


class Refusal(Exception):
    """A request answered with an error; carries the response."""

    def __init__(self, response: Response) -> None:
        self.response = response


def tei_error(message: str, kind: str) -> Refusal:
    """TEI's ``{"error", "error_type"}`` with the status of its error type."""
    status = {"Empty": 400, "Validation": 422, "Tokenizer": 422, "Backend": 424, "Overloaded": 429}[kind]
    return Refusal(JSONResponse({"error": message, "error_type": kind}, status_code=status))


def toolkit_error(message: str) -> Refusal:
    return Refusal(JSONResponse({"error": message}, status_code=400))


def serves_tei(task: str) -> bool:
    return task in TEI_MODEL_TYPES


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(PlainTextResponse(f"Failed to parse the request body as JSON: {exc}", status_code=400)) from None


def _shape_error(what: str) -> Refusal:
    message = f"Failed to deserialize the JSON body into the target type: {what}"
    return Refusal(PlainTextResponse(message, status_code=422))


def _object(raw: bytes, *required: str) -> dict[str, Any]:
    body = _json(raw)
    if not isinstance(body, dict):
        raise _shape_error("expected a JSON object")
    for key in required:
        if key not in body:
            raise _shape_error(f"missing field `{key}`")
    return body


def _strings(value: Any, field: str) -> tuple[list[str], bool]:
    """The texts of ``inputs``/``input`` and whether it was a batch (a list)."""
    if isinstance(value, str):
        return [value], False
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value), True
    raise _shape_error(f"`{field}` must be a string or a list of strings")


def _batch(texts: list[str], field: str = "inputs") -> None:
    if not texts:
        raise tei_error(f"`{field}` cannot be empty", "Empty")
    if len(texts) > MAX_CLIENT_BATCH_SIZE:
        raise tei_error(f"batch size {len(texts)} > maximum allowed batch size {MAX_CLIENT_BATCH_SIZE}", "Validation")


def _require(task: str, model_type: str) -> None:
    if TEI_MODEL_TYPES.get(task) != model_type:
        raise tei_error(_NOT_SERVED[model_type], "Backend")


def _vectors(model: str, texts: list[str], normalize: bool, dimensions: Any) -> list[list[float]]:
    dim = tasks.dimension(model)
    if dimensions is not None and (not isinstance(dimensions, int) or not 0 < dimensions <= dim):
        raise tei_error(f"`dimensions` must be between 1 and {dim}", "Validation")
    vectors = [tasks.embed(text, dim, normalize=False)[: dimensions or dim] for text in texts]
    return [tasks.unit(v) for v in vectors] if normalize else vectors  # TEI truncates, then normalizes


# ------------------------------------------------------------------------------------------ TEI routes


def embed(task: str, model: str, raw: bytes) -> Response:
    """``POST /embed``: ``[[float, ...], ...]``, one vector per input (a single string is a batch of one)."""
    _require(task, "embedding")
    body = _object(raw, "inputs")
    texts, _ = _strings(body["inputs"], "inputs")
    _batch(texts)
    return JSONResponse(_vectors(model, texts, body.get("normalize", True) is not False, body.get("dimensions")))


def openai_embeddings(task: str, model: str, raw: bytes) -> Response:
    """``POST /v1/embeddings``: OpenAI's list of embeddings with usage; errors as ``{"message", "code", "type"}``."""
    try:
        _require(task, "embedding")
        body = _object(raw, "input")
        texts, _ = _strings(body["input"], "input")
        _batch(texts)
        vectors = _vectors(model, texts, True, body.get("dimensions"))
    except Refusal as refusal:
        if not isinstance(refusal.response, JSONResponse):
            raise
        error = json.loads(bytes(refusal.response.body))
        status = refusal.response.status_code
        raise Refusal(
            JSONResponse({"message": error["error"], "code": status, "type": error["error_type"]}, status)
        ) from None
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {"object": "embedding", "embedding": _base64(v) if as_base64 else v, "index": i} for i, v in enumerate(vectors)
    ]
    used = sum(tasks.tokens(t) for t in texts)
    return JSONResponse(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": used, "total_tokens": used}}
    )


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def similarity(task: str, model: str, raw: bytes) -> Response:
    """``POST /similarity``: the cosine similarity of ``inputs.source_sentence`` to each of ``inputs.sentences``."""
    _require(task, "embedding")
    inputs = _object(raw, "inputs")["inputs"]
    if not isinstance(inputs, dict) or not isinstance(inputs.get("source_sentence"), str):
        raise _shape_error("`inputs` must be an object with `source_sentence` and `sentences`")
    sentences, _ = _strings(inputs.get("sentences"), "inputs.sentences")
    if not sentences:
        raise tei_error("`inputs.sentences` cannot be empty", "Empty")
    _batch(["", *sentences])
    return JSONResponse(tasks.similarity(inputs["source_sentence"], sentences, tasks.dimension(model)))


def predict(task: str, model: str, raw: bytes) -> Response:
    """``POST /predict``: ``[{"label", "score"}]`` for one text, a list of those for a batch; softmax scores."""
    _require(task, "classifier")
    body = _object(raw, "inputs")
    texts, batched = _strings(body["inputs"], "inputs")
    _batch(texts)
    raw_scores = bool(body.get("raw_scores"))
    results = [tasks.classify(text, tasks.labels(model), raw_scores=raw_scores) for text in texts]
    return JSONResponse(results if batched else results[0])


def rerank(task: str, model: str, raw: bytes) -> Response:
    """``POST /rerank``: ``[{"index", "score", "text"?}]`` best first."""
    _require(task, "reranker")
    body = _object(raw, "query", "texts")
    query = body["query"]
    texts, _ = _strings(body["texts"], "texts")
    if not isinstance(query, str):
        raise _shape_error("`query` must be a string")
    _batch(texts, "texts")
    ranks = tasks.rerank(
        query,
        texts,
        tasks.dimension(model),
        raw_scores=bool(body.get("raw_scores")),
        return_text=bool(body.get("return_text")),
    )
    return JSONResponse(ranks)


ROUTES: dict[str, Callable[[str, str, bytes], Response]] = {
    "embed": embed,
    "v1/embeddings": openai_embeddings,
    "similarity": similarity,
    "predict": predict,
    "rerank": rerank,
}


def route(path: str, task: str, model: str, raw: bytes) -> Response:
    """A TEI route's answer; 404 on an endpoint that does not run TEI (TGI and the toolkit have no such route)."""
    if not serves_tei(task):
        return JSONResponse({"error": "Not Found"}, status_code=404)
    try:
        return ROUTES[path](task, model, raw)
    except Refusal as refusal:
        return refusal.response


def info(task: str, model: str) -> dict[str, Any]:
    """TEI's ``GET /info``."""
    kind = TEI_MODEL_TYPES[task]
    model_type: dict[str, Any] = {"embedding": {"pooling": "cls"}}
    if kind == "classifier":
        names = tasks.labels(model)
        model_type = {
            "classifier": {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}
        }
    elif kind == "reranker":
        model_type = {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}
    return {
        "model_id": model,
        "model_sha": None,
        "model_dtype": "float16",
        "model_type": model_type,
        "max_concurrent_requests": 512,
        "max_input_length": 512,
        "max_batch_tokens": 16384,
        "max_batch_requests": None,
        "max_client_batch_size": MAX_CLIENT_BATCH_SIZE,
        "auto_truncate": True,
        "tokenization_workers": 2,
        "version": TEI_VERSION,
        "sha": None,
        "docker_label": "epmgr-emulator",
    }


# ------------------------------------------------------------------------------------------ POST /


def root(task: str, model: str, raw: bytes, content_type: str) -> Response:
    """``POST /`` of an endpoint that does not generate text: TEI's route for its model type, or the toolkit's."""
    try:
        if task in ("feature-extraction",):
            return embed(task, model, raw)
        if task == "sentence-similarity":
            return similarity(task, model, raw)
        if task == "text-ranking":
            return rerank(task, model, raw)
        if task == "text-classification":
            return _classification(model, raw)
        if task == "automatic-speech-recognition":
            return _speech(raw, content_type)
        if task in TOOLKIT_TASKS:
            return _toolkit(task, _object(raw, "inputs"))
        raise toolkit_error(f"the emulator serves no model for the task '{task}'")
    except Refusal as refusal:
        return refusal.response


def _classification(model: str, raw: bytes) -> Response:
    """The toolkit's shape: a list of ``[{"label", "score"}]`` per input (what InferenceClient parses)."""
    body = _object(raw, "inputs")
    texts, _ = _strings(body["inputs"], "inputs")
    _batch(texts)
    params = body.get("parameters") or {}
    names = tasks.labels(model)
    results = [tasks.classify(text, names) for text in texts]
    top_k = params.get("top_k") if isinstance(params, dict) else None
    return JSONResponse([r[:top_k] if isinstance(top_k, int) and top_k > 0 else r for r in results])


def _speech(raw: bytes, content_type: str) -> Response:
    audio = raw
    if content_type.startswith("application/json"):
        body = _object(raw, "inputs")
        try:
            audio = base64.b64decode(str(body["inputs"]), validate=True)
        except ValueError:
            raise toolkit_error("`inputs` must be base64-encoded audio") from None
    if not audio:
        raise toolkit_error("the audio is empty")
    return JSONResponse({"text": tasks.transcribe(audio), "chunks": None})


def _text(body: dict[str, Any]) -> str:
    if not isinstance(body["inputs"], str):
        raise toolkit_error("`inputs` must be a string")
    return str(body["inputs"])


def _toolkit(task: str, body: dict[str, Any]) -> Response:
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise toolkit_error("`parameters` must be an object")
    if task == "question-answering":
        inputs = body["inputs"]
        if not isinstance(inputs, dict) or not all(isinstance(inputs.get(k), str) for k in ("question", "context")):
            raise toolkit_error("`inputs` must be an object with `question` and `context` strings")
        return JSONResponse(tasks.answer(inputs["question"], inputs["context"]))
    text = _text(body)
    if task == "token-classification":
        grouped = params.get("aggregation_strategy") not in (None, "none")
        return JSONResponse(tasks.token_classification(text, grouped=grouped))
    if task == "zero-shot-classification":
        candidates = params.get("candidate_labels")
        if not isinstance(candidates, list) or not candidates or not all(isinstance(c, str) for c in candidates):
            raise toolkit_error("`parameters.candidate_labels` must be a non-empty list of strings")
        return JSONResponse(tasks.zero_shot(text, candidates, multi_label=bool(params.get("multi_label"))))
    if task == "fill-mask":
        mask = next((m for m in tasks.MASK_TOKENS if m in text), None)
        if mask is None:
            raise toolkit_error(f"No mask_token ({tasks.MASK_TOKENS[0]}) found on the input")
        top_k = params["top_k"] if isinstance(params.get("top_k"), int) else 5
        return JSONResponse(tasks.fill_mask(text, mask, targets=params.get("targets"), top_k=top_k))
    if task == "summarization":
        return JSONResponse([{"summary_text": tasks.summarize(text)}])
    if task == "translation":
        return JSONResponse([{"translation_text": tasks.translate(text, params.get("tgt_lang"))}])
    return _image(text, params)


def _image(prompt: str, params: dict[str, Any]) -> Response:
    sides = []
    for key in ("width", "height"):
        side = params.get(key, tasks.DEFAULT_IMAGE_SIDE)
        if not isinstance(side, int) or not 0 < side <= tasks.MAX_IMAGE_SIDE:
            raise toolkit_error(f"`parameters.{key}` must be an integer from 1 to {tasks.MAX_IMAGE_SIDE}")
        sides.append(side)
    return Response(tasks.png(prompt, sides[0], sides[1]), media_type="image/png")
