"""The proxy's endpoint clients: built on first use, at most ``size`` kept (least recently used closed first).

An endpoint the API does not know is closed and forgotten at once (no client, thread or ledger row stays
behind) and remembered as unknown for ``unknown_ttl`` seconds, so a caller repeating a wrong name does not cost
one management-API call per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from epmgr.client.aio import AsyncEndpointClient
from epmgr.errors import EndpointNotFound

Build = Callable[[str], AsyncEndpointClient]


class ClientCache:
    """At most ``size`` endpoint clients, least recently used closed first (never one with requests in flight).

    Args:
        build: Makes the client of one endpoint name (run in a worker thread: it reads the configuration).
        size: How many clients are kept.
        unknown_ttl: Seconds an endpoint the API said does not exist is answered 404 without asking again.
        unknown_size: How many unknown names are remembered.
    """

    def __init__(self, build: Build, *, size: int = 64, unknown_ttl: float = 30.0, unknown_size: int = 1024) -> None:
        if size < 1:
            raise ValueError("the client cache needs room for at least one client")
        self.build = build
        self.size = size
        self.unknown_ttl = unknown_ttl
        self.unknown_size = unknown_size
        self.clients: OrderedDict[str, AsyncEndpointClient] = OrderedDict()
        self.busy: dict[str, int] = {}
        self.unknown: OrderedDict[str, tuple[float, str]] = OrderedDict()  # name -> (until, message)
        self.closed = 0  # clients closed (evicted, unknown, or at shutdown)

    def __len__(self) -> int:
        return len(self.clients)

    def check_known(self, name: str) -> None:
        """EndpointNotFound at once for a name the API said recently does not exist."""
        found = self.unknown.get(name)
        if found is None:
            return
        until, message = found
        if time.monotonic() < until:
            raise EndpointNotFound(message, endpoint=name)
        del self.unknown[name]

    async def get(self, name: str) -> AsyncEndpointClient:
        """The client of ``name`` (built if needed); marks it most recently used."""
        found = self.clients.get(name)
        if found is None:
            built = await asyncio.to_thread(self.build, name)
            found = self.clients.get(name)
            if found is None:
                found = self.clients[name] = built
            else:  # another request built it meanwhile: keep one
                await self._close(built)
        self.clients.move_to_end(name)
        if len(self.clients) > self.size:
            await self._evict()
        return found

    async def forget_unknown(self, name: str, error: EndpointNotFound) -> None:
        """Close and drop the client of an endpoint the API does not know; remember the name for a while."""
        self.unknown[name] = (time.monotonic() + self.unknown_ttl, str(error))
        self.unknown.move_to_end(name)
        while len(self.unknown) > self.unknown_size:
            self.unknown.popitem(last=False)
        if self.busy.get(name, 0) <= 1:  # only the failing request itself used it
            client = self.clients.pop(name, None)
            if client is not None:
                await self._close(client)

    def enter(self, name: str) -> None:
        self.busy[name] = self.busy.get(name, 0) + 1

    def leave(self, name: str) -> None:
        left = self.busy.get(name, 0) - 1
        if left > 0:
            self.busy[name] = left
        else:
            self.busy.pop(name, None)

    async def _evict(self) -> None:
        while len(self.clients) > self.size:
            idle = next((n for n in self.clients if not self.busy.get(n)), None)
            if idle is None:  # every client has requests in flight: over the size until they finish
                return
            await self._close(self.clients.pop(idle))

    async def _close(self, client: AsyncEndpointClient) -> None:
        self.closed += 1
        await client.aclose()

    async def close(self) -> None:
        """Close every client (at shutdown)."""
        closing: list[Awaitable[None]] = [self._close(c) for c in self.clients.values()]
        self.clients.clear()
        for done in closing:
            await done
