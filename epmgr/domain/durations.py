"""Durations as people write them in configuration: "90s", "15m", "2h", "1d", bounded so none overflows."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

EXPECTED = 'a duration such as "90s", "15m", "2h" or "1d"'
# The longest duration anything in epmgr means (a report window, a policy stage): ten years. Far below
# timedelta's own limit, so arithmetic with datetimes never overflows.
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str, *, at_most: timedelta = MAX_DURATION) -> timedelta:
    """Parse a duration with one unit suffix.

    Args:
        text: A whole number followed by ``s``, ``m``, ``h`` or ``d``, e.g. ``"15m"``.
        at_most: The longest duration accepted (ten years unless the caller means less).

    Returns:
        The exact timedelta.

    Raises:
        ValueError: The text is not of that form, or longer than ``at_most``; the message says what is expected.

    Example:
        >>> parse_duration("90s")
        datetime.timedelta(seconds=90)
    """
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected {EXPECTED}, got {_shown(text) if isinstance(text, str) else repr(text)}")
    digits, unit = match.groups()
    digits = digits.lstrip("0") or "0"
    limit = int(at_most.total_seconds())
    if len(digits) > len(str(limit)) or int(digits) * _SECONDS[unit] > limit:  # no huge int is ever built
        raise ValueError(f"expected {EXPECTED} of at most {format_duration(at_most)}, got {_shown(text)}")
    return timedelta(**{_UNITS[unit]: int(digits)})


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"


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
