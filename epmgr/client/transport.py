"""httpx transports that wake the endpoint and record each request: pass one as ``transport=`` to any httpx client.

Only inference requests to the endpoint (POSTs under its URL) are handled; everything else passes through to
the inner transport untouched, so transports for several endpoints can be chained, and one can be installed as
huggingface_hub's client factory (which then also carries the management API's calls)::

    from huggingface_hub import InferenceClient, set_client_factory
    transport = WakingTransport.for_endpoint("phi3-mini")
    set_client_factory(lambda: httpx.Client(transport=transport))
    InferenceClient(model=transport.url).text_generation("Hello")

Only the transport decides to wake. A request is sent as is, one request per call whatever the gap since the
last (with ``X-Scale-Up-Timeout``, so a scaled-to-zero endpoint holds it while it scales up: no management-API
call at all). An answer that means "asleep" (503, 502, 400 ``Invalid state``, or no connection) makes the
transport wake the endpoint (:class:`~epmgr.client.waker.Waker`, single flight) and send again; a request to
:data:`UNKNOWN_BASE` (a paused endpoint whose URL was never seen) is woken first, then sent to the real URL.
Every answer carries ``X-Epmgr-Cold-Start: true|false``. Streams are passed through chunk by chunk
(:mod:`epmgr.client.streams`); the request is recorded as finished when its stream closes. The sync and async
transports drive one exchange (:meth:`_Core.exchange`), as the wake is one flow with two drivers.

A broken connection never reaches the caller as a raw httpx error: a read, write or protocol error (a kept-alive
connection the server closed) is sent again once, then it, a timeout or any other transport error becomes
:class:`~epmgr.errors.ApiUnavailable` naming the endpoint; so does a stream cut in the middle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from dataclasses import dataclass
from typing import Literal

import httpx

from epmgr.client.context import ClientParts
from epmgr.client.streams import AsyncRecordingStream, Done, RecordingStream, broken, translated
from epmgr.client.waker import SCALE_UP_HEADER, Ready, Waker, tls_context
from epmgr.domain.model import EndpointState
from epmgr.errors import WakeTimeout

COLD_START_HEADER = "X-Epmgr-Cold-Start"
UNKNOWN_HOST = "epmgr.endpoint.invalid"
UNKNOWN_BASE = f"http://{UNKNOWN_HOST}"  # stands for the URL of an endpoint not yet seen running
ASLEEP_STATUSES = frozenset({502, 503})
SENT_AGAIN = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)  # a stale kept-alive connection
_SCALE_UP_KEY = SCALE_UP_HEADER.lower()


def needs_wake(response: httpx.Response) -> bool:
    """Whether an answer means the endpoint is not serving yet (the body of a 400 must have been read)."""
    if response.status_code in ASLEEP_STATUSES:
        return True
    return response.status_code == 400 and b"Invalid state" in response.content


class _Send:
    """Send the request. Reply: the response, or the httpx.TransportError the sending raised."""


@dataclass(frozen=True)
class _Read:
    """Read the (400) answer's body. Reply: None."""

    response: httpx.Response


@dataclass(frozen=True)
class _Drop:
    """Close an "asleep" answer. Reply: None."""

    response: httpx.Response


@dataclass(frozen=True)
class _Wake:
    """Wake the endpoint (single flight; a wake that finished after ``since`` is reused). Reply: Ready."""

    since: object


@dataclass(frozen=True)
class _Prepare:
    """Complete the parts (the first request: API, ledger, URL). Reply: None."""


SEND = _Send()
PREPARE = _Prepare()
_Op = _Send | _Read | _Drop | _Wake | _Prepare


