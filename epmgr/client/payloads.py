"""Request bodies and answers of TGI text generation and OpenAI chat, as huggingface_hub's InferenceClient has them.

The payloads match what ``InferenceClient`` sends to an endpoint URL (``{"inputs", "parameters", "stream"}``
posted to the URL; chat posted to ``/v1/chat/completions`` with model ``"tgi"``), and the answers are
huggingface_hub's own output types, so code written for ``InferenceClient`` gets the same objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # imported by the first answer parsed (importing epmgr.client stays light)
    from huggingface_hub import (
        ChatCompletionOutput,
        ChatCompletionStreamOutput,
        TextGenerationOutput,
        TextGenerationStreamOutput,
    )

from epmgr.errors import ApiError, AuthError, BadRequest

CHAT_PATH = "/v1/chat/completions"
_IGNORED = frozenset({"model"})  # the URL is the model; LangChain passes model= anyway


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if value is not None and key not in _IGNORED}


def text_generation_payload(prompt: str, *, stream: bool, details: bool, params: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST {url}``; ``stop_sequences`` (deprecated upstream) joins ``stop``."""
    parameters = _clean(params)
    legacy = parameters.pop("stop_sequences", None)
    if legacy:
        parameters["stop"] = [*(parameters.get("stop") or []), *legacy]
    if details:
        parameters["details"] = True
    return {"inputs": prompt, "parameters": parameters, "stream": stream}


def chat_payload(messages: Sequence[Any], *, stream: bool, params: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST {url}/v1/chat/completions``."""
    body = {"model": "tgi", **_clean(params), "messages": [_message(m) for m in messages], "stream": stream}
    return body


def _message(message: Any) -> Any:
    return dict(message) if isinstance(message, Mapping) else message


def chat_url(url: str) -> str:
    """Where chat goes: ``{url}/v1/chat/completions`` (or ``/chat/completions`` after a ``/v1`` URL)."""
    base = url.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}{CHAT_PATH}"


def raise_for_status(response: httpx.Response, endpoint: str) -> None:
    """Turn an error answer of the endpoint into an epmgr error (the body must be read)."""
    if response.is_success:
        return
    status = response.status_code
    try:
        detail = response.json().get("error") or response.text
    except (ValueError, AttributeError):
        detail = response.text
    message = f"{endpoint} answered {status}: {str(detail).strip()[:300]}"
    if status in (401, 403):
        raise AuthError(message + " (check the token)", endpoint=endpoint, status_code=status)
    if status in (400, 422):
        raise BadRequest(message, endpoint=endpoint, status_code=status)
    raise ApiError(message, endpoint=endpoint, status_code=status)


def json_of(response: httpx.Response, endpoint: str) -> Any:
    """The answer's JSON, or ApiError saying what came instead (a proxy's HTML page answering 200)."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type")
        raise ApiError(
            f"{endpoint} answered {response.status_code} with a body that is not JSON ({kind}): "
            f"{response.text.strip()[:80]!r}",
            endpoint=endpoint,
            status_code=response.status_code,
        ) from None


def parse_text_generation(data: Any, *, details: bool) -> str | TextGenerationOutput:
    """``generated_text`` (or the whole output with ``details``) of a TGI answer (a list of one, or an object)."""
    first = data[0] if isinstance(data, list) else data
    if details:
        from huggingface_hub import TextGenerationOutput

        return TextGenerationOutput.parse_obj_as_instance(first)
    return str(first["generated_text"])


class StreamDone(Exception):
    """The stream's ``data: [DONE]`` line."""


def _event(line: str) -> dict[str, Any] | None:
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        raise StreamDone
    data = json.loads(payload)
    if isinstance(data, dict) and data.get("error") is not None:
        raise ApiError(f"the endpoint failed mid-stream: {data['error']}")
    return data if isinstance(data, dict) else None


def parse_text_event(line: str, *, details: bool) -> str | TextGenerationStreamOutput | None:
    """One server-sent line of a TGI stream: the token's text (or the whole event with ``details``)."""
    data = _event(line)
    if data is None:
        return None
    from huggingface_hub import TextGenerationStreamOutput

    output = TextGenerationStreamOutput.parse_obj_as_instance(data)
    return output if details else output.token.text


def parse_chat(data: Any) -> ChatCompletionOutput:
    from huggingface_hub import ChatCompletionOutput

    return ChatCompletionOutput.parse_obj_as_instance(data)


def parse_chat_event(line: str) -> ChatCompletionStreamOutput | None:
    """One server-sent line of a chat stream."""
    data = _event(line)
    from huggingface_hub import ChatCompletionStreamOutput

    return None if data is None else ChatCompletionStreamOutput.parse_obj_as_instance(data)
