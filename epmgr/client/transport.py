"""httpx transports that wake the endpoint and record each request: pass one as ``transport=`` to any httpx client.

Only inference requests to the endpoint (POSTs under its URL) are handled; everything else passes through to
the inner transport untouched, so transports for several endpoints can be chained, and one can be installed as
huggingface_hub's client factory (which then also carries the management API's calls)::

    from huggingface_hub import InferenceClient, set_client_factory
    transport = WakingTransport.for_endpoint("phi3-mini")
    set_client_factory(lambda: httpx.Client(transport=transport))
    InferenceClient(model=transport.waker.url).text_generation("Hello")

A request is sent as is (with ``X-Scale-Up-Timeout``, so a scaled-to-zero endpoint holds it while it scales up:
no management-API call at all). An answer that means "asleep" (503, 502, 400 ``Invalid state``, or no
connection) makes the transport wake the endpoint (:class:`~epmgr.client.waker.Waker`, single flight) and send
again. Every answer carries ``X-Epmgr-Cold-Start: true|false``. Streams are passed through chunk by chunk; the
request is recorded as finished when its stream closes.

A broken connection never reaches the caller as a raw httpx error: a read, write or protocol error (a kept-alive
connection the server closed) is sent again once, then it, a timeout or any other transport error becomes
:class:`~epmgr.errors.ApiUnavailable` naming the endpoint; so does a stream cut in the middle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx

from epmgr.client.recorder import ActivityRecorder, Pending
from epmgr.client.waker import Ready, Waker, tls_context
from epmgr.errors import ApiUnavailable, WakeTimeout

COLD_START_HEADER = "X-Epmgr-Cold-Start"
SCALE_UP_HEADER = "X-Scale-Up-Timeout"
ASLEEP_STATUSES = frozenset({502, 503})
FRESH_S = 30.0  # an endpoint that answered this recently is taken as warm without a health check
_KEEP_BODY = 64 * 1024  # bytes of an answer kept for token counting (a stream keeps its tail)
SENT_AGAIN = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)  # a stale kept-alive connection


def broken(endpoint: str, exc: httpx.TransportError) -> ApiUnavailable:
    """The error a caller gets for a transport failure talking to ``endpoint`` (never the raw httpx one)."""
    what = "did not answer in time" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    return ApiUnavailable(f"{endpoint}: the endpoint's {what} ({type(exc).__name__}: {exc})", endpoint=endpoint)


@contextmanager
def translated(endpoint: str) -> Iterator[None]:
    """Turn an httpx transport error raised inside the block into :func:`broken`'s ApiUnavailable."""
    try:
        yield
    except httpx.TransportError as exc:
        raise broken(endpoint, exc) from exc


def send_once_more(endpoint: str, send: Callable[[], httpx.Response]) -> httpx.Response:
    """``send()``, again once after a stale-connection error; ConnectError passes (it means "asleep")."""
    for attempt in (1, 2):
        try:
            return send()
        except httpx.ConnectError:
            raise
        except SENT_AGAIN as exc:
            if attempt == 2:
                raise broken(endpoint, exc) from exc
        except httpx.TransportError as exc:
            raise broken(endpoint, exc) from exc
    raise AssertionError("unreachable")  # pragma: no cover


