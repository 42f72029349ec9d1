"""Durations as people write them in configuration: "90s", "15m", "2h", "1d"."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")

EXPECTED = 'a duration such as "90s", "15m", "2h" or "1d"'


def parse_duration(text: str) -> timedelta:
    """Parse a duration with one unit suffix.

    Args:
        text: A whole number followed by ``s``, ``m``, ``h`` or ``d``, e.g. ``"15m"``.

    Returns:
        The exact timedelta.

    Raises:
        ValueError: The text is not of that form; the message says what is expected.

    Example:
        >>> parse_duration("90s")
        datetime.timedelta(seconds=90)
    """
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected {EXPECTED}, got {text!r}")
    value, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(value)})


def format_duration(delta: timedelta) -> str:
    """Render a timedelta compactly, largest units first: ``timedelta(minutes=90)`` -> ``"1h30m"``."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
