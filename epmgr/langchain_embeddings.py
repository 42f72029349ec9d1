"""A drop-in ``HuggingFaceEndpointEmbeddings`` that wakes its endpoint first (optional extra: ``epmgr[langchain]``).

A subclass of langchain-huggingface's: ``embed_documents``, ``embed_query`` and their async twins are LangChain's
own, calling ``client.feature_extraction``; the clients are epmgr's (:class:`~epmgr.client.EndpointClient` and
its async twin, with InferenceClient's tasks), so each call wakes a scaled-to-zero or paused endpoint and is
recorded in the ledger.

``model`` is the dedicated endpoint: its URL, or its name in the configured namespace (langchain-huggingface
1.2 accepts only Hub repository ids there, for serverless inference; a repository id is refused here).
The token is ``huggingfacehub_api_token``, else the configured one (``HF_TOKEN``).

Example:
    >>> from epmgr.langchain import HuggingFaceEndpointEmbeddings  # was: from langchain_huggingface import ...
    >>> embeddings = HuggingFaceEndpointEmbeddings(model="bge-small")  # doctest: +SKIP
    >>> embeddings.embed_query("What is epmgr?")[:3]  # doctest: +SKIP
    [0.0123, -0.0456, 0.0789]
"""

from __future__ import annotations

import weakref

try:
    from langchain_huggingface import HuggingFaceEndpointEmbeddings as _HuggingFaceEndpointEmbeddings
    from pydantic import model_validator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "epmgr.langchain needs LangChain's Hugging Face integration: pip install 'epmgr[langchain]'"
    ) from exc

from epmgr.client.aio import AsyncEndpointClient
from epmgr.client.context import ClientParts, build_parts, is_url
from epmgr.client.sync import EndpointClient
from epmgr.errors import ConfigError

VALID_TASKS = ("feature-extraction",)


class HuggingFaceEndpointEmbeddings(_HuggingFaceEndpointEmbeddings):
    """langchain-huggingface's ``HuggingFaceEndpointEmbeddings`` on a dedicated endpoint woken on demand.

    Args:
        model: The endpoint's URL or name (``repo_id`` is accepted as an alias, as upstream).
        huggingfacehub_api_token: The token (default: the configured one).
        model_kwargs: Passed to ``feature_extraction`` (``normalize``, ``truncate``, ``prompt_name``, ...).

    Raises:
        pydantic.ValidationError: (a ValueError, as for every LangChain model) no endpoint, a Hub repository id
            instead of an endpoint, a bad name, or a task other than ``feature-extraction``.
    """

    @model_validator(mode="after")
    def validate_environment(self) -> HuggingFaceEndpointEmbeddings:
        """Replaces upstream's validator (same name): epmgr's waking clients for the endpoint."""
        target = self.model or self.repo_id
        if not target:
            raise ConfigError("HuggingFaceEndpointEmbeddings needs model= (the endpoint's URL or name)", key="model")
        if "/" in target and not is_url(target):
            raise ConfigError(
                f"model={target!r} is a Hub repository: give the dedicated endpoint's URL or name", key="model"
            )
        if self.task not in VALID_TASKS:
            raise ConfigError(f"task={self.task!r}: only {', '.join(VALID_TASKS)} is supported", key="task")
        self.model = self.repo_id = target
        if not isinstance(self.client, EndpointClient):
            self.client = EndpointClient(parts=self._parts())
            # LangChain never closes its clients: close this one (connections, records) when it is collected.
            weakref.finalize(self, self.client.close)
        return self

    def _parts(self) -> ClientParts:
        assert self.model is not None
        return build_parts(self.model, token=self.huggingfacehub_api_token or None, client_id="langchain")

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """As upstream, with an async client per call (one bound to an event loop would not outlive it)."""
        async with AsyncEndpointClient(parts=self._parts()) as client:
            self.async_client = client
            return await super().aembed_documents(texts)

    def close(self) -> None:
        """Close the sync client's connections and flush its activity records."""
        self.client.close()


__all__ = ["HuggingFaceEndpointEmbeddings"]
