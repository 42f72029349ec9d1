"""Capped exponential backoff with full jitter (the random draw is passed in, so this stays pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """How to space retries.

    Args:
        base_s: The first delay's upper bound.
        cap_s: No delay is longer than this (a server's Retry-After is honoured up to ``max_retry_after_s``).
        attempts: How many tries in all (the first one included).
        max_retry_after_s: The longest Retry-After epmgr agrees to wait.
    """

    base_s: float = 0.5
    cap_s: float = 8.0
    attempts: int = 5
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, draw: float, retry_after_s: float | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1).

        Args:
            attempt: How many tries were made so far.
            draw: A uniform random number in [0, 1) (full jitter).
            retry_after_s: The server's Retry-After, which wins when given.

        Example:
            >>> Backoff(base_s=1, cap_s=8).delay(3, draw=0.5)
            2.0
        """
        if retry_after_s is not None and retry_after_s >= 0:
            return min(retry_after_s, self.max_retry_after_s)
        ceiling = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        return ceiling * draw


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (an HTTP date is not honoured: None)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
