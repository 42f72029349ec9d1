"""Deterministic "model" output in the TGI and OpenAI chat formats that huggingface_hub parses.

The reply to a prompt is ``"echo: "`` followed by the prompt's words, one token per word, cut at
``max_new_tokens`` (or ``max_tokens``) tokens or just after a stop sequence. A token is a word with its leading
space; token counts are word counts. Same input, same output.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_NEW_TOKENS = 100
MODEL_NAME = "epmgr-emulator"
LOGPROB = -0.25


@dataclass(frozen=True)
class Generation:
    """A generated reply.

    Args:
        tokens: The token texts; their concatenation is the text.
        finish_reason: TGI's ``"length"``, ``"eos_token"`` or ``"stop_sequence"``.
        input_tokens: Tokens counted in the input.
    """

    tokens: tuple[str, ...]
    finish_reason: str
    input_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.tokens)


def count_tokens(text: str) -> int:
    """The emulator's tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def token_id(text: str) -> int:
    """A stable token id for a token text."""
    return zlib.crc32(text.encode()) % 32000


def generate(
    prompt: str, max_new_tokens: int | None, stop: Sequence[str] = (), input_tokens: int | None = None
) -> Generation:
    """The reply to ``prompt``: ``echo:`` and the prompt's words, cut at the token limit or a stop sequence."""
    words = ["echo:", *prompt.split()]
    limit = DEFAULT_MAX_NEW_TOKENS if max_new_tokens is None else max(0, max_new_tokens)
    tokens: list[str] = []
    finish = "eos_token"
    for index, word in enumerate(words):
        if len(tokens) >= limit:
            finish = "length"
            break
        tokens.append(word if index == 0 else f" {word}")
        text = "".join(tokens)
        if any(s and s in text for s in stop):
            finish = "stop_sequence"
            break
    return Generation(tuple(tokens), finish, count_tokens(prompt) if input_tokens is None else input_tokens)


def _token_json(text: str) -> dict[str, Any]:
    return {"id": token_id(text), "text": text, "logprob": LOGPROB, "special": False}


def tgi_output(generation: Generation, *, details: bool, seed: int | None, prefix: str = "") -> dict[str, Any]:
    """One TGI ``/generate`` result: ``generated_text`` and, if asked, ``details``."""
    output: dict[str, Any] = {"generated_text": prefix + generation.text}
    if details:
        output["details"] = {
            "finish_reason": generation.finish_reason,
            "generated_tokens": len(generation.tokens),
            "seed": seed,
            "prefill": [],
            "tokens": [_token_json(t) for t in generation.tokens],
            "best_of_sequences": None,
        }
    return output


def tgi_stream(generation: Generation, *, seed: int | None, prefix: str = "") -> Iterator[dict[str, Any]]:
    """The TGI ``/generate_stream`` events; the last one carries ``generated_text`` and ``details``."""
    last = len(generation.tokens) - 1
    for index, text in enumerate(generation.tokens):
        final = index == last
        yield {
            "index": index + 1,
            "token": _token_json(text),
            "top_tokens": None,
            "generated_text": prefix + generation.text if final else None,
            "details": {
                "finish_reason": generation.finish_reason,
                "generated_tokens": len(generation.tokens),
                "input_length": generation.input_tokens,
                "seed": seed,
            }
            if final
            else None,
        }


def message_text(content: Any) -> str:
    """The text of a chat message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def chat_generation(messages: Sequence[dict[str, Any]], max_tokens: int | None, stop: Sequence[str]) -> Generation:
    """The reply to the last user message; the input tokens count every message."""
    user_texts = [message_text(m.get("content")) for m in messages if m.get("role") == "user"]
    input_tokens = sum(count_tokens(message_text(m.get("content"))) for m in messages)
    return generate(user_texts[-1] if user_texts else "", max_tokens, stop, input_tokens)


def chat_finish_reason(generation: Generation) -> str:
    return "length" if generation.finish_reason == "length" else "stop"


def _usage(generation: Generation) -> dict[str, int]:
    completion = len(generation.tokens)
    return {
        "prompt_tokens": generation.input_tokens,
        "completion_tokens": completion,
        "total_tokens": generation.input_tokens + completion,
    }


def chat_completion(generation: Generation, model: str, completion_id: str) -> dict[str, Any]:
    """An OpenAI-style ``chat.completion`` object, with ``usage``."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": MODEL_NAME,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": generation.text},
                "logprobs": None,
                "finish_reason": chat_finish_reason(generation),
            }
        ],
        "usage": _usage(generation),
    }


def chat_chunks(
    generation: Generation, model: str, completion_id: str, *, include_usage: bool
) -> Iterator[dict[str, Any]]:
    """``chat.completion.chunk`` objects: one per token, the last with ``finish_reason`` (and ``usage`` if asked)."""
    created = int(time.time())
    tokens = generation.tokens or ("",)
    for index, text in enumerate(tokens):
        final = index == len(tokens) - 1
        chunk: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": MODEL_NAME,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": chat_finish_reason(generation) if final else None,
                }
            ],
        }
        if final and include_usage:
            chunk["usage"] = _usage(generation)
        yield chunk


def check_max_tokens(value: Any, name: str) -> str | None:
    """TGI's validation message when a token limit is not a positive integer, else ``None``."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return f"Input validation error: `{name}` must be strictly positive"
    return None


def completion(generation: Generation, model: str, completion_id: str) -> dict[str, Any]:
    """An OpenAI-style ``text_completion`` object (TGI's ``POST /v1/completions``), with ``usage``."""
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": MODEL_NAME,
        "choices": [
            {"index": 0, "text": generation.text, "logprobs": None, "finish_reason": chat_finish_reason(generation)}
        ],
        "usage": _usage(generation),
    }


def completion_chunks(generation: Generation, model: str, completion_id: str) -> Iterator[dict[str, Any]]:
    """``text_completion`` stream events: one per token, the last with ``finish_reason``."""
    created = int(time.time())
    tokens = generation.tokens or ("",)
    for index, text in enumerate(tokens):
        final = index == len(tokens) - 1
        yield {
            "id": completion_id,
            "object": "text_completion",
            "created": created,
            "model": model,
            "system_fingerprint": MODEL_NAME,
            "choices": [
                {
                    "index": 0,
                    "text": text,
                    "logprobs": None,
                    "finish_reason": chat_finish_reason(generation) if final else None,
                }
            ],
        }


def tgi_info(model: str, task: str) -> dict[str, Any]:
    """TGI's ``GET /info`` for the emulated model server."""
    return {
        "model_id": model,
        "model_sha": None,
        "model_pipeline_tag": task,
        "max_concurrent_requests": 128,
        "max_best_of": 2,
        "max_stop_sequences": 4,
        "max_input_tokens": 4095,
        "max_total_tokens": 4096,
        "validation_workers": 2,
        "max_client_batch_size": 4,
        "router": "text-generation-router",
        "version": "3.3.6",
        "sha": None,
        "docker_label": MODEL_NAME,
    }


def models_list(model: str, created: int) -> dict[str, Any]:
    """TGI's ``GET /v1/models``: the one model it serves, in the OpenAI shape."""
    return {"object": "list", "data": [{"id": model, "object": "model", "created": created, "owned_by": model}]}
