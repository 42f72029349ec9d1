"""Capped exponential backoff with full jitter (the random draw is passed in, so this stays pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    """How to space retries.

    Args:
        base_s: The first delay's upper bound.
        cap_s: No delay is longer than this (a server's Retry-After is honoured up to ``max_retry_after_s``).
        attempts: How many tries in all (the first one included).
        max_retry_after_s: The longest Retry-After epmgr waits: HF's rate-limit window (300 s) by default, so
            in practice the call's deadline is the bound (tests shorten it).
    """

    base_s: float = 0.5
    cap_s: float = 8.0
    attempts: int = 5
    max_retry_after_s: float = 300.0

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


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds, or an HTTP date counted from ``now`` (RFC 9110 10.2.3).

    Without ``now`` an HTTP date cannot be read (None); a date already past means "now" (0).

    Example:
        >>> parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", datetime(2026, 10, 21, 7, 27, tzinfo=timezone.utc))
        60.0
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until(text, now)
    return seconds if seconds >= 0 and math.isfinite(seconds) else None


def _seconds_until(http_date: str, now: datetime | None) -> float | None:
    if now is None:
        return None
    try:
        at = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return max((at - now).total_seconds(), 0.0)
