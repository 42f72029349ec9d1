"""The answer streams of the waking transports: passed through chunk by chunk, the record finished when closed.

Each keeps what it passed for the recorder's token counts: all of an answer up to 64 KiB, else the last chunks that
fit in 64 KiB (a stream's tail, where its usage is); and turns an httpx transport error in the middle into
:func:`broken`'s ApiUnavailable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx

from epmgr.client.recorder import ActivityRecorder, Pending
from epmgr.client.waker import Waker
from epmgr.errors import ApiUnavailable

KEEP_BODY = 64 * 1024  # bytes of an answer kept for token counting (a stream keeps its tail)


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


class Done:
    """Finishes a request's record once, when its answer's stream closes, with the body kept so far."""

    __slots__ = ("recorder", "pending", "status", "called", "kept", "size")

    def __init__(self, recorder: ActivityRecorder | None, pending: Pending | None, status: int) -> None:
        self.recorder = recorder
        self.pending = pending
        self.status = status
        self.called = False
        self.kept: list[bytes] = []  # the chunks passed, the oldest dropped past KEEP_BODY bytes
        self.size = 0

    def trim(self) -> None:
        """Drop the oldest chunks while more than :data:`KEEP_BODY` bytes are kept (a long answer)."""
        kept = self.kept
        while self.size > KEEP_BODY and len(kept) > 1:
            self.size -= len(kept.pop(0))

    def __call__(self) -> None:
        if self.called:
            return
        self.called = True
        if self.recorder is not None and self.pending is not None:
            body = self.kept[0] if len(self.kept) == 1 else b"".join(self.kept)
            self.recorder.finish(self.pending, self.status, body=body[-KEEP_BODY:])


class RecordingStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, done: Done, waker: Waker) -> None:
        self.inner = inner
        self.done = done
        self.waker = waker  # its name is built only for an error

    def __iter__(self) -> Iterator[bytes]:
        done = self.done
        kept = done.kept
        try:
            for chunk in self.inner:
                kept.append(chunk)
                done.size += len(chunk)
                if done.size > KEEP_BODY:
                    done.trim()
                yield chunk
        except httpx.TransportError as exc:
            raise broken(self.waker.name, exc) from exc

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.done()


class AsyncRecordingStream(httpx.AsyncByteStream):
    """An iterator of its own (not an async generator: those cost a registration with the loop per answer)."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Done, waker: Waker) -> None:
        self.inner = inner
        self.done = done
        self.waker = waker
        self._chunks: AsyncIterator[bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._chunks = self.inner.__aiter__()
        return self

    async def __anext__(self) -> bytes:
        assert self._chunks is not None, "iterate with async for"
        try:
            chunk = await self._chunks.__anext__()
        except httpx.TransportError as exc:
            raise broken(self.waker.name, exc) from exc
        done = self.done
        done.kept.append(chunk)
        done.size += len(chunk)
        if done.size > KEEP_BODY:
            done.trim()
        return chunk

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.done()
