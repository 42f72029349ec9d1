"""``local:path``: a model run in this process by transformers, loaded once, lazily, through langchain-huggingface's
``HuggingFacePipeline.from_model_id`` (optional extra: ``epmgr[local]``, CPU PyTorch).

Chat applies the tokenizer's own chat template (``apply_chat_template(..., add_generation_prompt=True)``), as a
TGI server or the router would; a raw prompt is generated from unchanged. Nothing is downloaded when ``path`` is
a folder.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import ChatCompletionOutput

from epmgr.domain.fallback import Spec
from epmgr.errors import ApiUnavailable, ConfigError

_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()
DEFAULT_MAX_NEW_TOKENS = 64


def installed() -> bool:
    """transformers and torch are importable (the ``local`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("transformers", "torch"))


def pipeline_of(model: str) -> Any:
    """The text-generation pipeline for ``model`` (a folder or a repo id), loaded once per process."""
    with _LOCK:
        if model not in _LOADED:
            try:
                from langchain_huggingface import HuggingFacePipeline
            except ImportError as exc:
                raise ConfigError("local: fallbacks need pip install 'epmgr[local,langchain]'", key="fallback") from exc
            if model.startswith((".", "/", "~")) and not Path(model).expanduser().is_dir():
                raise ConfigError(f"local model folder {model!r} not found", key="fallback")
            try:
                llm = HuggingFacePipeline.from_model_id(model_id=str(Path(model).expanduser()) if model.startswith(
                    "~") else model, task="text-generation")  # fmt: skip
            except (OSError, ValueError) as exc:  # unreadable weights, or a repo id not in the local cache
                raise ApiUnavailable(f"fallback local:{model}: cannot load the model: {exc}", endpoint=model) from exc
            _LOADED[model] = llm.pipeline
        return _LOADED[model]


class LocalBackend:
    """A local transformers model (see the module)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = str(spec)
        self.model = spec.target

    def available(self) -> tuple[bool, str]:
        if not installed():
            return False, "transformers and torch are not installed (pip install 'epmgr[local]')"
        return True, ""

    def _generate(self, prompt: str, params: dict[str, Any]) -> tuple[str, int, int]:
        pipe = pipeline_of(self.model)
        limit = params.get("max_new_tokens") or params.get("max_tokens") or DEFAULT_MAX_NEW_TOKENS
        try:
            out = pipe(prompt, max_new_tokens=int(limit), return_full_text=False, do_sample=False)
        except Exception as exc:  # a model's own failure (bad weights, out of memory) is this backend's outage
            raise ApiUnavailable(f"fallback {self.spec}: {type(exc).__name__}: {exc}", endpoint=self.spec) from exc
        text = str(out[0]["generated_text"])
        tokens_in = len(pipe.tokenizer(prompt)["input_ids"])
        return text, tokens_in, len(pipe.tokenizer(text)["input_ids"])

    def prompt_of(self, messages: Sequence[Any]) -> str:
        """The chat as the model's own template formats it (with the assistant's turn opened)."""
        tokenizer = pipeline_of(self.model).tokenizer
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        return str(tokenizer.apply_chat_template(plain, tokenize=False, add_generation_prompt=True))

    def chat_completion(self, messages: Sequence[Any], **params: Any) -> ChatCompletionOutput:
        text, tokens_in, tokens_out = self._generate(self.prompt_of(messages), params)
        return ChatCompletionOutput.parse_obj_as_instance(
            {
                "id": f"local-{uuid.uuid4().hex[:12]}",
                "created": int(time.time()),
                "model": self.model,
                "system_fingerprint": "epmgr-local",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                ],
                "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                          "total_tokens": tokens_in + tokens_out},
            }
        )  # fmt: skip

    def text_generation(self, prompt: str, **params: Any) -> str:
        return self._generate(prompt, params)[0]

    def close(self) -> None:
        pass
