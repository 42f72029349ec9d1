"""Glue for the LangChain drop-ins (:mod:`epmgr.langchain`): a fallback chain as the LLM's client pair.

The sync client is a :class:`~epmgr.fallback.FallbackClient` around the endpoint's waking client; the async one
runs it in a worker thread (a fallback answers in about a second; the wake itself is in the background anyway).
Who served each answer goes into LangChain's ``response_metadata["served_by"]`` (``generation_info`` for LLMs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from epmgr.fallback.chain import FallbackClient


class AsyncFallbackClient:
    """The async face of a :class:`FallbackClient` (``text_generation``, ``chat_completion``; ``stream`` too)."""

    def __init__(self, chain: FallbackClient) -> None:
        self.chain = chain

    async def text_generation(self, prompt: str, *, stream: bool = False, **params: Any) -> Any:
        answer = await asyncio.to_thread(self.chain.text_generation, prompt, stream=stream, **params)
        return _aiter(answer) if stream else answer

    async def chat_completion(self, messages: Sequence[Any], *, stream: bool = False, **params: Any) -> Any:
        answer = await asyncio.to_thread(self.chain.chat_completion, messages, stream=stream, **params)
        return _aiter(answer) if stream else answer

    async def aclose(self) -> None:
        await asyncio.to_thread(self.chain.close)


async def _aiter(items: Iterable[Any]) -> AsyncIterator[Any]:
    iterator = iter(items)
    done = object()
    while (item := await asyncio.to_thread(next, iterator, done)) is not done:
        yield item


def chain_for(client: Any, fallback: Sequence[str], fallback_when: Sequence[str] | None) -> FallbackClient:
    """A chain over an existing waking client (the LLM's own, so its token and URL are kept)."""
    return FallbackClient(client=client, fallback=list(fallback), fallback_when=fallback_when)


def served_by_of(client: Any) -> str | None:
    """Who served the calling thread's last answer through ``client`` (None: no chain)."""
    value = getattr(client, "last_served_by", None)
    return value if isinstance(value, str) else None


def install_chain(llm: Any) -> None:
    """Give a waking LangChain ``HuggingFaceEndpoint`` whose ``fallback`` is set a chain as its client pair (once)."""
    if not getattr(llm, "fallback", None) or isinstance(llm.client, FallbackClient):
        return
    chain = chain_for(llm.client, llm.fallback, llm.fallback_when)
    llm.client = chain
    llm.async_client = AsyncFallbackClient(chain)


def mark_generations(generations: Iterable[Any], served_by: str | None) -> None:
    """Put ``served_by`` into each generation's info (and a chat message's ``response_metadata``)."""
    if served_by is None:
        return
    for generation in generations:
        items = generation if isinstance(generation, list) else [generation]
        for item in items:
            item.generation_info = {**(item.generation_info or {}), "served_by": served_by}
            message = getattr(item, "message", None)
            if message is not None:
                message.response_metadata = {**message.response_metadata, "served_by": served_by}


__all__ = ["AsyncFallbackClient", "FallbackClient", "chain_for", "install_chain", "mark_generations", "served_by_of"]
