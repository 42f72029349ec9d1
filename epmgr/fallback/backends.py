"""The fallback backends, each the real thing, behind one small interface.

- ``serverless:org/model[:provider]``: HF's router (Inference Providers) through huggingface_hub's
  ``InferenceClient(base_url=router)``: chat goes to ``/v1/chat/completions`` with ``model=repo_id`` (the
  provider applies the model's chat template); a raw prompt goes unchanged to hf-inference's text generation
  route. The router's URL is ``EPMGR_HF_ROUTER_URL`` (default ``https://router.huggingface.co``; the emulator
  serves it too).
- ``openai:URL#model``: a local OpenAI-compatible server (Ollama, llama.cpp, vLLM, TGI): chat through
  ``InferenceClient(base_url=URL)``, a raw prompt through ``/v1/completions``.
- ``endpoint:name``: another dedicated endpoint through epmgr's own client; one that is asleep is skipped, not
  woken or waited for (the chain must answer now).
- ``local:path``: see :mod:`epmgr.fallback.local`.

Every failure comes out as an :mod:`epmgr.errors` error (translated here, at the boundary).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import httpx
from huggingface_hub import ChatCompletionOutput, InferenceClient
from huggingface_hub.errors import HfHubHTTPError

from epmgr.domain.fallback import Spec
from epmgr.errors import ApiError, ApiUnavailable, BadRequest, ConfigError, EpmgrError

DEFAULT_ROUTER_URL = "https://router.huggingface.co"
TIMEOUT_S = 60.0


def router_url(env: dict[str, str] | None = None) -> str:
    """The serverless router's base URL: ``EPMGR_HF_ROUTER_URL`` or HF's."""
    return (env if env is not None else os.environ).get("EPMGR_HF_ROUTER_URL", "").strip() or DEFAULT_ROUTER_URL


class Backend(Protocol):
    """A fallback that can answer a chat or a raw prompt."""

    spec: str

    def available(self) -> tuple[bool, str]:
        """Whether it can answer now without waiting (and why not)."""
        ...

    def chat_completion(self, messages: Sequence[Any], **params: Any) -> ChatCompletionOutput: ...

    def text_generation(self, prompt: str, **params: Any) -> str: ...

    def close(self) -> None: ...


@contextmanager
def translated(spec: str) -> Iterator[None]:
    """huggingface_hub's and httpx's errors as epmgr's (4xx: the backend refused; 5xx, network: unavailable)."""
    try:
        yield
    except EpmgrError:
        raise
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        said = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        message = f"fallback {spec}: {said[:300]}"
        if status is not None and status < 500 and status != 429:
            kind = BadRequest if status in (400, 422) else ApiError
            raise kind(message, endpoint=spec, status_code=status) from exc
        raise ApiUnavailable(message, endpoint=spec, status_code=status) from exc
    except httpx.HTTPError as exc:
        raise ApiUnavailable(f"fallback {spec}: {type(exc).__name__}: {exc}", endpoint=spec) from exc


def _chat_params(params: dict[str, Any]) -> dict[str, Any]:
    """LangChain passes its own ``model`` and ``None`` values: each backend names its model itself."""
    return {k: v for k, v in params.items() if k != "model" and v is not None}


def _tgi_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("model", "stream") and v not in (None, [])}


class RouterBackend:
    """``serverless:`` (HF's router) or ``openai:`` (a local OpenAI-compatible server)."""

    def __init__(self, spec: Spec, *, token: str | None, router: str | None = None) -> None:
        self.spec = str(spec)
        self.kind = spec.kind
        self.token = token
        if spec.kind == "serverless":
            self.base = (router or router_url()).rstrip("/")
            self.model = spec.target
        else:
            self.base = spec.target.rstrip("/")
            self.model = spec.model or "default"
        self._chat = InferenceClient(base_url=self.base, api_key=token or "unused", timeout=TIMEOUT_S)
        repo = self.model.split(":", 1)[0]  # hf-inference's route: the provider suffix is the router's syntax only
        self._text = InferenceClient(model=f"{self.base}/hf-inference/models/{repo}", api_key=token, timeout=TIMEOUT_S)

    def available(self) -> tuple[bool, str]:
        if self.kind == "serverless" and not self.token:
            return False, "no HF token for the router"
        return True, ""

    def chat_completion(self, messages: Sequence[Any], **params: Any) -> ChatCompletionOutput:
        with translated(self.spec):
            answer = self._chat.chat_completion(list(messages), model=self.model, **_chat_params(params))
        return answer  # type: ignore[no-any-return]

    def text_generation(self, prompt: str, **params: Any) -> str:
        """The raw prompt, unchanged (no chat template: the caller chose the model's format)."""
        with translated(self.spec):
            if self.kind == "serverless":
                return str(self._text.text_generation(prompt, **_tgi_params(params)))
            body = {"model": self.model, "prompt": prompt, **_openai_params(params)}
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            url = self.base if self.base.endswith("/v1") else f"{self.base}/v1"
            response = httpx.post(f"{url}/completions", json=body, headers=headers, timeout=TIMEOUT_S)
            response.raise_for_status()
            return str(response.json()["choices"][0]["text"])

    def close(self) -> None:
        self._chat.close()  # type: ignore[no-untyped-call]
        self._text.close()  # type: ignore[no-untyped-call]


def _openai_params(params: dict[str, Any]) -> dict[str, Any]:
    names = {"max_new_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "stop": "stop"}
    return {names[k]: v for k, v in params.items() if k in names and v not in (None, [])}


class EndpointBackend:
    """Another dedicated endpoint, through epmgr's client: used only while it is awake (never waited for)."""

    def __init__(self, spec: Spec, *, client: Any) -> None:
        self.spec = str(spec)
        self.client = client

    def available(self) -> tuple[bool, str]:
        from epmgr.fallback.probe import health_ok

        try:
            url = self.client.url
        except EpmgrError as exc:
            return False, str(exc)
        if url is None or not health_ok(self.client, url):
            return False, "asleep (skipped, not waited for)"
        return True, ""

    def chat_completion(self, messages: Sequence[Any], **params: Any) -> ChatCompletionOutput:
        answer = self.client.chat_completion(list(messages), **_chat_params(params))
        return answer  # type: ignore[no-any-return]

    def text_generation(self, prompt: str, **params: Any) -> str:
        return str(self.client.text_generation(prompt, **_tgi_params(params)))

    def close(self) -> None:
        self.client.close()


def build(spec: Spec, *, token: str | None, router: str | None = None, namespace: str | None = None) -> Backend:
    """The backend for one parsed spec.

    Raises:
        ConfigError: An ``endpoint:`` name that is not valid.
    """
    if spec.kind in ("serverless", "openai"):
        return RouterBackend(spec, token=token, router=router)
    if spec.kind == "local":
        from epmgr.fallback.local import LocalBackend

        return LocalBackend(spec)
    from epmgr.client import EndpointClient
    from epmgr.names import endpoint_ref

    given_ns, name = endpoint_ref(spec.target, where=f"fallback {spec}")
    try:
        client = EndpointClient(name, namespace=given_ns or namespace, token=token, client_id="fallback")
    except ConfigError:
        raise
    return EndpointBackend(spec, client=client)