async def send_once_more_async(endpoint: str, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """The asyncio twin of :func:`send_once_more`."""
    for attempt in (1, 2):
        try:
            return await send()
        except httpx.ConnectError:
            raise
        except SENT_AGAIN as exc:
            if attempt == 2:
                raise broken(endpoint, exc) from exc
        except httpx.TransportError as exc:
            raise broken(endpoint, exc) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def needs_wake(response: httpx.Response) -> bool:
    """Whether an answer means the endpoint is not serving yet (the body of a 400 must have been read)."""
    if response.status_code in ASLEEP_STATUSES:
        return True
    return response.status_code == 400 and b"Invalid state" in response.content


class _Tail:
    """The first 64 KiB of an answer, or its last 8 KiB past that (where a stream's usage is)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        while self.size > _KEEP_BODY and len(self.chunks) > 1:
            self.size -= len(self.chunks.pop(0))

    def bytes(self) -> bytes:
        return b"".join(self.chunks)[-_KEEP_BODY:]


class _RecordingStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, done: _Done, endpoint: str) -> None:
        self.inner = inner
        self.done = done
        self.endpoint = endpoint
        self.tail = _Tail()

    def __iter__(self) -> Iterator[bytes]:
        with translated(self.endpoint):
            for chunk in self.inner:
                self.tail.add(chunk)
                yield chunk

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.done(self.tail.bytes())


class _AsyncRecordingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, done: _Done, endpoint: str) -> None:
        self.inner = inner
        self.done = done
        self.endpoint = endpoint
        self.tail = _Tail()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with translated(self.endpoint):
            async for chunk in self.inner:
                self.tail.add(chunk)
                yield chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.done(self.tail.bytes())


@dataclass
class _Done:
    """Finishes a request's record once (when its answer's stream closes)."""

    recorder: ActivityRecorder | None
    pending: Pending | None
    status: int
    called: bool = False

    def __call__(self, body: bytes | None) -> None:
        if self.called:
            return
        self.called = True
        if self.recorder is not None and self.pending is not None:
            self.recorder.finish(self.pending, self.status, body=body)


class _Core:
    """What both transports share: which requests to handle, and the bookkeeping around them."""

    def __init__(self, waker: Waker, recorder: ActivityRecorder | None, hold_s: float | None) -> None:
        self.waker = waker
        self.recorder = recorder
        self.hold_s = hold_s
        self.last_ok = 0.0  # monotonic time of the last answer that was not "asleep"
        self.woken = False  # a client woke the endpoint before its first request (it had no URL yet)

    def take_woken(self) -> bool:
        woken, self.woken = self.woken, False
        return woken

    def should_look(self) -> bool:
        """A held request hides a cold start: after a quiet spell, one health check tells whether it is one."""
        return self.hold_s is not None and self.waker.url is not None and time.monotonic() - self.last_ok > FRESH_S

    def looked_cold(self, status: int | None) -> bool:
        return status != 200

    def handles(self, request: httpx.Request) -> bool:
        if request.method != "POST":
            return False
        base = self.waker.url
        return base is not None and str(request.url).startswith(base)

    def prepare(self, request: httpx.Request) -> None:
        if self.hold_s and SCALE_UP_HEADER.lower() not in request.headers:
            request.headers[SCALE_UP_HEADER] = str(int(self.hold_s))

    def held(self, request: httpx.Request, ready: Ready, waited_s: float) -> None:
        """A scaled-to-zero endpoint is woken by a held request: hold the next one even if holding is off
        (else every 503 would start another wake at once, a busy loop for the whole cold start)."""
        if ready.hold and SCALE_UP_HEADER.lower() not in request.headers:
            left = max(1, int(self.waker.timeout.total_seconds() - waited_s))
            request.headers[SCALE_UP_HEADER] = str(left)

    def start(self) -> Pending | None:
        if self.recorder is None or self.waker.ref is None:
            return None
        return self.recorder.start(self.waker.ref)

    def fail(self, pending: Pending | None) -> None:
        if self.recorder is not None and pending is not None:
            self.recorder.finish(pending, None)

    def deadline_passed(self, waited_s: float) -> bool:
        return waited_s > self.waker.timeout.total_seconds()

    def timeout_error(self, waited_s: float) -> WakeTimeout:
        return WakeTimeout(
            f"{self.waker.name} kept answering as asleep for {waited_s:.1f}s after it was ready",
            endpoint=self.waker.name,
            last_state="running",
            waited_s=waited_s,
        )

    def finish(self, response: httpx.Response, pending: Pending | None, cold: bool) -> _Done:
        self.last_ok = time.monotonic()
        response.headers[COLD_START_HEADER] = "true" if cold else "false"
        return _Done(self.recorder, pending, response.status_code)


class WakingTransport(httpx.BaseTransport):
    """A sync httpx transport that wakes its endpoint on demand and records each request.

    Args:
        waker: The endpoint's waker (see :meth:`for_endpoint` to build one from the configuration).
        recorder: Where requests are recorded (None: not recorded).
        inner: The transport that really sends (default: ``httpx.HTTPTransport()``).
        hold_s: ``X-Scale-Up-Timeout`` sent with each request (None: not sent).
    """

    def __init__(
        self,
        waker: Waker,
        recorder: ActivityRecorder | None = None,
        *,
        inner: httpx.BaseTransport | None = None,
        hold_s: float | None = 600,
    ) -> None:
        self.inner = inner or httpx.HTTPTransport(verify=tls_context())
        self._core = _Core(waker, recorder, hold_s)
        self.waker = waker
        self.recorder = recorder

    @classmethod
    def for_endpoint(cls, endpoint: str, *, namespace: str | None = None, **options: object) -> WakingTransport:
        """A transport for endpoint ``endpoint`` (a name or a URL), configured like the CLI (settings, env).

        Its URL routes the requests, so a paused endpoint (which has none) is woken here.
        """
        from epmgr.client.sync import EndpointClient

        client = EndpointClient(endpoint, namespace=namespace, **options)  # type: ignore[arg-type]
        if client.url is None:
            client.ensure_awake()
            client.transport.mark_woken()
        return client.transport

    def mark_woken(self) -> None:
        """The next request's answer says cold start (its endpoint was woken before it was sent)."""
        self._core.woken = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = self._core
        if not core.handles(request):
            return self.inner.handle_request(request)
        request.read()  # the body is sent again after a wake
        pending = core.start()
        cold = core.take_woken() or (
            core.should_look() and core.looked_cold(self.waker.health_status(str(self.waker.url)))
        )
        clock = self.waker.clock
        started = clock.now()
        try:
            while True:
                core.prepare(request)
                sent_at = clock.now()
                try:
                    response = send_once_more(self.waker.name, lambda: self.inner.handle_request(request))
                except httpx.ConnectError:  # a paused real endpoint may refuse the connection
                    response = None
                if response is not None:
                    if response.status_code == 400:
                        with translated(self.waker.name):
                            response.read()
                    if not needs_wake(response):
                        done = core.finish(response, pending, cold)
                        stream = _RecordingStream(response.stream, done, self.waker.name)  # type: ignore[arg-type]
                        response.stream = stream
                        return response
                    response.close()
                cold = True
                ready = self.waker.ensure_awake(since=sent_at)
                waited_s = (clock.now() - started).total_seconds()
                if core.deadline_passed(waited_s):
                    raise core.timeout_error(waited_s)
                core.held(request, ready, waited_s)
        except BaseException:
            core.fail(pending)
            raise

    def close(self) -> None:
        """Close the connections and the waker's; flush the queued records."""
        self.inner.close()
        self.waker.close()
        if self.recorder is not None:
            self.recorder.flush()


class AsyncWakingTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`WakingTransport`; the wake runs in a worker thread, one per endpoint.

    Args: as :class:`WakingTransport` (``inner`` defaults to ``httpx.AsyncHTTPTransport()``).
    """

    def __init__(
        self,
        waker: Waker,
        recorder: ActivityRecorder | None = None,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        hold_s: float | None = 600,
    ) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport(verify=tls_context())
        self._core = _Core(waker, recorder, hold_s)
        self.waker = waker
        self.recorder = recorder
        self._wakes: dict[int, asyncio.Future[Ready]] = {}

    async def ensure_awake(self, since: datetime | None = None) -> Ready:
        """Wake the endpoint from a worker thread; tasks of one event loop share one wake."""
        loop = asyncio.get_running_loop()
        key = id(loop)
        running = self._wakes.get(key)
        if running is None or running.done():
            running = asyncio.ensure_future(asyncio.to_thread(self.waker.ensure_awake, since))
            self._wakes[key] = running
        return await asyncio.shield(running)

    def mark_woken(self) -> None:
        """The next request's answer says cold start (its endpoint was woken before it was sent)."""
        self._core.woken = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core = self._core
        if not core.handles(request):
            return await self.inner.handle_async_request(request)
        await request.aread()
        pending = core.start()
        cold = core.take_woken()
        if not cold and core.should_look():
            cold = core.looked_cold(await asyncio.to_thread(self.waker.health_status, str(self.waker.url)))
        clock = self.waker.clock
        started = clock.now()
        try:
            while True:
                core.prepare(request)
                sent_at = clock.now()
                try:
                    response = await send_once_more_async(
                        self.waker.name, lambda: self.inner.handle_async_request(request)
                    )
                except httpx.ConnectError:
                    response = None
                if response is not None:
                    if response.status_code == 400:
                        with translated(self.waker.name):
                            await response.aread()
                    if not needs_wake(response):
                        done = core.finish(response, pending, cold)
                        stream = _AsyncRecordingStream(response.stream, done, self.waker.name)  # type: ignore[arg-type]
                        response.stream = stream
                        return response
                    await response.aclose()
                cold = True
                ready = await self.ensure_awake(sent_at)
                waited_s = (clock.now() - started).total_seconds()
                if core.deadline_passed(waited_s):
                    raise core.timeout_error(waited_s)
                core.held(request, ready, waited_s)
        except BaseException:
            core.fail(pending)
            raise

    async def aclose(self) -> None:
        """Close the connections and the waker's; flush the queued records."""
        await self.inner.aclose()
        self.waker.close()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.flush)
