"""``--policy`` specs of ``epmgr simulate``, parsed into the :class:`EndpointPolicy` the daemon would run.

- ``always-on``: both idle stages off.
- ``fixed:<d>``: HF's own scale to zero after ``d`` without requests (no pause, no minimum uptime).
- ``two-stage:<d1>,<d2>``: epmgr's idle policy: scale to zero after ``d1``, pause after ``d2``.
- ``adaptive`` or ``adaptive:<knob>=<value>,...``: the adaptive keep-alive (knobs ``cold-start-usd``,
  ``max-cold-starts-per-day``, ``max-keep``) on the default idle policy (its pause stage and minimum uptime).
- ``oracle``: the offline optimum (:mod:`epmgr.simulate.oracle`), not a policy the daemon can run.
- ``config:<epmgr.toml>#<endpoint>``: the endpoint's whole policy from a configuration file (schedule, budget,
  keep-alive), on the file's daemon interval.

A bad spec raises :class:`~epmgr.errors.ConfigError` naming it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from epmgr.config import load_settings
from epmgr.domain.durations import parse_duration
from epmgr.domain.policy import AdaptiveKnobs, EndpointPolicy, IdlePolicy, KeepAlive
from epmgr.errors import ConfigError

EXAMPLES = "always-on, fixed:15m, two-stage:15m,6h, adaptive[:cold-start-usd=0.5], oracle, config:FILE#ENDPOINT"
ORACLE = "oracle"
_SOURCE = "--policy"


@dataclass(frozen=True)
class Spec:
    """One parsed spec: its text, the policy to run (None for the oracle) and its own tick, if it has one."""

    text: str
    policy: EndpointPolicy | None
    tick: timedelta | None = None


def _duration(text: str, spec: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(str(exc), source=_SOURCE, key=spec) from None
    if value <= timedelta(0):
        raise ConfigError(f"a duration must be positive, got {text!r}", source=_SOURCE, key=spec)
    return value


def _idle(after: timedelta | None, pause: timedelta | None = None, min_uptime: timedelta | None = None) -> IdlePolicy:
    return IdlePolicy(scale_to_zero_after=after, pause_after=pause, min_uptime=min_uptime or timedelta(0))


def parse(text: str) -> Spec:
    """The spec as a policy.

    Example:
        >>> parse("fixed:15m").policy.idle.scale_to_zero_after
        datetime.timedelta(seconds=900)
    """
    kind, _, arg = text.strip().partition(":")
    if kind == "always-on" and not arg:
        return Spec(text, EndpointPolicy(name="always-on", idle=_idle(None)))
    if kind == ORACLE and not arg:
        return Spec(text, None)
    if kind == "fixed" and arg:
        return Spec(text, EndpointPolicy(name=text, idle=_idle(_duration(arg, text))))
    if kind == "two-stage" and arg:
        first, _, second = arg.partition(",")
        idle = IdlePolicy(scale_to_zero_after=_duration(first, text), pause_after=_duration(second, text))
        return Spec(text, EndpointPolicy(name=text, idle=idle))
    if kind == "adaptive":
        return Spec(text, adaptive_policy(text, arg))
    if kind == "config" and "#" in arg:
        return _from_config(text, *arg.rsplit("#", 1))
    raise ConfigError(f"unknown policy {text!r} (expected one of: {EXAMPLES})", source=_SOURCE)


_KNOBS = {
    "cold-start-usd": "cold_start_usd",
    "max-cold-starts-per-day": "max_cold_starts_per_day",
    "max-keep": "max_keep",
}


def adaptive_policy(text: str, arg: str = "") -> EndpointPolicy:
    """``keep_alive = "adaptive"`` with the knobs given, on the default idle policy (as in a configuration)."""
    knobs: dict[str, Any] = {}
    for item in filter(None, arg.split(",")):
        name, _, value = item.partition("=")
        field = _KNOBS.get(name.strip())
        if field is None or not value:
            raise ConfigError(f"unknown knob {item!r} (expected {', '.join(_KNOBS)}=VALUE)", source=_SOURCE, key=text)
        knobs[field] = _duration(value, text) if field == "max_keep" else _amount(value, text)
    adaptive = dataclasses.replace(AdaptiveKnobs(), **knobs)
    return EndpointPolicy(name="adaptive", keep_alive=KeepAlive.ADAPTIVE, adaptive=adaptive)


def _amount(value: str, spec: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"expected a number, got {value!r}", source=_SOURCE, key=spec) from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"expected a non-negative number, got {value!r}", source=_SOURCE, key=spec)
    return amount


def _from_config(text: str, path: str, name: str) -> Spec:
    try:
        settings = load_settings(path, env={})
    except OSError as exc:
        raise ConfigError(f"cannot read it ({exc.strerror or exc})", source=path) from None
    for policy in settings.endpoints:
        if policy.name == name:
            return Spec(text, policy, settings.daemon.interval)
    known = ", ".join(p.name for p in settings.endpoints) or "none"
    raise ConfigError(f"no endpoint {name!r} in it (endpoints: {known})", source=path, key=text)
