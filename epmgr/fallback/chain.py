"""FallbackClient: the dedicated endpoint first; while it sleeps (woken in the background), is over budget or
fails, the first healthy fallback answers at once.

A layer above :class:`~epmgr.client.EndpointClient`, through its public calls only (``url``, ``ensure_awake``,
``text_generation``, ``chat_completion``): the wake is the client's own (one resume across processes through the
ledger's lease), run in a background thread while the fallbacks answer. Who serves is decided by the pure
:func:`epmgr.domain.fallback.choose`. Every answer says who served it: ``ServedText.served_by`` for text, a
``served_by`` attribute on a chat answer, :attr:`FallbackClient.last_served_by` in the calling thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

from epmgr.clock import Clock, SystemClock
from epmgr.domain.fallback import (
    DEFAULT_WHEN,
    PRIMARY,
    Health,
    Primary,
    Route,
    choose,
    parse_spec,
    parse_when,
    recently_failed,
)
from epmgr.errors import BudgetExceeded, ConfigError, EpmgrError
from epmgr.fallback import backends
from epmgr.fallback.probe import health_ok
from epmgr.fallback.usage import UsageWriter, ledger_and_ref

log = logging.getLogger("epmgr.fallback")
T = TypeVar("T")
READY_TTL = timedelta(seconds=30)  # a primary that answered this recently is used without a probe
PROBE_TTL = timedelta(seconds=1)  # a probe's "asleep" is trusted this long (50 callers at once: one probe)


class ServedText(str):
    """Generated text that knows who served it (``served_by``: ``"primary"`` or a fallback's spec)."""

    served_by: str = PRIMARY


class FallbackClient:
    """A dedicated endpoint with a chain of fallbacks (see the module and docs/fallback.md).

    Args:
        endpoint: The primary endpoint's name or URL (as :class:`~epmgr.client.EndpointClient`).
        fallback: Specs in order: ``serverless:org/model[:provider]``, ``endpoint:name``, ``local:path``,
            ``openai:URL#model`` (None: the endpoint's ``fallback`` in ``epmgr.toml``, if any).
        fallback_when: Among ``"waking"``, ``"over_budget"``, ``"error"`` (None: the configured ones, else
            waking and over_budget).
        client: An existing primary client (else one is built from ``endpoint`` and ``**options``).
        router: The serverless router's URL (default ``EPMGR_HF_ROUTER_URL`` or HF's).
        clock: Time (tests pass an accelerated one).
        **options: Passed to :class:`~epmgr.client.EndpointClient`.

    Raises:
        ConfigError: A fallback spec or condition that is not valid (the message names it).

    Example:
        >>> with FallbackClient("phi3-mini", fallback=["serverless:microsoft/Phi-3-mini-4k-instruct"]) as c:
        ...     answer = c.chat_completion([{"role": "user", "content": "Hi"}])  # doctest: +SKIP
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        fallback: Sequence[str] | None = None,
        fallback_when: Iterable[str] | None = None,
        client: Any = None,
        router: str | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        if fallback is None and endpoint is not None:
            from epmgr.config import load_fallbacks

            configured = load_fallbacks().chains.get(endpoint.rsplit("/", 1)[-1])
            if configured is not None:
                fallback = configured[0]
                fallback_when = [w.value for w in configured[1]] if fallback_when is None else fallback_when
        if isinstance(fallback, str):
            fallback = [fallback]
        fallback = fallback or ()
        try:
            specs = [parse_spec(text) for text in fallback]
            self.when = DEFAULT_WHEN if fallback_when is None else parse_when(fallback_when)
        except ValueError as exc:
            raise ConfigError(str(exc), key="fallback") from None
        if client is None:
            from epmgr.client import EndpointClient

            client = EndpointClient(endpoint, clock=clock, **options)
        self.primary = client
        parts = getattr(client, "parts", None)
        token = getattr(parts, "token", None)
        namespace = getattr(getattr(parts, "ref", None), "namespace", None)
        self.backends = [backends.build(s, token=token, router=router, namespace=namespace) for s in specs]
        self.clock: Clock = clock or SystemClock()
        self.served: Counter[str] = Counter()  # answers per backend ("primary" included)
        self.usage = UsageWriter(lambda: ledger_and_ref(self.primary))
        self._lock = threading.Lock()
        self._ready_at: datetime | None = None
        self._asleep_at: datetime | None = None
        self._over_budget_at: datetime | None = None
        self._wake_failed_at: datetime | None = None
        self._failed_at: dict[str, datetime] = {}
        self._waking: threading.Thread | None = None
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"FallbackClient({self.primary!r}, fallback={[b.spec for b in self.backends]!r})"

    @property
    def last_served_by(self) -> str | None:
        """Who served this thread's last answer."""
        value = getattr(self._local, "served_by", None)
        return value if isinstance(value, str) else None

    # -- what is known of the primary ---------------------------------------------------------------

    def primary_condition(self) -> Primary:
        """The primary's condition now: at most one probe at a time, a wake started elsewhere is seen as waking."""
        now = self.clock.now()
        with self._lock:
            if self._ready_at is not None and now - self._ready_at < READY_TTL:
                return Primary.READY
            if self._waking is not None and self._waking.is_alive():
                return Primary.WAKING
            if recently_failed(self._over_budget_at, now) or self._budget_hold(now):
                return Primary.OVER_BUDGET
            if recently_failed(self._wake_failed_at, now):  # failed, or its wake did: not worth waiting for
                return Primary.ERROR
            if self._asleep_at is not None and now - self._asleep_at < PROBE_TTL:
                return Primary.ASLEEP
            try:
                url = self.primary.url
            except EpmgrError:
                url = None
            if url is not None and health_ok(self.primary, url):
                self._ready_at = now
                return Primary.READY
            self._asleep_at = now
            return Primary.ASLEEP

    def _budget_hold(self, now: datetime) -> bool:
        """A budget hold in force on the primary (read where the client keeps it: its wake coordinator)."""
        parts = getattr(self.primary, "parts", None)
        ref = getattr(parts, "ref", None)
        coordinator = getattr(getattr(parts, "waker", None), "coordinator", None)
        if ref is None or coordinator is None or not hasattr(coordinator, "budget"):
            return False
        try:
            hold = coordinator.budget(ref, now)
        except EpmgrError:
            return False
        if hold is not None:
            self._over_budget_at = now
            return True
        return False

    def fallback_health(self) -> list[Health]:
        now = self.clock.now()
        out = []
        for backend in self.backends:
            if recently_failed(self._failed_at.get(backend.spec), now):
                out.append(Health(backend.spec, False, "failed a moment ago"))
                continue
            ok, why = backend.available()
            out.append(Health(backend.spec, ok, why))
        return out

    def _start_wake(self) -> None:
        with self._lock:
            if self._waking is not None and self._waking.is_alive():
                return
            self._waking = threading.Thread(target=self._wake, name="epmgr-fallback-wake", daemon=True)
            self._waking.start()

    def _wake(self) -> None:
        """The primary's wake, in the background: the client's own (one resume across processes)."""
        try:
            ready = self.primary.ensure_awake()
            if getattr(ready, "hold", False):  # scaled to zero: a real request starts the scale-up
                self.primary.request("POST", "", json={"inputs": ".", "parameters": {"max_new_tokens": 1}})
            with self._lock:
                self._ready_at, self._asleep_at = self.clock.now(), None
            log.info("%r: the primary is ready; new requests go to it", self)
        except BudgetExceeded:
            with self._lock:
                self._over_budget_at = self.clock.now()
        except EpmgrError as exc:
            log.warning("%r: waking the primary failed: %s", self, exc)
            with self._lock:
                self._wake_failed_at = self.clock.now()

    # -- serving ------------------------------------------------------------------------------------

    def route(self, condition: Primary | None = None) -> Route:
        """The decision for one request now (starts the primary's wake when it says so)."""
        decided = choose(condition or self.primary_condition(), self.when, self.fallback_health())
        if decided.wake and decided.fallback:
            self._start_wake()
        return decided

    def _serve(self, on_primary: Callable[[], T], on_backend: Callable[[backends.Backend], T]) -> tuple[T, str]:
        decided = self.route()
        tried: set[str] = set()
        while decided.fallback:
            backend = next(b for b in self.backends if b.spec == decided.serve)
            tried.add(backend.spec)
            started = self.clock.now()
            try:
                answer = on_backend(backend)
            except EpmgrError as exc:
                log.warning("%r: fallback %s failed (%s); trying the next", self, backend.spec, exc)
                self._failed_at[backend.spec] = self.clock.now()
                healths = [h if h.backend not in tried else Health(h.backend, False) for h in self.fallback_health()]
                decided = choose(self._condition_after_fallbacks(), self.when, healths)
                continue
            self.usage.add(backend.spec, started, self.clock.now(), answer)
            return answer, backend.spec
        try:
            answer = on_primary()
        except BudgetExceeded as exc:
            self._over_budget_at = self.clock.now()
            return self._after_primary_failed(Primary.OVER_BUDGET, on_backend, tried, exc)
        except EpmgrError as exc:
            self._ready_at = None
            return self._after_primary_failed(Primary.ERROR, on_backend, tried, exc)
        with self._lock:
            self._ready_at = self.clock.now()
        return answer, PRIMARY

    def _condition_after_fallbacks(self) -> Primary:
        return Primary.WAKING if self._waking is not None and self._waking.is_alive() else self.primary_condition()

    def _after_primary_failed(
        self, condition: Primary, on_backend: Callable[[backends.Backend], T], tried: set[str], error: EpmgrError
    ) -> tuple[T, str]:
        """The primary failed with ``error``: a fallback answers if ``fallback_when`` allows, else it is raised."""
        healths = [h for h in self.fallback_health() if h.backend not in tried]
        decided = choose(condition, self.when, healths)
        if not decided.fallback:
            raise error
        backend = next(b for b in self.backends if b.spec == decided.serve)
        started = self.clock.now()
        answer = on_backend(backend)
        self.usage.add(backend.spec, started, self.clock.now(), answer)
        return answer, backend.spec

    def _mark(self, served_by: str) -> None:
        self.served[served_by] += 1
        self._local.served_by = served_by

    def chat_completion(self, messages: Sequence[Any], *, stream: bool = False, **params: Any) -> Any:
        """Chat (the portable form: each backend applies its own model's chat template); ``served_by`` on the
        answer. With ``stream``, the primary's chunks, or a fallback's (the router streams; others in one chunk)."""
        if stream:
            answer, by = self._serve(
                lambda: self.primary.chat_completion(messages, stream=True, **params),
                lambda b: b.chat_completion(messages, **params),
            )
            self._mark(by)
            return answer if by == PRIMARY else iter(_as_chunks(answer))
        answer, by = self._serve(
            lambda: self.primary.chat_completion(messages, **params), lambda b: b.chat_completion(messages, **params)
        )
        self._mark(by)
        with contextlib.suppress(AttributeError):
            answer.served_by = by
        return answer

    def text_generation(self, prompt: str, *, stream: bool = False, **params: Any) -> Any:
        """A raw prompt, sent unchanged to whoever serves (no chat template is applied: see docs/fallback.md)."""
        if stream:
            answer, by = self._serve(
                lambda: self.primary.text_generation(prompt, stream=True, **params),
                lambda b: b.text_generation(prompt, **params),
            )
            self._mark(by)
            return answer if by == PRIMARY else iter([answer])
        text, by = self._serve(
            lambda: self.primary.text_generation(prompt, **params), lambda b: b.text_generation(prompt, **params)
        )
        self._mark(by)
        served = ServedText(text)
        served.served_by = by
        return served

    @property
    def waking(self) -> bool:
        """A background wake of the primary is under way."""
        return self._waking is not None and self._waking.is_alive()

    def wait_for_wake(self, timeout: float | None = None) -> None:
        """Block until the background wake (if any) has finished (tests, scripts)."""
        thread = self._waking
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        self.usage.close()
        for backend in self.backends:
            backend.close()
        self.primary.close()

    def __enter__(self) -> FallbackClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _as_chunks(answer: Any) -> Iterator[Any]:
    """A fallback's chat answer as stream chunks: the router's own stream as is, a whole answer as one chunk."""
    if isinstance(answer, Iterator):
        yield from answer
        return
    from huggingface_hub import ChatCompletionStreamOutput

    choice = answer.choices[0]
    yield ChatCompletionStreamOutput.parse_obj_as_instance(
        {
            "id": answer.id,
            "created": answer.created,
            "model": answer.model,
            "system_fingerprint": answer.system_fingerprint,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": choice.message.content},
                         "finish_reason": choice.finish_reason}],
        }
    )  # fmt: skip
