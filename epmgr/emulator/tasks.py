"""Deterministic "model" outputs for every task but text generation: right shapes, no model, same input → same output.

- Embeddings are bags of hashed words (one dimension per word, signed), unit length unless asked otherwise, so
  texts that share words are close: retrieval and reranking in a demo pick the sensible document.
- The dimension is the model's (:data:`EMBEDDING_DIMENSIONS`; 768 for a model not listed).
- Classification scores are a softmax over the model's labels: they sum to 1, highest first.
- Images are real PNGs, audio transcripts name the audio's size.
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import zlib
from collections.abc import Sequence
from typing import Any

EMBEDDING_DIMENSIONS = {
    "sentence-transformers/all-MiniLM-L6-v2": 384,
    "sentence-transformers/all-mpnet-base-v2": 768,
    "BAAI/bge-small-en-v1.5": 384,
    "BAAI/bge-base-en-v1.5": 768,
    "BAAI/bge-large-en-v1.5": 1024,
    "BAAI/bge-m3": 1024,
    "intfloat/multilingual-e5-large": 1024,
    "thenlper/gte-base": 768,
    "nomic-ai/nomic-embed-text-v1.5": 768,
    "Qwen/Qwen3-Embedding-0.6B": 1024,
    "mixedbread-ai/mxbai-embed-large-v1": 1024,
}
DEFAULT_DIMENSION = 768
DEFAULT_LABELS = ("NEGATIVE", "POSITIVE")
CLASSIFIER_LABELS = {
    "SamLowe/roberta-base-go_emotions": ("admiration", "anger", "joy", "neutral", "sadness", "surprise"),
    "cardiffnlp/twitter-roberta-base-sentiment-latest": ("negative", "neutral", "positive"),
    "ProsusAI/finbert": ("positive", "negative", "neutral"),
}
MASK_TOKENS = ("[MASK]", "<mask>")
FILL_VOCABULARY = ("the", "a", "paris", "good", "time", "world", "model", "data")
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
MAX_IMAGE_SIDE = 1024
DEFAULT_IMAGE_SIDE = 512

_WORD = re.compile(r"\w+", re.UNICODE)


def dimension(model: str) -> int:
    """The embedding dimension of ``model``."""
    return EMBEDDING_DIMENSIONS.get(model, DEFAULT_DIMENSION)


def labels(model: str) -> tuple[str, ...]:
    """The labels of a text-classification ``model``."""
    return CLASSIFIER_LABELS.get(model, DEFAULT_LABELS)


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def _unit(seed: int) -> float:
    """A number in [0, 1) from a seed."""
    return (seed % 1_000_003) / 1_000_003


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def embed(text: str, dim: int, *, normalize: bool = True) -> list[float]:
    """The embedding of ``text``: each word adds ±1 at a hashed dimension, then a small text-wide component."""
    vector = [0.0] * dim
    for word in words(text):
        seed = _hash("word", word)
        vector[seed % dim] += 1.0 if (seed >> 32) & 1 else -1.0
    seed = _hash("text", text)
    for i in range(0, dim, max(1, dim // 8)):  # never the zero vector, even for "" or punctuation only
        vector[i] += 0.01 * (_unit(seed >> (i % 32)) - 0.5)
    return unit(vector) if normalize else [round(x, 6) for x in vector]


def unit(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1."""
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [round(x / norm, 6) for x in vector]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norms if norms else 0.0


def similarity(source: str, sentences: Sequence[str], dim: int) -> list[float]:
    """Cosine similarity of ``source`` to each sentence."""
    base = embed(source, dim)
    return [round(cosine(base, embed(s, dim)), 6) for s in sentences]


def softmax(logits: Sequence[float]) -> list[float]:
    top = max(logits)
    exps = [math.exp(x - top) for x in logits]
    total = sum(exps)
    return [x / total for x in exps]


def _logits(text: str, names: Sequence[str]) -> list[float]:
    return [4.0 * _unit(_hash("label", name, text)) - 2.0 for name in names]


def classify(text: str, names: Sequence[str], *, raw_scores: bool = False) -> list[dict[str, Any]]:
    """``[{"label", "score"}]`` highest first; scores are a softmax (sum 1) unless ``raw_scores``."""
    logits = _logits(text, names)
    scores = logits if raw_scores else softmax(logits)
    ranked = sorted(zip(names, scores, strict=True), key=lambda pair: -pair[1])
    return [{"label": name, "score": round(score, 6)} for name, score in ranked]


