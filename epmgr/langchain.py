"""Drop-in LangChain classes that wake the endpoint before invoking it (optional extra: ``epmgr[langchain]``).

``HuggingFaceEndpoint`` and ``ChatHuggingFace`` here are subclasses of langchain-huggingface's: change the import
and nothing else. After LangChain builds its ``InferenceClient`` pair, they are replaced by epmgr's
:class:`~epmgr.client.EndpointClient` / :class:`~epmgr.client.AsyncEndpointClient` for the same URL (the hook
point LangChain's own calls go through: ``client.text_generation`` and ``client.chat_completion``), which:

- wake the endpoint (scaled to zero: the request is held; paused: resumed once, then waited for), sync, async
  and streaming alike;
- send the token: ``huggingfacehub_api_token``, else the configured one (``HF_TOKEN``). LangChain itself drops it
  for ``*.endpoints.huggingface.cloud`` URLs (langchain-ai/langchain#40447);
- record each call in the ledger.

Chat goes through the server's ``/v1/chat/completions`` route, so the model's own chat template formats the
prompt (no hand-written template).

Example:
    >>> from epmgr.langchain import HuggingFaceEndpoint  # was: from langchain_huggingface import ...
    >>> llm = HuggingFaceEndpoint(endpoint_url=url, max_new_tokens=512, temperature=0.01,
    ...                           task="text-generation")  # doctest: +SKIP
    >>> (prompt | llm).invoke({"question": "..."})  # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from typing import Any

try:
    from langchain_huggingface import ChatHuggingFace as _ChatHuggingFace
    from langchain_huggingface import HuggingFaceEndpoint as _HuggingFaceEndpoint
    from pydantic import model_validator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "epmgr.langchain needs LangChain's Hugging Face integration: pip install 'epmgr[langchain]'"
    ) from exc

from epmgr.client.aio import AsyncEndpointClient
from epmgr.client.context import ClientParts, build_parts
from epmgr.client.sync import EndpointClient
from epmgr.fallback import lc as fallback_lc
from epmgr.langchain_embeddings import HuggingFaceEndpointEmbeddings


def wake_enabled(llm: _HuggingFaceEndpoint) -> None:
    """Give an (upstream or epmgr) ``HuggingFaceEndpoint`` with an ``endpoint_url`` epmgr's waking clients."""
    if isinstance(llm.client, (EndpointClient, fallback_lc.FallbackClient)) or not llm.endpoint_url:
        return
    token = llm.huggingfacehub_api_token or None
    parts = build_parts(llm.endpoint_url, token=token, client_id="langchain")  # no I/O: the first call does it
    # LangChain's 120 s timeout would cut a held request during a cold start: the wake timeout governs instead.
    llm.client = EndpointClient(parts=parts)
    llm.async_client = PerCallAsyncClient(parts)
    weakref.finalize(llm, llm.client.close)  # its connections, when the model is collected


class PerCallAsyncClient:
    """The LangChain objects' async client: an :class:`AsyncEndpointClient` per call, closed after it (LangChain
    calls from any event loop, and a client bound to one would not outlive it). The parts (URL, wake, recorder)
    are shared."""

    def __init__(self, parts: ClientParts) -> None:
        self.parts = parts

    async def text_generation(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("text_generation", args, kwargs)

    async def chat_completion(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("chat_completion", args, kwargs)

    async def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        client = AsyncEndpointClient(parts=self.parts)
        try:
            result = await getattr(client, method)(*args, **kwargs)
        except BaseException:
            await client.aclose()
            raise
        if not kwargs.get("stream"):
            await client.aclose()
            return result
        return _closing(result, client)

    async def aclose(self) -> None:
        """Nothing stays open between calls (kept for code written for AsyncInferenceClient)."""


async def _closing(stream: AsyncIterator[Any], client: AsyncEndpointClient) -> AsyncIterator[Any]:
    try:
        async for item in stream:
            yield item
    finally:
        await client.aclose()


class HuggingFaceEndpoint(_HuggingFaceEndpoint):
    """langchain-huggingface's ``HuggingFaceEndpoint``, whose endpoint is woken before each call (see module).

    ``fallback=["serverless:org/model", ...]`` (and ``fallback_when``) serve while it wakes: see docs/fallback.md;
    who served is in ``generation_info["served_by"]``.
    """

    fallback: list[str] = []
    fallback_when: list[str] | None = None

    @model_validator(mode="after")
    def _wake_on_demand(self) -> HuggingFaceEndpoint:
        wake_enabled(self)
        fallback_lc.install_chain(self)
        return self

    def _generate(self, prompts: list[str], *args: Any, **kwargs: Any) -> Any:
        result = super()._generate(prompts, *args, **kwargs)
        fallback_lc.mark_generations(result.generations, fallback_lc.served_by_of(self.client))
        return result


class ChatHuggingFace(_ChatHuggingFace):
    """langchain-huggingface's ``ChatHuggingFace``; an upstream ``HuggingFaceEndpoint`` given as ``llm`` is made
    to wake its endpoint too."""

    @model_validator(mode="after")
    def _wake_on_demand(self) -> ChatHuggingFace:
        llm: Any = self.llm
        if isinstance(llm, _HuggingFaceEndpoint):
            wake_enabled(llm)
        return self

    def _create_chat_result(self, response: Any) -> Any:
        result = super()._create_chat_result(response)
        fallback_lc.mark_generations(result.generations, getattr(response, "served_by", None))
        return result


__all__ = [
    "ChatHuggingFace",
    "HuggingFaceEndpoint",
    "HuggingFaceEndpointEmbeddings",
    "PerCallAsyncClient",
    "wake_enabled",
]
