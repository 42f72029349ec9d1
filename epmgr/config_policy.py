"""Settings: the per-endpoint and per-namespace policy tables of ``epmgr.toml`` (idle stages, keep-alive,
schedule, budget), each checked into the frozen types of :mod:`epmgr.domain.policy`.

Every invalid value raises :class:`~epmgr.errors.ConfigError` through :class:`~epmgr.config_toml.Doc`, naming the
file, the line and the dotted key. :mod:`epmgr.config` reads the file and calls these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from epmgr.config_toml import EXPECTED_CRON, EXPECTED_TZ, Doc, KeyPath, check_cron, check_time_zone, describe
from epmgr.domain.durations import EXPECTED as EXPECTED_DURATION
from epmgr.domain.durations import parse_duration
from epmgr.domain.policy import (
    AdaptiveKnobs,
    Budget,
    EndpointPolicy,
    IdlePolicy,
    KeepAlive,
    NamespaceBudget,
    OnEnd,
    OnExceed,
    OnStart,
    Schedule,
    Traffic,
)
from epmgr.domain.schedule import EXPECTED_WINDOW, parse_window
from epmgr.names import EXPECTED_NAME, EXPECTED_NAMESPACE, check_name, check_namespace

MAX_IDLE = timedelta(days=365)  # an idle stage of more than a year never fires
EXPECTED_USD = "a positive amount in US dollars such as 20 or 12.5"

_IDLE = ("scale_to_zero_after", "pause_after", "min_uptime")
_FLAGS = ("managed", "protect")
_KEEP = ("keep_alive", "adaptive")
_KEYS: dict[str, set[str]] = {
    "": {"daemon", "defaults", "endpoints", "namespaces", "hf", "ledger", "notify", "fallback_prices"},
    "daemon": {"interval", "lease_ttl", "listen", "log_format"},
    "defaults": {*_IDLE, "managed_tag", "traffic"},
    "endpoint": {"name", "namespace", *_IDLE, *_FLAGS, *_KEEP, "schedule", "budget", "price_per_hour", "traffic"},
    "adaptive": {"cold_start_usd", "max_cold_starts_per_day", "max_keep"},
    "schedule": {"tz", "active", "cron_start", "cron_stop", "on_start", "on_end", "holidays", "enforce", "prewarm"},
    "budget": {"daily_usd", "monthly_usd", "warn_at", "on_exceed", "cap_replicas"},
    "namespace": {"name", "budget"},
    "hf": {"namespace", "api_url"},
    "ledger": {"url"},
}
_KEYS["endpoint"] |= {"fallback", "fallback_when"}  # read by load_fallbacks (the clients), not load_settings
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def idle_policy(doc: Doc, path: KeyPath, table: Mapping[str, object], base: IdlePolicy) -> IdlePolicy:
    """``base`` with the idle stages ``table`` sets; ``"off"``/``false`` turns a stage off."""

    def stage(key: str, current: timedelta | None, off: bool) -> timedelta | None:
        if key not in table:
            return current
        return doc.duration((*path, key), table[key], off=off, zero=not off, at_most=MAX_IDLE)

    return IdlePolicy(
        scale_to_zero_after=stage("scale_to_zero_after", base.scale_to_zero_after, True),
        pause_after=stage("pause_after", base.pause_after, True),
        min_uptime=stage("min_uptime", base.min_uptime, False) or timedelta(0),
    )


def _once(doc: Doc, seen: dict[str, int], label: str, path: KeyPath) -> None:
    """Refuse a second entry for the same endpoint or namespace, naming both lines."""
    line = doc.line(path) or 0
    if label in seen:
        raise doc.error(path, f"{label} is configured twice (lines {seen[label]} and {line}); expected each once")
    seen[label] = line


def endpoint_policies(
    doc: Doc, value: object, defaults: IdlePolicy, global_ns: str | None
) -> tuple[EndpointPolicy, ...]:
    policies: list[EndpointPolicy] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc.array(("endpoints",), value, "an array of tables ([[endpoints]])")):
        path: KeyPath = ("endpoints", index)
        table = doc.table(path, entry, _KEYS["endpoint"])
        name = doc.checked((*path, "name"), doc.require(path, table, "name", EXPECTED_NAME), EXPECTED_NAME, check_name)
        namespace = global_ns
        if "namespace" in table:
            namespace = doc.checked((*path, "namespace"), table["namespace"], EXPECTED_NAMESPACE, check_namespace)
        label = f"{namespace}/{name}" if namespace else name
        _once(doc, seen, f"endpoint {label!r}", (*path, "name"))
        flags = {key: doc.boolean((*path, key), table[key]) for key in _FLAGS if key in table}
        price = table.get("price_per_hour")
        policies.append(
            EndpointPolicy(
                name=name,
                namespace=namespace,
                idle=idle_policy(doc, path, table, defaults),
                schedule=_schedule(doc, (*path, "schedule"), table["schedule"]) if "schedule" in table else None,
                budget=_budget(doc, (*path, "budget"), table["budget"]) if "budget" in table else None,
                managed=flags.get("managed", True),
                protect=flags.get("protect", False),
                keep_alive=_keep_alive(doc, (*path, "keep_alive"), table.get("keep_alive", False)),
                adaptive=_adaptive(doc, (*path, "adaptive"), table.get("adaptive", {})),
                price_per_hour=None if price is None else doc.amount((*path, "price_per_hour"), price, EXPECTED_USD),
                traffic=traffic(doc, (*path, "traffic"), table),
            )
        )
    return tuple(policies)


def traffic(doc: Doc, path: KeyPath, table: Mapping[str, object]) -> Traffic | None:
    """``traffic = "epmgr"`` or ``"shared"`` (None when not set)."""
    return None if "traffic" not in table else doc.choice(path, table["traffic"], Traffic)


def _keep_alive(doc: Doc, path: KeyPath, value: object) -> KeepAlive:
    """``"adaptive"``, ``"off"``, or a boolean (``true`` is ``"adaptive"``, kept for configurations written for the
    hour-of-week profile it replaced)."""
    if isinstance(value, bool):
        return KeepAlive.ADAPTIVE if value else KeepAlive.OFF
    return doc.choice(path, value, KeepAlive)


def _adaptive(doc: Doc, path: KeyPath, value: object) -> AdaptiveKnobs:
    table = doc.table(path, value, _KEYS["adaptive"])
    default = AdaptiveKnobs()
    per_day = table.get("max_cold_starts_per_day")
    max_keep = doc.duration((*path, "max_keep"), table["max_keep"]) if "max_keep" in table else None
    return AdaptiveKnobs(
        cold_start_usd=_cold_start_usd(doc, (*path, "cold_start_usd"), table["cold_start_usd"])
        if "cold_start_usd" in table
        else None,
        max_cold_starts_per_day=None
        if per_day is None
        else float(doc.amount((*path, "max_cold_starts_per_day"), per_day, "a positive number such as 20")),
        max_keep=max_keep or default.max_keep,
    )


def _cold_start_usd(doc: Doc, path: KeyPath, value: object) -> Decimal:
    """An amount in US dollars, 0 included (the break-even rule)."""
    if value == 0 and not isinstance(value, bool):
        return Decimal(0)
    return doc.amount(path, value, "an amount in US dollars of at least 0, such as 0.5")


def namespace_budgets(doc: Doc, value: object) -> tuple[NamespaceBudget, ...]:
    """The ``[[namespaces]]`` budgets, each namespace once."""
    budgets: list[NamespaceBudget] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc.array(("namespaces",), value, "an array of tables ([[namespaces]])")):
        path: KeyPath = ("namespaces", index)
        table = doc.table(path, entry, _KEYS["namespace"])
        raw = doc.require(path, table, "name", EXPECTED_NAMESPACE)
        name = doc.checked((*path, "name"), raw, EXPECTED_NAMESPACE, check_namespace)
        _once(doc, seen, f"namespace {name!r}", (*path, "name"))
        budget = _budget(
            doc, (*path, "budget"), doc.require(path, table, "budget", "a table such as { daily_usd = 50 }")
        )
        budgets.append(NamespaceBudget(namespace=name, budget=budget))
    return tuple(budgets)


def _schedule(doc: Doc, path: KeyPath, value: object) -> Schedule:
    table = doc.table(path, value, _KEYS["schedule"])
    tz = doc.checked((*path, "tz"), doc.require(path, table, "tz", EXPECTED_TZ), EXPECTED_TZ, check_time_zone)
    active = tuple(
        doc.checked((*path, "active", i), text, EXPECTED_WINDOW, parse_window)
        for i, text in enumerate(doc.array((*path, "active"), table.get("active", []), f"a list of {EXPECTED_WINDOW}"))
    )
    cron = {
        key: doc.checked((*path, key), table[key], EXPECTED_CRON, check_cron)
        for key in ("cron_start", "cron_stop")
        if key in table
    }
    if not active and not cron:
        raise doc.error(path, "a schedule needs `active` windows or `cron_start`/`cron_stop` (expected e.g. "
                        'active = ["Mon-Fri 08:00-19:00"])')  # fmt: skip
    holidays = doc.array((*path, "holidays"), table.get("holidays", []), "a list of dates such as [2026-12-25]")
    return Schedule(
        tz=tz,
        active=active,
        cron_start=cron.get("cron_start"),
        cron_stop=cron.get("cron_stop"),
        on_start=doc.choice((*path, "on_start"), table.get("on_start", OnStart.RESUME.value), OnStart),
        on_end=doc.choice((*path, "on_end"), table.get("on_end", OnEnd.PAUSE.value), OnEnd),
        holidays=frozenset(_holiday(doc, (*path, "holidays", i), day) for i, day in enumerate(holidays)),
        enforce=doc.boolean((*path, "enforce"), table.get("enforce", False)),
        prewarm=_prewarm(doc, (*path, "prewarm"), table.get("prewarm", "auto")),
    )


def _prewarm(doc: Doc, path: KeyPath, value: object) -> timedelta | None:
    """``"auto"`` (None: the measured cold start) or a duration of at most a day (``"0s"``: at the edge)."""
    if value == "auto":
        return None
    expected = f'"auto" or {EXPECTED_DURATION} (at most "1d"; "0s" resumes at the window start)'
    try:
        delta = parse_duration(value) if isinstance(value, str) else None
    except ValueError:
        delta = None
    if delta is None or delta > timedelta(days=1):
        raise doc.error(path, f"expected {expected}, got {describe(value)}")
    return delta


def _holiday(doc: Doc, path: KeyPath, value: object) -> date:
    if isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise doc.error(path, f"expected a date such as 2026-12-25 or '2026-12-25', got {describe(value)}")


def _budget(doc: Doc, path: KeyPath, value: object) -> Budget:
    table = doc.table(path, value, _KEYS["budget"])
    caps = {
        key: doc.amount((*path, key), table[key], EXPECTED_USD) for key in ("daily_usd", "monthly_usd") if key in table
    }
    if not caps:
        raise doc.error(path, "a budget needs daily_usd or monthly_usd (expected e.g. { daily_usd = 20 })")
    default = Budget()
    warn_at = default.warn_at
    if "warn_at" in table:
        warn_at = doc.amount(
            (*path, "warn_at"), table["warn_at"], "a fraction above 0 and at most 1, such as 0.8", at_most=1
        )
    return Budget(
        daily_usd=caps.get("daily_usd"),
        monthly_usd=caps.get("monthly_usd"),
        warn_at=warn_at,
        on_exceed=doc.choice((*path, "on_exceed"), table.get("on_exceed", default.on_exceed.value), OnExceed),
        cap_replicas=doc.integer((*path, "cap_replicas"), table.get("cap_replicas", default.cap_replicas), minimum=1),
    )
