"""Every task of huggingface_hub's ``InferenceClient`` on epmgr's clients: same names, arguments and return types.

``feature_extraction``, ``sentence_similarity``, ``text_classification``, ``text_to_image`` and the rest are
``InferenceClient``'s own methods: it builds each request and parses each answer, so a task huggingface_hub adds
needs one line here. Only the sending is epmgr's: the request goes through the client's raw ``request()``, so it
wakes the endpoint first (held while it scales up, resumed if paused), is recorded in the ledger like every
request, and an error answer raises epmgr's error (:class:`~epmgr.errors.BadRequest`, ...).

huggingface_hub 1.x has no public, per-instance way to give ``InferenceClient`` an HTTP client (only the
process-wide ``set_client_factory``), so a private subclass overrides its one sending method, ``_inner_post``
(pinned by ``huggingface_hub>=1,<2`` and by the tests of every task). Its URL is a placeholder: the path below it
is what is sent, to the endpoint's URL as the epmgr client knows it. huggingface_hub is imported on the first task
call, not with the client.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

import httpx

from epmgr.client import payloads

if TYPE_CHECKING:
    from huggingface_hub import AsyncInferenceClient, InferenceClient
    from huggingface_hub.inference._common import RequestParameters
else:

    class _MethodNames:
        """Stands for (Async)InferenceClient in the class bodies below: ``X.task`` is just the task's name."""

        def __getattr__(self, name: str) -> Any:
            return type(name, (), {"__name__": name})

    InferenceClient = AsyncInferenceClient = _MethodNames()

PLACEHOLDER = "http://epmgr-endpoint.invalid"
"""The URL the wrapped InferenceClient believes in; only the path after it is sent."""

P = ParamSpec("P")
R = TypeVar("R")
_CACHE = "_epmgr_inference_client"


class _Sender(Protocol):
    def request(self, method: str, path: str = "", **kwargs: Any) -> httpx.Response: ...


class _AsyncSender(Protocol):
    def request(self, method: str, path: str = "", **kwargs: Any) -> Awaitable[httpx.Response]: ...


def _name(owner: object) -> str:
    """The endpoint's name, for error messages."""
    parts = getattr(owner, "parts", None)
    return str(getattr(getattr(parts, "waker", None), "name", None) or owner)


def _outgoing(params: RequestParameters) -> tuple[str, dict[str, Any]]:
    """The path below the endpoint's URL and the httpx arguments (the epmgr client's own token is used)."""
    if not params.url.startswith(PLACEHOLDER):
        raise ValueError(f"{params.url}: an epmgr client calls its own endpoint only (model= is not supported)")
    headers = {k: v for k, v in params.headers.items() if k.lower() != "authorization"}
    return params.url[len(PLACEHOLDER) :], {"json": params.json, "content": params.data, "headers": headers}


def _image_accept(params: RequestParameters, options: dict[str, Any]) -> None:
    """What InferenceClient's own ``_inner_post`` adds for image tasks."""
    if params.task in ("text-to-image", "image-to-image") and "Accept" not in options["headers"]:
        options["headers"]["Accept"] = "image/png"


@functools.cache
def _routed_classes() -> tuple[type[InferenceClient], type[AsyncInferenceClient]]:
    """The two routed subclasses, built (and huggingface_hub imported) on the first task call."""
    from huggingface_hub import AsyncInferenceClient, InferenceClient

    class RoutedInferenceClient(InferenceClient):
        """InferenceClient whose requests go through an epmgr client's ``request()``."""

        def __init__(self, owner: _Sender) -> None:
            super().__init__(model=PLACEHOLDER)
            self._owner = owner

        def _inner_post(self, request_parameters: RequestParameters, *, stream: bool = False) -> Any:
            path, options = _outgoing(request_parameters)
            _image_accept(request_parameters, options)
            response = self._owner.request("POST", path, **options)
            payloads.raise_for_status(response, _name(self._owner))
            return iter(response.text.splitlines()) if stream else response.content

    class AsyncRoutedInferenceClient(AsyncInferenceClient):
        """AsyncInferenceClient whose requests go through an async epmgr client's ``request()``."""

        def __init__(self, owner: _AsyncSender) -> None:
            super().__init__(model=PLACEHOLDER)
            self._owner = owner

        async def _inner_post(self, request_parameters: RequestParameters, *, stream: bool = False) -> Any:
            path, options = _outgoing(request_parameters)
            _image_accept(request_parameters, options)
            response = await self._owner.request("POST", path, **options)
            payloads.raise_for_status(response, _name(self._owner))
            return _lines(response.text) if stream else response.content

    return RoutedInferenceClient, AsyncRoutedInferenceClient


