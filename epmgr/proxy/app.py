"""The proxy's ASGI app: ``/{endpoint}/{path}`` is passed to that endpoint's URL, woken on demand.

- OpenAI-style (``/{endpoint}/v1/chat/completions``) and TGI (``/{endpoint}``, ``/generate``,
  ``/generate_stream``) paths, and any other path, pass through; answers stream through unbuffered.
- While the endpoint wakes, requests are held; at most ``queue`` requests per endpoint are held or in flight,
  and one more gets 503 with ``Retry-After``.
- Every answer carries ``X-Epmgr-Cold-Start: true|false``; every request is recorded (client id ``proxy``,
  resumes audited with actor ``proxy``).
- With an ``api_key``, requests need ``Authorization: Bearer <api_key>`` (required off loopback).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from epmgr.client.aio import AsyncEndpointClient
from epmgr.client.transport import COLD_START_HEADER
from epmgr.domain.model import Actor
from epmgr.errors import BudgetExceeded, EndpointFailed, EndpointNotFound, EpmgrError, WakeTimeout

_FORWARDED = ("content-type", "accept", "x-scale-up-timeout")
_DROPPED = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


@dataclass
class ProxyConfig:
    """How the proxy behaves.

    Args:
        queue: Requests per endpoint held or in flight at once; one more gets 503 with ``Retry-After``.
        retry_after_s: The ``Retry-After`` of that 503.
        wake_timeout: Seconds a request may wait for its endpoint to wake.
        api_key: Needed as ``Authorization: Bearer`` when set.
        namespace: The endpoints' namespace (default: the configured one).
    """

    queue: int = 64
    retry_after_s: int = 5
    wake_timeout: float = 600.0
    api_key: str | None = field(default=None, repr=False)
    namespace: str | None = None


class Proxy:
    """The endpoints' clients (one per endpoint, built on first use) and their queues."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.clients: dict[str, AsyncEndpointClient] = {}
        self.busy: dict[str, int] = {}

    async def client(self, name: str) -> AsyncEndpointClient:
        found = self.clients.get(name)
        if found is None:
            found = await asyncio.to_thread(
                AsyncEndpointClient,
                name,
                namespace=self.config.namespace,
                wake_timeout=self.config.wake_timeout,
                client_id="proxy",
                actor=Actor.PROXY,
            )
            found = self.clients.setdefault(name, found)
        return found

    def authorized(self, request: Request) -> bool:
        if not self.config.api_key:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), self.config.api_key.encode())

    async def handle(self, request: Request) -> Response:
        if not self.authorized(request):
            return JSONResponse({"error": "missing or wrong proxy API key"}, status_code=401)
        name = request.path_params["endpoint"]
        if self.busy.get(name, 0) >= self.config.queue:
            return JSONResponse(
                {"error": f"{name}: {self.config.queue} requests are already waiting; try again later"},
                status_code=503,
                headers={"Retry-After": str(self.config.retry_after_s), COLD_START_HEADER: "true"},
            )
        self.busy[name] = self.busy.get(name, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.busy[name] -= 1

        try:
            return await self._forward(name, request, release)
        except EpmgrError as exc:
            release()
            return _error(exc)
        except BaseException:
            release()
            raise

    async def _forward(self, name: str, request: Request, release: Callable[[], None]) -> Response:
        client = await self.client(name)
        path = request.path_params.get("path", "")
        url = await client._url(path)
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARDED}
        outgoing = client._http.build_request(
            request.method, url, params=request.query_params, headers=headers, content=await request.body()
        )
        try:
            upstream = await client._http.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            release()
            return JSONResponse({"error": f"{name}: {type(exc).__name__}: {exc}"}, status_code=502)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in upstream.aiter_raw():
                yield chunk

        async def done() -> None:
            await upstream.aclose()
            release()

        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROPPED}
        kept.setdefault(COLD_START_HEADER.lower(), "false")
        return StreamingResponse(
            body(), status_code=upstream.status_code, headers=kept, background=BackgroundTask(done)
        )

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def _error(exc: EpmgrError) -> Response:
    status = 503
    if isinstance(exc, EndpointNotFound):
        status = 404
    elif isinstance(exc, (BudgetExceeded, EndpointFailed)):
        status = 409
    elif isinstance(exc, WakeTimeout):
        status = 504
    return JSONResponse({"error": str(exc)}, status_code=status, headers={COLD_START_HEADER: "true"})


def create_app(config: ProxyConfig | None = None) -> Starlette:
    """The proxy as an ASGI app (``app.state.proxy`` holds its clients)."""
    proxy = Proxy(config or ProxyConfig())
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await proxy.close()

    app = Starlette(
        routes=[
            Route("/{endpoint}", proxy.handle, methods=methods),
            Route("/{endpoint}/{path:path}", proxy.handle, methods=methods),
        ],
        lifespan=lifespan,
    )
    app.state.proxy = proxy
    return app
