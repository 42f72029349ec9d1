"""The proxy's ASGI app: ``/{endpoint}/{path}`` is passed to that endpoint's URL, woken on demand.

- OpenAI-style (``/{endpoint}/v1/chat/completions``) and TGI (``/{endpoint}``, ``/generate``,
  ``/generate_stream``) paths, and any other path under the endpoint's URL, pass through; answers stream through
  unbuffered.
- Inference only (it spends the proxy's HF token for its callers): GET and POST (else 405); the path stays under
  the endpoint's URL (``..``, ``//``, backslashes, encoded dots or slashes, absolute URLs: 400); a body over
  ``max_body`` gets 413 as soon as it passes the limit; the endpoint name is checked by :mod:`epmgr.names`
  before any API call (400). See :mod:`epmgr.proxy.limits`.
- While the endpoint wakes, requests are held; at most ``queue`` requests per endpoint are held or in flight,
  and one more gets 503 with ``Retry-After``.
- At most ``max_clients`` endpoint clients are kept (see :mod:`epmgr.proxy.clients`); an unknown endpoint gets
  404 and leaves nothing behind.
- Every answer carries ``X-Epmgr-Cold-Start: true|false``; every request is recorded (client id ``proxy``,
  resumes audited with actor ``proxy``).
- With an ``api_key``, requests need ``Authorization: Bearer <api_key>`` (required off loopback).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from epmgr import names
from epmgr.client.aio import AsyncEndpointClient
from epmgr.client.runtime import Runtime
from epmgr.client.transport import COLD_START_HEADER
from epmgr.clock import Clock
from epmgr.domain.model import Actor
from epmgr.errors import (
    ApiUnavailable,
    BudgetExceeded,
    ConfigError,
    EndpointFailed,
    EndpointNotFound,
    EpmgrError,
    QuotaExceeded,
    WakeTimeout,
)
from epmgr.fallback.proxy import SERVED_BY_HEADER, ProxyFallbacks
from epmgr.proxy import limits
from epmgr.proxy.clients import ClientCache
from epmgr.proxy.limits import DEFAULT_MAX_BODY, INFERENCE_METHODS, Refused

_FORWARDED = frozenset({b"content-type", b"accept", b"accept-encoding", b"x-scale-up-timeout"})  # ASGI: lowercase
_DROPPED = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_DECODED_DROPPED = _DROPPED | {b"content-encoding"}  # .content was read (and decoded) by the transport
_DEFAULTS = ((COLD_START_HEADER.lower().encode(), b"false"), (SERVED_BY_HEADER.lower().encode(), b"primary"))


@dataclass
class ProxyConfig:
    """How the proxy behaves.

    Args:
        queue: Requests per endpoint held or in flight at once; one more gets 503 with ``Retry-After``.
        retry_after_s: The ``Retry-After`` of that 503.
        wake_timeout: Seconds a request may wait for its endpoint to wake.
        api_key: Needed as ``Authorization: Bearer`` when set.
        namespace: The endpoints' namespace (default: the configured one).
        max_body: Largest request body in bytes (413 above it).
        max_clients: Endpoint clients kept at once (the least recently used idle one is closed first).
        clock: Time for the wakes (tests pass an accelerated one).
        fallbacks: Fallback chains per endpoint name, ``(specs, when)``; None: those of ``epmgr.toml``.
    """

    queue: int = 64
    retry_after_s: int = 5
    wake_timeout: float = 600.0
    api_key: str | None = field(default=None, repr=False)
    namespace: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    max_clients: int = 64
    clock: Clock | None = field(default=None, repr=False)
    fallbacks: dict[str, Any] | None = field(default=None, repr=False)  # name -> (specs, when); None: epmgr.toml

    def __post_init__(self) -> None:
        if self.max_body < 1 or self.max_clients < 1 or self.queue < 0:
            raise ConfigError("max_body and max_clients must be at least 1, queue at least 0", key="proxy")


class Proxy:
    """The endpoints' clients (see :class:`~epmgr.proxy.clients.ClientCache`) and their queues."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.runtime = Runtime()  # the proxy's clients share one recorder thread, closed with the proxy
        self.cache = ClientCache(self._build, size=config.max_clients)
        self.fallbacks = ProxyFallbacks(config.fallbacks)  # issue 14: chains from epmgr.toml (X-Epmgr-Served-By)

    @property
    def clients(self) -> dict[str, AsyncEndpointClient]:
        return dict(self.cache.clients)

    def _build(self, name: str) -> AsyncEndpointClient:
        return AsyncEndpointClient(
            name,
            namespace=self.config.namespace,
            wake_timeout=self.config.wake_timeout,
            client_id="proxy",
            actor=Actor.PROXY,
            clock=self.config.clock,
            runtime=self.runtime,
        )

    def authorized(self, request: Request) -> bool:
        if not self.config.api_key:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.config.api_key.encode())

    async def handle(self, request: Request) -> Response:
        if not self.authorized(request):
            return JSONResponse({"error": "missing or wrong proxy API key"}, status_code=401)
        try:
            limits.check_method(request.method)
            name, path = _split(request)
            limits.check_length(request.headers.get("content-length"), self.config.max_body)
        except Refused as refused:
            return _refused(refused)
        except ConfigError as exc:
            return JSONResponse({"error": f"{exc}"}, status_code=400)
        if self.cache.busy.get(name, 0) >= self.config.queue:
            return JSONResponse(
                {"error": f"{name}: {self.config.queue} requests are already waiting; try again later"},
                status_code=503,
                headers={"Retry-After": str(self.config.retry_after_s), COLD_START_HEADER: "true"},
            )
        self.cache.enter(name)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.cache.leave(name)

        try:
            self.cache.check_known(name)
            body = await limits.read_limited(request.stream(), self.config.max_body)
            return await self._forward(name, path, request, body, release)
        except Refused as refused:
            release()
            return _refused(refused)
        except EndpointNotFound as exc:
            await self.cache.forget_unknown(name, exc)
            release()
            return _error(exc)
        except EpmgrError as exc:
            release()
            return _error(exc)
        except BaseException:
            release()
            raise

    async def _forward(
        self, name: str, path: str, request: Request, body: bytes, release: Callable[[], None]
    ) -> Response:
        chained = name in self.fallbacks.chains  # a fallback chain for this endpoint (issue 14; most have none)
        if chained and (served := await self.fallbacks.answer(name, path, request.method, body)) is not None:
            release()
            return served
        client = await self.cache.get(name)
        if not client.parts.prepared:  # the first request: API, ledger, URL (once; no thread hop after)
            await asyncio.to_thread(client.parts.prepare)
        url = await client._url(path)
        base = client.parts.waker.url or url
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.scope["headers"] if k in _FORWARDED}
        headers.setdefault("accept-encoding", "identity")  # the body is relayed as it comes: in an encoding asked for
        params = request.query_params if request.scope.get("query_string") else None
        outgoing = client._http.build_request(request.method, url, params=params, headers=headers, content=body)
        if not limits.under(str(outgoing.url), base):  # the query follows the path: the same check as without it
            raise Refused(400, f"path {path!r} leaves the endpoint's URL: not forwarded")
        upstream = await client._http.send(outgoing, stream=True)  # transport errors arrive as ApiUnavailable

        async def done() -> None:
            await upstream.aclose()
            release()

        return _relayed(upstream, BackgroundTask(done))

    async def close(self) -> None:
        await self.cache.close()
        await asyncio.to_thread(self.fallbacks.close)
        await asyncio.to_thread(self.runtime.close)