class _Core:
    """What both transports share: which requests to handle, and the one exchange they both drive."""

    def __init__(self, parts: ClientParts, hold_s: float | None) -> None:
        self.parts = parts
        self.waker = parts.waker
        self.hold_s = hold_s
        self.hold = str(int(hold_s)) if hold_s else None  # the header's value, sent with every request

    def handles(self, request: httpx.Request) -> Literal["url", "unknown"] | None:
        """POSTs under the endpoint's URL (``"url"``, the usual case, checked first), and any request under
        :data:`UNKNOWN_BASE` (``"unknown"``); None for the rest, which passes through."""
        base = self.waker.url
        if base is not None and request.method == "POST" and str(request.url).startswith(base):
            return "url"
        return "unknown" if request.url.host == UNKNOWN_HOST else None

    def route(self, request: httpx.Request, unknown: bool) -> None:
        """Point a request made before the URL was known at the URL, and hold it if holding is on."""
        if unknown and self.waker.url is not None and request.url.host == UNKNOWN_HOST:
            rest = str(request.url)[len(UNKNOWN_BASE) :]
            request.url = httpx.URL(self.waker.url + rest)
            request.headers["Host"] = request.url.netloc.decode("ascii")
        if self.hold is not None and _SCALE_UP_KEY not in request.headers:
            request.headers[SCALE_UP_HEADER] = self.hold

    def held(self, request: httpx.Request, ready: Ready, waited_s: float) -> None:
        """A scaled-to-zero endpoint is woken by a held request: hold the next one even if holding is off
        (else every 503 would start another wake at once, a busy loop for the whole cold start)."""
        if ready.hold and _SCALE_UP_KEY not in request.headers:
            left = max(1, int(self.waker.timeout.total_seconds() - waited_s))
            request.headers[SCALE_UP_HEADER] = str(left)

    def exchange(
        self, request: httpx.Request, unknown: bool = False
    ) -> Generator[_Op, object, tuple[httpx.Response, Done]]:
        """Send ``request`` (``unknown``: to :data:`UNKNOWN_BASE`), waking the endpoint when the answer says it
        sleeps, until it is served."""
        if not self.parts.prepared:
            yield PREPARE
        parts, waker = self.parts, self.waker
        clock, recorder, ref = waker.clock, parts.recorder, waker.ref
        started = sent_at = clock.now()  # sent_at: when the request was last sent (a wake after it is reused)
        pending = None
        if recorder is not None and ref is not None:  # the same instant when the recorder keeps the same time
            pending = recorder.start(ref, started if recorder.clock is clock else None, client_id=parts.client_id)
        cold = False
        if parts.first_state is not None:  # the first request after prepare(): a cold start if it was sleeping
            first, parts.first_state = parts.first_state, None
            cold = first in (EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO)
        try:
            if waker.url is None:  # paused and never seen running: wake it to learn where to send
                cold = True
                self.held(request, (yield _Wake(None)), 0.0)  # type: ignore[arg-type]
                sent_at = clock.now()
            stale = 0
            while True:
                self.route(request, unknown)
                answer = yield SEND
                if isinstance(answer, httpx.Response):  # the usual case, checked first
                    if answer.status_code == 400:
                        yield _Read(answer)
                    if not needs_wake(answer):
                        answer.headers[COLD_START_HEADER] = "true" if cold else "false"
                        return answer, Done(recorder, pending, answer.status_code)
                    yield _Drop(answer)
                elif isinstance(answer, SENT_AGAIN) and stale == 0:
                    stale += 1
                    sent_at = clock.now()
                    continue
                elif isinstance(answer, httpx.TransportError) and not isinstance(answer, httpx.ConnectError):
                    raise broken(waker.name, answer) from answer
                cold = True  # a ConnectError, or an answer saying "asleep"
                ready = yield _Wake(sent_at)
                sent_at = clock.now()
                waited_s = (sent_at - started).total_seconds()
                if waited_s > waker.timeout.total_seconds():
                    raise WakeTimeout(
                        f"{waker.name} kept answering as asleep for {waited_s:.1f}s after it was ready",
                        endpoint=waker.name,
                        last_state="running",
                        waited_s=waited_s,
                    )
                self.held(request, ready, waited_s)  # type: ignore[arg-type]
        except BaseException:
            if recorder is not None and pending is not None:
                recorder.finish(pending, None)
            raise