async def _lines(text: str) -> AsyncIterator[str]:
    for line in text.splitlines():
        yield line


class _Task(Generic[P, R]):
    """A method of the wrapped (Async)InferenceClient, typed as the original (minus ``self``)."""

    def __init__(self, method: Callable[Concatenate[Any, P], R]) -> None:
        self.name = method.__name__
        self.__doc__ = f"InferenceClient.{self.name}, waking the endpoint first (see epmgr.client.tasks)."

    @overload
    def __get__(self, owner: None, kind: type) -> _Task[P, R]: ...

    @overload
    def __get__(self, owner: object, kind: type) -> Callable[P, R]: ...

    def __get__(self, owner: object, kind: type) -> _Task[P, R] | Callable[P, R]:
        if owner is None:
            return self
        return cast(Callable[P, R], getattr(_wrapped(owner), self.name))


def _wrapped(owner: object) -> InferenceClient | AsyncInferenceClient:
    """The owner's routed InferenceClient, built on first use."""
    client = owner.__dict__.get(_CACHE)
    if client is None:
        sync, asynchronous = _routed_classes()
        routed: Any = asynchronous if isinstance(owner, AsyncTasks) else sync
        client = owner.__dict__[_CACHE] = routed(owner)
    return cast("InferenceClient | AsyncInferenceClient", client)


class Tasks:
    """InferenceClient's tasks for a sync client with ``request(method, path, **httpx_kwargs) -> httpx.Response``."""

    feature_extraction = _Task(InferenceClient.feature_extraction)
    sentence_similarity = _Task(InferenceClient.sentence_similarity)
    text_classification = _Task(InferenceClient.text_classification)
    token_classification = _Task(InferenceClient.token_classification)
    zero_shot_classification = _Task(InferenceClient.zero_shot_classification)
    fill_mask = _Task(InferenceClient.fill_mask)
    summarization = _Task(InferenceClient.summarization)
    translation = _Task(InferenceClient.translation)
    question_answering = _Task(InferenceClient.question_answering)
    table_question_answering = _Task(InferenceClient.table_question_answering)
    automatic_speech_recognition = _Task(InferenceClient.automatic_speech_recognition)
    audio_classification = _Task(InferenceClient.audio_classification)
    text_to_speech = _Task(InferenceClient.text_to_speech)
    text_to_image = _Task(InferenceClient.text_to_image)
    image_classification = _Task(InferenceClient.image_classification)
    image_segmentation = _Task(InferenceClient.image_segmentation)
    image_to_text = _Task(InferenceClient.image_to_text)
    object_detection = _Task(InferenceClient.object_detection)
    zero_shot_image_classification = _Task(InferenceClient.zero_shot_image_classification)
    visual_question_answering = _Task(InferenceClient.visual_question_answering)
    document_question_answering = _Task(InferenceClient.document_question_answering)


class AsyncTasks:
    """The same tasks, as coroutines, for an async client with ``async request(method, path, **kwargs)``."""

    feature_extraction = _Task(AsyncInferenceClient.feature_extraction)
    sentence_similarity = _Task(AsyncInferenceClient.sentence_similarity)
    text_classification = _Task(AsyncInferenceClient.text_classification)
    token_classification = _Task(AsyncInferenceClient.token_classification)
    zero_shot_classification = _Task(AsyncInferenceClient.zero_shot_classification)
    fill_mask = _Task(AsyncInferenceClient.fill_mask)
    summarization = _Task(AsyncInferenceClient.summarization)
    translation = _Task(AsyncInferenceClient.translation)
    question_answering = _Task(AsyncInferenceClient.question_answering)
    table_question_answering = _Task(AsyncInferenceClient.table_question_answering)
    automatic_speech_recognition = _Task(AsyncInferenceClient.automatic_speech_recognition)
    audio_classification = _Task(AsyncInferenceClient.audio_classification)
    text_to_speech = _Task(AsyncInferenceClient.text_to_speech)
    text_to_image = _Task(AsyncInferenceClient.text_to_image)
    image_classification = _Task(AsyncInferenceClient.image_classification)
    image_segmentation = _Task(AsyncInferenceClient.image_segmentation)
    image_to_text = _Task(AsyncInferenceClient.image_to_text)
    object_detection = _Task(AsyncInferenceClient.object_detection)
    zero_shot_image_classification = _Task(AsyncInferenceClient.zero_shot_image_classification)
    visual_question_answering = _Task(AsyncInferenceClient.visual_question_answering)
    document_question_answering = _Task(AsyncInferenceClient.document_question_answering)


TASKS = tuple(name for name in vars(Tasks) if not name.startswith("_"))
"""The task names both mixins offer."""

__all__ = ["TASKS", "AsyncTasks", "Tasks"]
