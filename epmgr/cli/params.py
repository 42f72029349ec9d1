"""Click parameter types for values people write: durations and endpoint names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from epmgr.domain.durations import parse_duration
from epmgr.names import check_name


class Duration(click.ParamType[timedelta]):
    """A duration such as "90s", "15m", "2h" or "1d"."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


class EndpointName(click.ParamType[str]):
    """An endpoint name by HF's rules (:mod:`epmgr.names`), checked before any API call or ledger write."""

    name = "name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return check_name(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


ENDPOINT_NAME = EndpointName()

# Replica counts people may ask for: far above any HF quota, far below what breaks a JSON number.
MAX_REPLICAS = 1000
MIN_REPLICA = click.IntRange(min=0, max=MAX_REPLICAS)
MAX_REPLICA = click.IntRange(min=1, max=MAX_REPLICAS)
MAX_REASON = 500


class Reason(click.ParamType[str]):
    """Why an action was taken, for the audit log: one line of at most 500 characters."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if len(text) > MAX_REASON or any(not ch.isprintable() for ch in text):
            shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"
            self.fail(f"expected one line of at most {MAX_REASON} printable characters, got {shown}", param, ctx)
        return text


REASON = Reason()


def check_replicas(min_replica: int | None, max_replica: int | None) -> None:
    """Refuse a maximum below the minimum (both given)."""
    if min_replica is not None and max_replica is not None and max_replica < min_replica:
        raise click.BadParameter(
            f"--max-replica {max_replica} is below --min-replica {min_replica}", param_hint="--max-replica"
        )


def whole_minutes(delta: timedelta | None, what: str) -> int | None:
    """Minutes for the HF API, which counts scale-to-zero timeouts in whole minutes (at least 1)."""
    if delta is None:
        return None
    seconds = int(delta.total_seconds())
    if seconds < 60 or seconds % 60:
        raise click.BadParameter(f"must be whole minutes (at least 1m), got {seconds}s", param_hint=what)
    return seconds // 60