class WakingTransport(httpx.BaseTransport):
    """A sync httpx transport that wakes its endpoint on demand and records each request.

    Args:
        parts: The endpoint's parts (see :meth:`for_endpoint` to build them from the configuration).
        inner: The transport that really sends (default: ``httpx.HTTPTransport()``).
        hold_s: ``X-Scale-Up-Timeout`` sent with each request (None: not sent).
    """

    def __init__(
        self, parts: ClientParts | Waker, *, inner: httpx.BaseTransport | None = None, hold_s: float | None = 600
    ) -> None:
        self.inner = inner or httpx.HTTPTransport(verify=tls_context())
        self._core = _Core(_parts_of(parts), hold_s)
        self.parts = self._core.parts
        self.waker = self.parts.waker
        self.hold = self._core.hold  # the X-Scale-Up-Timeout value (a client may send it as a default header)

    @property
    def url(self) -> str:
        """The endpoint's URL (:data:`UNKNOWN_BASE` while paused and never seen running: requests to it wake it)."""
        return self.parts.url() or UNKNOWN_BASE

    @classmethod
    def for_endpoint(cls, endpoint: str, *, namespace: str | None = None, **options: object) -> WakingTransport:
        """A transport for endpoint ``endpoint`` (a name or a URL), configured like the CLI (settings, env)."""
        from epmgr.client.sync import EndpointClient

        return EndpointClient(endpoint, namespace=namespace, **options).transport  # type: ignore[arg-type]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = self._core
        if not self.parts.prepared and request.method == "POST":  # the first request learns the URL
            self.parts.prepare()
        handled = core.handles(request)
        if handled is None:
            return self.inner.handle_request(request)
        request.read()  # the body is sent again after a wake
        exchange = core.exchange(request, handled == "unknown")
        try:
            op = next(exchange)
            while True:
                reply: object = None
                if op is SEND:
                    try:
                        reply = self.inner.handle_request(request)
                    except httpx.TransportError as exc:
                        reply = exc
                elif isinstance(op, _Read):
                    with translated(self.waker.name):
                        op.response.read()
                elif isinstance(op, _Drop):
                    op.response.close()
                elif isinstance(op, _Wake):
                    reply = self.waker.ensure_awake(since=op.since)  # type: ignore[arg-type]
                elif isinstance(op, _Prepare):
                    self.parts.prepare()
                op = exchange.send(reply)
        except StopIteration as finished:
            response, done = finished.value
            response.stream = RecordingStream(response.stream, done, self.waker)
            sent: httpx.Response = response
            return sent

    def close(self) -> None:
        """Close the connections and the waker's; flush the queued records."""
        self.inner.close()
        self.parts.close()


class AsyncWakingTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`WakingTransport` (the same exchange, the async wake driver).

    Args: as :class:`WakingTransport` (``inner`` defaults to ``httpx.AsyncHTTPTransport()``).
    """

    def __init__(
        self, parts: ClientParts | Waker, *, inner: httpx.AsyncBaseTransport | None = None, hold_s: float | None = 600
    ) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport(verify=tls_context())
        self._core = _Core(_parts_of(parts), hold_s)
        self.parts = self._core.parts
        self.waker = self.parts.waker
        self.hold = self._core.hold  # the X-Scale-Up-Timeout value (a client may send it as a default header)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core = self._core
        if not self.parts.prepared and request.method == "POST":  # the first request learns the URL
            await asyncio.to_thread(self.parts.prepare)
        handled = core.handles(request)
        if handled is None:
            return await self.inner.handle_async_request(request)
        await request.aread()
        exchange = core.exchange(request, handled == "unknown")
        try:
            op = next(exchange)
            while True:
                reply: object = None
                if op is SEND:
                    try:
                        reply = await self.inner.handle_async_request(request)
                    except httpx.TransportError as exc:
                        reply = exc
                elif isinstance(op, _Read):
                    with translated(self.waker.name):
                        await op.response.aread()
                elif isinstance(op, _Drop):
                    await op.response.aclose()
                elif isinstance(op, _Wake):
                    reply = await self.waker.ensure_awake_async(since=op.since)  # type: ignore[arg-type]
                elif isinstance(op, _Prepare):
                    await asyncio.to_thread(self.parts.prepare)
                op = exchange.send(reply)
        except StopIteration as finished:
            response, done = finished.value
            response.stream = AsyncRecordingStream(response.stream, done, self.waker)
            sent: httpx.Response = response
            return sent

    async def aclose(self) -> None:
        """Close the connections; flush the queued records."""
        await self.inner.aclose()
        await asyncio.to_thread(self.parts.close)


def _parts_of(given: ClientParts | Waker) -> ClientParts:
    """A bare :class:`Waker` (tests, custom setups) gets parts of its own, already complete."""
    if isinstance(given, ClientParts):
        return given
    from epmgr.client.runtime import Runtime

    return ClientParts(given, None, Runtime(), prepared=True)
