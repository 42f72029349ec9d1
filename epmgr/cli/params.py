"""Click parameter types for values people write: durations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from epmgr.domain.durations import EXPECTED, parse_duration


class Duration(click.ParamType[timedelta]):
    """A duration such as "90s", "15m", "2h" or "1d"."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError:
            self.fail(f"expected {EXPECTED}, got {value!r}", param, ctx)


DURATION = Duration()


def whole_minutes(delta: timedelta | None, what: str) -> int | None:
    """Minutes for the HF API, which counts scale-to-zero timeouts in whole minutes (at least 1)."""
    if delta is None:
        return None
    seconds = int(delta.total_seconds())
    if seconds < 60 or seconds % 60:
        raise click.BadParameter(f"must be whole minutes (at least 1m), got {seconds}s", param_hint=what)
    return seconds // 60
