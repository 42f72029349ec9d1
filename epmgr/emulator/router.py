"""The serverless router (HF Inference Providers) as the emulator serves it, so a fallback chain runs offline.

Real Hugging Face: ``POST https://router.huggingface.co/v1/chat/completions`` with an OpenAI-style body whose
``model`` is a Hub repo id, optionally with ``:provider`` (``:fastest``, ``:cheapest``) after it; raw prompts
for text generation go to ``POST https://router.huggingface.co/hf-inference/models/{repo_id}`` (TGI's body).
huggingface_hub's ``InferenceClient(base_url=ROUTER)`` reaches the first, ``InferenceClient(model=URL)`` the
second. Here both answer from the emulator's base URL, after their own latency (``latency_s``, real seconds: a
router answers in about a second, not minutes), with a bearer token, and refuse a model outside ``models`` with
the router's "model not supported" 400. ``PUT /_emulator/router`` (loopback) sets the latency and the models.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from epmgr.emulator import generation
from epmgr.emulator.auth import Identity

DEFAULT_MODELS = frozenset(
    {
        "microsoft/Phi-3-mini-4k-instruct",
        "meta-llama/Llama-3.1-8B-Instruct",
        "HuggingFaceTB/SmolLM3-3B",
        "Qwen/Qwen2.5-7B-Instruct",
        "openai/gpt-oss-20b",
    }
)
PROVIDERS = frozenset({"fastest", "cheapest", "preferred", "hf-inference", "together", "novita", "groq", "nscale"})
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class RouterConfig:
    """What the emulated router serves and how fast: ``latency_s`` real seconds before each answer."""

    latency_s: float = 0.05
    models: set[str] = field(default_factory=lambda: set(DEFAULT_MODELS))


def _unsupported(model: str) -> JSONResponse:
    message = f"The requested model '{model}' is not supported by any provider you have enabled."
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": "model", "code": "model_not_supported"}
    }
    return JSONResponse(body, status_code=400)


class RouterRoutes:
    """``/v1/chat/completions``, ``/v1/models``, ``/hf-inference/models/{repo}`` and the control route."""

    def __init__(self, identity: Identity, config: RouterConfig | None = None) -> None:
        self.identity = identity
        self.config = config or RouterConfig()
        self.served = 0  # answers given (tests)

    def handlers(self) -> list[tuple[str, list[str], Handler]]:
        return [
            ("/v1/chat/completions", ["POST"], self.chat),
            ("/v1/models", ["GET"], self.list_models),
            ("/hf-inference/models/{model:path}", ["POST"], self.text_generation),
            ("/_emulator/router", ["GET", "PUT"], self.control),
        ]

    def _refusal(self, request: Request) -> Response | None:
        if not self.identity.authenticated(request.headers):
            return JSONResponse({"error": "Invalid credentials in Authorization header"}, status_code=401)
        return None

    def _model(self, given: Any) -> tuple[str, Response | None]:
        if not isinstance(given, str) or not given:
            return "", JSONResponse({"error": {"message": "`model` is required", "code": "invalid_request"}}, 400)
        repo, _, provider = given.partition(":")
        if repo not in self.config.models or (provider and provider not in PROVIDERS):
            return repo, _unsupported(given)
        return repo, None

    async def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "The request body is not valid JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "The request body must be a JSON object"}, status_code=400)
        return body

    async def chat(self, request: Request) -> Response:
        """OpenAI-style chat, addressed by ``model=repo_id[:provider]``; the provider applies the chat template."""
        if (refused := self._refusal(request)) is not None:
            return refused
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        repo, refused = self._model(body.get("model"))
        if refused is not None:
            return refused
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return JSONResponse({"error": "`messages` must be a list of objects"}, status_code=422)
        await asyncio.sleep(self.config.latency_s)
        max_tokens = body.get("max_tokens")
        limit = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        generated = generation.chat_generation(messages, limit, ())
        completion_id = "chatcmpl-" + hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:24]
        self.served += 1
        return JSONResponse(generation.chat_completion(generated, repo, completion_id))

    async def text_generation(self, request: Request) -> Response:
        """hf-inference's text generation: the raw prompt, unchanged, TGI's body and answer."""
        if (refused := self._refusal(request)) is not None:
            return refused
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        repo, refused = self._model(request.path_params["model"])
        if refused is not None:
            return refused
        prompt = body.get("inputs")
        if not isinstance(prompt, str):
            return JSONResponse({"error": "`inputs` must be a string"}, status_code=422)
        params = body.get("parameters") or {}
        limit = params.get("max_new_tokens") if isinstance(params, dict) else None
        await asyncio.sleep(self.config.latency_s)
        generated = generation.generate(prompt, limit if isinstance(limit, int) and limit > 0 else None, ())
        self.served += 1
        return JSONResponse([generation.tgi_output(generated, details=False, seed=None)])

    async def list_models(self, request: Request) -> Response:
        if (refused := self._refusal(request)) is not None:
            return refused
        data = [{"id": m, "object": "model", "owned_by": m.split("/")[0]} for m in sorted(self.config.models)]
        return JSONResponse({"object": "list", "data": data})

    async def control(self, request: Request) -> Response:
        """``GET``: the settings and answers so far; ``PUT {"latency_s": .., "models": [..]}``: change them."""
        client = request.client.host if request.client else ""
        if client not in ("127.0.0.1", "::1", "localhost", "testclient"):
            return JSONResponse({"error": "Control routes answer loopback clients only"}, status_code=403)
        if request.method == "PUT":
            body = await self._body(request)
            if isinstance(body, Response):
                return body
            latency = body.get("latency_s", self.config.latency_s)
            models = body.get("models", sorted(self.config.models))
            if not isinstance(latency, (int, float)) or latency < 0 or not isinstance(models, list):
                return JSONResponse({"error": "expected latency_s >= 0 and a list of models"}, status_code=400)
            self.config.latency_s = float(latency)
            self.config.models = {str(m) for m in models}
        return JSONResponse(
            {"latency_s": self.config.latency_s, "models": sorted(self.config.models), "served": self.served}
        )
