"""A deadline for the API calls made in a block of code, carried in a context variable.

The daemon bounds each action's API call by the time left on its lease (``with within(seconds): api.pause(...)``);
the HF adapter reads :func:`remaining` to shorten each HTTP timeout, to stop retrying when time is up, and to fail
at once when the API asks to wait past it (``Retry-After``). Any adapter can honour it without the port changing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("epmgr_deadline", default=None)


@contextmanager
def within(seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """API calls inside the block must end within ``seconds`` (an outer, earlier deadline still wins).

    Example:
        >>> with within(5.0):
        ...     0 < remaining() <= 5.0
        True
    """
    at = monotonic() + max(seconds, 0.0)
    outer = _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(outer, at))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline() -> float | None:
    """The current deadline on the ``time.monotonic`` scale (None: no deadline)."""
    return _DEADLINE.get()


def remaining(*, monotonic: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left before the current deadline (negative once passed; None: no deadline)."""
    at = _DEADLINE.get()
    return None if at is None else at - monotonic()