def zero_shot(text: str, candidates: Sequence[str], *, multi_label: bool) -> list[dict[str, Any]]:
    """Scores per candidate label, highest first: a softmax (sum 1), or independent sigmoids with ``multi_label``."""
    logits = [_overlap(text, c) * 3.0 + v for c, v in zip(candidates, _logits(text, candidates), strict=True)]
    scores = [1 / (1 + math.exp(-x)) for x in logits] if multi_label else softmax(logits)
    ranked = sorted(zip(candidates, scores, strict=True), key=lambda pair: -pair[1])
    return [{"label": name, "score": round(score, 6)} for name, score in ranked]


def _overlap(a: str, b: str) -> float:
    first, second = set(words(a)), set(words(b))
    return len(first & second) / len(second) if second else 0.0


def rerank(query: str, texts: Sequence[str], dim: int, *, raw_scores: bool, return_text: bool) -> list[dict[str, Any]]:
    """TEI's ranks, best first: a sigmoid of the query-text similarity (the logit with ``raw_scores``)."""
    base = embed(query, dim)
    ranks = []
    for index, text in enumerate(texts):
        logit = 8.0 * cosine(base, embed(text, dim)) - 2.0
        rank: dict[str, Any] = {"index": index, "score": round(logit if raw_scores else 1 / (1 + math.exp(-logit)), 6)}
        if return_text:
            rank["text"] = text
        ranks.append(rank)
    return sorted(ranks, key=lambda r: -float(r["score"]))


def tokens(text: str) -> int:
    """Tokens counted for ``usage``: one per word (at least one)."""
    return max(1, len(words(text)))


def token_classification(text: str, *, grouped: bool) -> list[dict[str, Any]]:
    """An entity per capitalised word (type by hash), with character offsets; ``entity_group`` when grouped."""
    found = []
    for match in re.finditer(r"\b[A-Z]\w*", text):
        word = match.group(0)
        kind = ENTITY_TYPES[_hash("entity", word) % len(ENTITY_TYPES)]
        key = "entity_group" if grouped else "entity"
        score = round(0.9 + 0.1 * _unit(_hash("score", word)), 6)
        found.append(
            {
                key: kind if grouped else f"B-{kind}",
                "score": score,
                "word": word,
                "start": match.start(),
                "end": match.end(),
            }
        )
    return found


def fill_mask(text: str, mask: str, *, targets: Sequence[str] | None, top_k: int) -> list[dict[str, Any]]:
    """Candidates for the mask, best first, with the filled sequence; the scores are a softmax over the candidates."""
    vocabulary = list(targets) if targets else list(FILL_VOCABULARY)
    scores = softmax(_logits(text, vocabulary))
    ranked = sorted(zip(vocabulary, scores, strict=True), key=lambda pair: -pair[1])[: max(1, top_k)]
    return [
        {
            "score": round(score, 6),
            "token": _hash("token", word) % 30000,
            "token_str": word,
            "sequence": text.replace(mask, word, 1),
        }
        for word, score in ranked
    ]


def summarize(text: str) -> str:
    """The first sentence, or its first 30 words."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return " ".join(first.split()[:30])


def translate(text: str, target: str | None) -> str:
    return f"[{target or 'translated'}] {text}"


def answer(question: str, context: str) -> dict[str, Any]:
    """The context's sentence sharing most words with the question (its first sentence if none), with offsets."""
    sentences = [m for m in re.finditer(r"[^.!?]+[.!?]?", context) if m.group(0).strip()]
    if not sentences:
        return {"answer": "", "score": 0.0, "start": 0, "end": 0}
    best = max(sentences, key=lambda m: _overlap(question, m.group(0)) - m.start() * 1e-9)
    text = best.group(0)
    start = best.start() + len(text) - len(text.lstrip())
    end = best.start() + len(text.rstrip())
    return {
        "answer": context[start:end],
        "score": round(0.5 + 0.5 * _overlap(question, text), 6),
        "start": start,
        "end": end,
    }


def transcribe(audio: bytes) -> str:
    """A transcript naming the audio: its length and a stable fingerprint."""
    return f"transcript of {len(audio)} bytes of audio ({hashlib.sha256(audio).hexdigest()[:8]})"


def png(prompt: str, width: int, height: int) -> bytes:
    """A real RGB PNG of ``width`` × ``height``: a gradient whose colours depend on the prompt."""
    seed = _hash("image", prompt)
    red, green, blue = seed & 0xFF, (seed >> 8) & 0xFF, (seed >> 16) & 0xFF
    rows = []
    for y in range(height):
        shade = (y * 255) // max(1, height - 1)
        pixel = bytes(((red + shade) % 256, (green + shade // 2) % 256, blue))
        rows.append(b"\x00" + pixel * width)
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