def _split(request: Request) -> tuple[str, str]:
    """The endpoint name (validated) and the confined path below it, from the raw request path."""
    raw = request.scope.get("raw_path")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    text = text.split("?", 1)[0]
    segment, slash, rest = text.removeprefix("/").partition("/")
    name = names.endpoint_name(unquote(segment), where="the proxy path's endpoint")
    return name, limits.confined_path(slash + rest)


def _relayed(upstream: httpx.Response, background: BackgroundTask) -> Response:
    """The endpoint's answer streamed back with its headers (lowercased, as ASGI wants; repeated ones kept), but
    those of the hop (length, framing), and ``X-Epmgr-Cold-Start`` and ``X-Epmgr-Served-By`` when it has none."""
    if upstream.is_stream_consumed:  # a 400 the transport read (asleep or not?), e.g. TEI's "Empty" error
        chunks, dropped = _read(upstream.content), _DECODED_DROPPED
    else:
        chunks, dropped = upstream.aiter_raw(), _DROPPED
    kept = [(low, v) for k, v in upstream.headers.raw if (low := k.lower()) not in dropped]
    names = {k for k, _ in kept}
    for pair in _DEFAULTS:
        if pair[0] not in names:
            kept.append(pair)
    response = StreamingResponse(chunks, status_code=upstream.status_code, background=background)
    response.raw_headers = kept  # as they came: not decoded and encoded again
    return response


async def _read(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _refused(refused: Refused) -> Response:
    headers = {"Allow": ", ".join(sorted(INFERENCE_METHODS))} if refused.status == 405 else None
    return JSONResponse({"error": refused.reason}, status_code=refused.status, headers=headers)


def _error(exc: EpmgrError) -> Response:
    status = 503
    if isinstance(exc, EndpointNotFound):
        status = 404
    elif isinstance(exc, (BudgetExceeded, EndpointFailed, QuotaExceeded)):  # a person must act
        status = 409
    elif isinstance(exc, WakeTimeout):
        status = 504
    elif isinstance(exc, ApiUnavailable) and exc.status_code is None:  # the endpoint's connection broke
        status = 502
    return JSONResponse({"error": str(exc)}, status_code=status, headers={COLD_START_HEADER: "true"})


class ProxyApp:
    """The ASGI app: every HTTP request goes to :meth:`Proxy.handle` (no router: a path a router would not match,
    such as one with a newline, still gets the proxy's own one-line 400); shutdown closes the clients."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.state = SimpleNamespace(proxy=proxy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.proxy.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            response = await self.proxy.handle(Request(scope, receive))
            await response(scope, receive, send)


def create_app(config: ProxyConfig | None = None) -> ProxyApp:
    """The proxy as an ASGI app (``app.state.proxy`` holds its clients)."""
    return ProxyApp(Proxy(config or ProxyConfig()))
