"""AsyncEndpointClient: the asyncio twin of :class:`epmgr.client.sync.EndpointClient`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import httpx

from epmgr.client import payloads
from epmgr.client.context import ClientParts, build_parts
from epmgr.client.streams import broken, translated
from epmgr.client.sync import endpoint_url, http_options
from epmgr.client.tasks import AsyncTasks
from epmgr.client.transport import AsyncWakingTransport
from epmgr.domain.wakeflow import Ready


class AsyncEndpointClient(AsyncTasks):
    """A client for one dedicated endpoint that wakes it on demand (asyncio).

    Same arguments, behaviour and errors as :class:`~epmgr.client.sync.EndpointClient`; the methods are
    coroutines, and a stream is an async iterator. Building it reads the configuration only; the first request
    asks the API (once per process for a URL).

    Example:
        >>> async with AsyncEndpointClient("phi3-mini") as client:  # doctest: +SKIP
        ...     async for token in await client.text_generation("Hello", stream=True):
        ...         print(token, end="")
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        namespace: str | None = None,
        wake_timeout: float = 600.0,
        timeout: float | None = None,
        record: bool = True,
        hold: bool = True,
        headers: dict[str, str] | None = None,
        parts: ClientParts | None = None,
        **options: Any,
    ) -> None:
        self.parts = parts or build_parts(
            endpoint, namespace=namespace, wake_timeout=wake_timeout, record=record, **options
        )
        self.transport = AsyncWakingTransport(
            self.parts, hold_s=self.parts.waker.timeout.total_seconds() if hold else None
        )
        options = http_options(self.parts, headers, timeout, self.transport.hold)
        self._http = httpx.AsyncClient(transport=self.transport, **options)

    def __repr__(self) -> str:
        return f"AsyncEndpointClient({self.parts.waker.name!r})"

    @property
    def url(self) -> str | None:
        """The endpoint's URL if known (None until the first request, or while paused and never seen running)."""
        return self.parts.waker.url

    async def ensure_awake(self) -> Ready:
        """Wake the endpoint if needed and return once it serves."""
        await asyncio.to_thread(self.parts.prepare)
        return await self.parts.waker.ensure_awake_async()

    async def _url(self, path: str) -> str:
        return endpoint_url(self.parts, path)

    async def request(self, method: str, path: str = "", **kwargs: Any) -> httpx.Response:
        """Any request to the endpoint (``path`` relative to its URL); POSTs wake it and are recorded."""
        url = await self._url(path)
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # as translated() does, naming the endpoint only on an error
            raise broken(self.parts.waker.name, exc) from exc

    @asynccontextmanager
    async def stream(self, method: str, path: str = "", **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """A streamed request."""
        url = await self._url(path)
        with translated(self.parts.waker.name):
            async with self._http.stream(method, url, **kwargs) as response:
                yield response

    async def _post_json(self, url: str, body: dict[str, Any]) -> Any:
        name = self.parts.waker.name
        try:
            response = await self._http.post(url, json=body)
        except httpx.TransportError as exc:
            raise broken(name, exc) from exc
        payloads.raise_for_status(response, name)
        return payloads.json_of(response, name)

    async def _events(self, url: str, body: dict[str, Any]) -> AsyncIterator[str]:
        name = self.parts.waker.name
        with translated(name):
            async with self._http.stream("POST", url, json=body) as response:
                if not response.is_success:
                    await response.aread()
                    payloads.raise_for_status(response, name)
                async for line in response.aiter_lines():
                    yield line

    async def text_generation(self, prompt: str, *, stream: bool = False, details: bool = False, **params: Any) -> Any:
        """As ``AsyncInferenceClient.text_generation``: the text, or (``stream``) an async iterator of tokens."""
        body = payloads.text_generation_payload(prompt, stream=stream, details=details, params=params)
        url = await self._url("")
        if not stream:
            return payloads.parse_text_generation(await self._post_json(url, body), details=details)
        return self._text_stream(url, body, details)

    async def _text_stream(self, url: str, body: dict[str, Any], details: bool) -> AsyncIterator[Any]:
        try:
            async for line in self._events(url, body):
                event = payloads.parse_text_event(line, details=details)
                if event is not None:
                    yield event
        except payloads.StreamDone:
            return

    async def chat_completion(self, messages: Sequence[Any], *, stream: bool = False, **params: Any) -> Any:
        """As ``AsyncInferenceClient.chat_completion`` (through the server's ``/v1/chat/completions``)."""
        body = payloads.chat_payload(messages, stream=stream, params=params)
        url = payloads.chat_url(await self._url(""))
        if not stream:
            return payloads.parse_chat(await self._post_json(url, body))
        return self._chat_stream(url, body)

    async def _chat_stream(self, url: str, body: dict[str, Any]) -> AsyncIterator[Any]:
        try:
            async for line in self._events(url, body):
                event = payloads.parse_chat_event(line)
                if event is not None:
                    yield event
        except payloads.StreamDone:
            return

    async def aclose(self) -> None:
        """Close the connections and flush the activity records."""
        await self._http.aclose()
        await asyncio.to_thread(self.parts.close)

    async def __aenter__(self) -> AsyncEndpointClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
