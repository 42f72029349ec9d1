"""EndpointClient: call an endpoint whatever state it is in (it is woken first), and record each call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from epmgr.client import payloads
from epmgr.client.context import ClientParts, build_parts
from epmgr.client.streams import broken, translated
from epmgr.client.tasks import Tasks
from epmgr.client.transport import UNKNOWN_BASE, WakingTransport
from epmgr.client.waker import SCALE_UP_HEADER
from epmgr.domain.wakeflow import Ready

if TYPE_CHECKING:
    from huggingface_hub import ChatCompletionOutput, ChatCompletionStreamOutput


def http_timeout(wake_timeout: float, read: float | None) -> httpx.Timeout:
    """A held request may wait for a whole cold start: the read timeout covers the wake (unless given)."""
    return httpx.Timeout(read if read is not None else wake_timeout + 60, connect=10.0)


def endpoint_url(parts: ClientParts, path: str) -> str:
    """Where a request goes: under the endpoint's URL, or under the transport's stand-in while it is not known
    (the transport learns the URL, waking the endpoint if need be, and sends there)."""
    base = parts.waker.url or UNKNOWN_BASE
    return f"{base}/{path.lstrip('/')}" if path else base


def http_options(
    parts: ClientParts, headers: dict[str, str] | None, timeout: float | None, hold: str | None = None
) -> dict[str, Any]:
    """The httpx client options both clients share: the token, the caller's headers, the wake-aware timeout, and
    ``X-Scale-Up-Timeout: hold`` unless the caller's headers have it (a default header costs less than the
    transport adding it to each request; the transport adds it to requests that lack it)."""
    auth = {"Authorization": f"Bearer {parts.token}"} if parts.token else {}
    given = headers or {}
    held = {SCALE_UP_HEADER: hold} if hold and all(k.lower() != SCALE_UP_HEADER.lower() for k in given) else {}
    return {
        "headers": {**auth, **held, **given},
        "timeout": http_timeout(parts.waker.timeout.total_seconds(), timeout),
    }


class EndpointClient(Tasks):
    """A client for one dedicated endpoint that wakes it on demand (sync).

    Built from a name (the URL is looked up; settings come from the same configuration and environment as the
    CLI: HF_TOKEN, EPMGR_NAMESPACE, EPMGR_HF_API_URL, EPMGR_DB_URL) or from a URL. Scaled to zero: the request is
    held with ``X-Scale-Up-Timeout`` while it scales up. Paused: it is resumed (once, however many callers) and
    the call waits until it serves. Failed: :class:`~epmgr.errors.EndpointFailed` at once. Paused by a budget:
    :class:`~epmgr.errors.BudgetExceeded` at once. Not ready in time: :class:`~epmgr.errors.WakeTimeout`.

    Args:
        endpoint: The endpoint's name, or its URL.
        namespace: Its namespace (default: the configured one).
        wake_timeout: Seconds a call may wait for the endpoint to wake (default 600).
        timeout: HTTP read timeout in seconds (default: ``wake_timeout`` + 60, since a held request waits).
        record: Record each request in the ledger (default True).
        hold: Send ``X-Scale-Up-Timeout`` so a scaled-to-zero endpoint holds requests (default True).
        headers: Extra headers on every request.
        **options: Passed to :func:`epmgr.client.context.build_parts`: the collaborators (``api``, ``coordinator``,
            ``recorder``, ``runtime``, ``ledger``), wired lazily from the configuration when not given, and
            ``url``, ``token``, ``settings``, ``clock``, ``client_id``. Building does no I/O.

    Example:
        >>> with EndpointClient("phi3-mini") as client:  # doctest: +SKIP
        ...     client.text_generation("Hello", max_new_tokens=20)
        'echo: Hello'
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
        self.transport = WakingTransport(self.parts, hold_s=self.parts.waker.timeout.total_seconds() if hold else None)
        options = http_options(self.parts, headers, timeout, self.transport.hold)
        self._http = httpx.Client(transport=self.transport, **options)

    def __repr__(self) -> str:
        return f"EndpointClient({self.parts.waker.name!r})"

    @property
    def url(self) -> str | None:
        """The endpoint's URL (None while it is paused and was never seen running); may ask the API once."""
        return self.parts.url()

    def ensure_awake(self) -> Ready:
        """Wake the endpoint if needed and return once it serves (see the class for the errors)."""
        self.parts.prepare()
        return self.parts.waker.ensure_awake()

    def _url(self, path: str) -> str:
        return endpoint_url(self.parts, path)

    # -- raw requests -------------------------------------------------------------------------------

    def request(self, method: str, path: str = "", **kwargs: Any) -> httpx.Response:
        """Any request to the endpoint (``path`` relative to its URL); POSTs wake it and are recorded."""
        try:
            return self._http.request(method, endpoint_url(self.parts, path), **kwargs)
        except httpx.TransportError as exc:  # as translated() does, naming the endpoint only on an error
            raise broken(self.parts.waker.name, exc) from exc

    @contextmanager
    def stream(self, method: str, path: str = "", **kwargs: Any) -> Iterator[httpx.Response]:
        """A streamed request (``with client.stream("POST", "/generate_stream", json=...) as r: ...``)."""
        url = self._url(path)
        with translated(self.parts.waker.name), self._http.stream(method, url, **kwargs) as response:
            yield response

    def _post_json(self, url: str, body: dict[str, Any]) -> Any:
        name = self.parts.waker.name
        try:
            response = self._http.post(url, json=body)
        except httpx.TransportError as exc:
            raise broken(name, exc) from exc
        payloads.raise_for_status(response, name)
        return payloads.json_of(response, name)

    def _events(self, url: str, body: dict[str, Any]) -> Iterator[str]:
        name = self.parts.waker.name
        with translated(name), self._http.stream("POST", url, json=body) as response:
            if not response.is_success:
                response.read()
                payloads.raise_for_status(response, name)
            yield from response.iter_lines()

    # -- InferenceClient-compatible tasks -----------------------------------------------------------

    @overload
    def text_generation(
        self, prompt: str, *, stream: Literal[False] = ..., details: Literal[False] = ..., **params: Any
    ) -> str: ...

    @overload
    def text_generation(
        self, prompt: str, *, stream: Literal[True], details: Literal[False] = ..., **params: Any
    ) -> Iterator[str]: ...

    @overload
    def text_generation(self, prompt: str, *, stream: bool = ..., details: bool = ..., **params: Any) -> Any: ...

    def text_generation(self, prompt: str, *, stream: bool = False, details: bool = False, **params: Any) -> Any:
        """Generate text, with ``InferenceClient.text_generation``'s parameters and return types.

        Returns:
            The generated text; with ``details`` a ``TextGenerationOutput``; with ``stream`` an iterator of token
            texts (or of ``TextGenerationStreamOutput`` with ``details``).
        """
        body = payloads.text_generation_payload(prompt, stream=stream, details=details, params=params)
        url = self._url("")
        if not stream:
            return payloads.parse_text_generation(self._post_json(url, body), details=details)
        return self._text_stream(url, body, details)

    def _text_stream(self, url: str, body: dict[str, Any], details: bool) -> Iterator[Any]:
        try:
            for line in self._events(url, body):
                event = payloads.parse_text_event(line, details=details)
                if event is not None:
                    yield event
        except payloads.StreamDone:
            return

    @overload
    def chat_completion(
        self, messages: Sequence[Any], *, stream: Literal[False] = ..., **params: Any
    ) -> ChatCompletionOutput: ...

    @overload
    def chat_completion(
        self, messages: Sequence[Any], *, stream: Literal[True], **params: Any
    ) -> Iterator[ChatCompletionStreamOutput]: ...

    @overload
    def chat_completion(self, messages: Sequence[Any], *, stream: bool = ..., **params: Any) -> Any: ...

    def chat_completion(self, messages: Sequence[Any], *, stream: bool = False, **params: Any) -> Any:
        """Chat through the server's ``/v1/chat/completions`` (the model's own prompt format), as InferenceClient."""
        body = payloads.chat_payload(messages, stream=stream, params=params)
        url = payloads.chat_url(self._url(""))
        if not stream:
            return payloads.parse_chat(self._post_json(url, body))
        return self._chat_stream(url, body)

    def _chat_stream(self, url: str, body: dict[str, Any]) -> Iterator[ChatCompletionStreamOutput]:
        try:
            for line in self._events(url, body):
                event = payloads.parse_chat_event(line)
                if event is not None:
                    yield event
        except payloads.StreamDone:
            return

    # -- lifetime -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections and flush the activity records (what is queued is written now)."""
        self._http.close()
        self.parts.close()

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
