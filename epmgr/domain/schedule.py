"""Active windows such as "Mon-Fri 08:00-19:00", parsed into plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXPECTED_WINDOW = 'a window such as "Mon-Fri 08:00-19:00" or "Sat 10:00-14:00"'

_WINDOW = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class Window:
    """Active on ``days`` (0 = Monday) from ``start`` until ``end`` local time.

    An ``end`` at or before ``start`` means the window runs past midnight into the next day; ``24:00`` is
    written as ``end = time(0, 0)``.
    """

    days: frozenset[int]
    start: time
    end: time
    text: str = ""

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


def _parse_time(text: str, *, allow_24: bool) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if allow_24 and (hours, minutes) == (24, 0):
        return time(0, 0)
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return time(hours, minutes)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (piece.strip().lower() for piece in text.split(",")):
        if not part:
            continue
        first, _, last = (piece.strip()[:3] for piece in part.partition("-"))
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day in {text.strip()!r}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        start = DAYS.index(first)
        stop = DAYS.index(last) if last else start
        index = start
        while True:  # ranges may wrap around the week: "Fri-Mon"
            days.add(index)
            if index == stop:
                break
            index = (index + 1) % 7
    if not days:
        raise ValueError("no days given")
    return frozenset(days)


def parse_window(text: str) -> Window:
    """Parse one active window.

    Raises:
        ValueError: The text is not of the form ``DAYS HH:MM-HH:MM``.

    Example:
        >>> parse_window("Mon-Fri 08:00-19:00").days == frozenset(range(5))
        True
    """
    match = _WINDOW.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected {EXPECTED_WINDOW}, got {text!r}")
    start = _parse_time(match["start"], allow_24=False)
    end = _parse_time(match["end"], allow_24=True)
    if start == end:
        raise ValueError(f"window {text!r} starts and ends at the same time")
    return Window(days=_parse_days(match["days"]), start=start, end=end, text=text.strip())
