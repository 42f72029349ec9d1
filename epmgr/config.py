"""Settings: ``epmgr.toml`` plus the environment, read once at the edge into frozen typed objects.

For each setting the first that is set wins: explicit argument (a command-line flag) > environment > file >
default. Every invalid value raises :class:`~epmgr.errors.ConfigError` naming the file (or "environment",
"command line"), the line, the dotted key, what is wrong and what is expected. The HF token comes only from
``HF_TOKEN``/``HUGGING_FACE_HUB_TOKEN`` or huggingface_hub's own login, never from the file, and is never shown.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal, cast

import platformdirs

from epmgr.config_policy import _KEYS as _KEYS  # re-exported: these three lived here before the split
from epmgr.config_policy import EXPECTED_USD as EXPECTED_USD
from epmgr.config_policy import MAX_IDLE as MAX_IDLE
from epmgr.config_policy import endpoint_policies, idle_policy, namespace_budgets, traffic
from epmgr.config_toml import (
    EXPECTED_LISTEN,
    Doc,
    KeyPath,
    check_api_url,
    check_db_url,
    check_listen,
    describe,
    mask_password,
    read_toml,
)
from epmgr.domain.durations import format_duration
from epmgr.domain.fallback import DEFAULT_WHEN, Price, When, parse_spec
from epmgr.domain.policy import EndpointPolicy, IdlePolicy, NamespaceBudget, Traffic
from epmgr.errors import ConfigError
from epmgr.names import EXPECTED_NAME, check_name, check_namespace
from epmgr.notify.config import NotifyTarget, parse_targets

DEFAULT_FILE = "epmgr.toml"
DEFAULT_INTERVAL = timedelta(seconds=30)
DEFAULT_LISTEN = "127.0.0.1:9465"
# Upper bounds of durations that mean something: a daemon that ticks less than daily enforces nothing.
MAX_INTERVAL = timedelta(days=1)
MAX_LEASE_TTL = timedelta(days=7)
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
LogFormat = Literal["text", "json"]

_TOKEN_ERROR = (
    "the HF token is never read from the configuration file; remove it and set HF_TOKEN or run `hf auth login`"
)


def default_db_url() -> str:
    """The default ledger: SQLite file ``ledger.db`` in the user data directory."""
    return f"sqlite:///{Path(platformdirs.user_data_dir('epmgr')) / 'ledger.db'}"


@dataclass(frozen=True)
class DaemonSettings:
    """How the daemon runs: tick interval, lease lifetime, listen address and log format."""

    interval: timedelta = DEFAULT_INTERVAL
    lease_ttl: timedelta = 3 * DEFAULT_INTERVAL
    listen: str = DEFAULT_LISTEN
    log_format: LogFormat = "text"

    @property
    def listen_address(self) -> tuple[str, int]:
        """``listen`` split into host (without IPv6 brackets) and port."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Settings:
    """Everything epmgr is configured with; build it with :func:`load_settings`."""

    source: Path | None = None
    db_url: str = field(default_factory=default_db_url)
    namespace: str | None = None
    hf_api_url: str | None = None
    token: str | None = field(default=None, repr=False)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    defaults: IdlePolicy = field(default_factory=IdlePolicy)
    endpoints: tuple[EndpointPolicy, ...] = ()
    namespaces: tuple[NamespaceBudget, ...] = ()
    managed_tag: str | None = None
    traffic: Traffic | None = None  # [defaults] traffic; None: "epmgr" for endpoints epmgr created, else "shared"
    notify: tuple[NotifyTarget, ...] = ()  # [[notify]] targets; their secrets stay in the environment

    def __repr__(self) -> str:  # the token is left out, and a database password masked
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        shown["db_url"] = mask_password(self.db_url)
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def policy_for(self, namespace: str, name: str) -> EndpointPolicy | None:
        """The configured policy of endpoint ``namespace/name``, or None if it is not listed.

        An entry without a namespace (when no global namespace is known either) matches by name.
        """
        exact, by_name = self._policy_index
        return exact.get((namespace, name)) or by_name.get(name)

    @functools.cached_property
    def _policy_index(self) -> tuple[dict[tuple[str, str], EndpointPolicy], dict[str, EndpointPolicy]]:
        """The configured policies by namespace and name, and those without a namespace by name (the first of
        each, as listed): one look-up per endpoint however many are configured."""
        exact: dict[tuple[str, str], EndpointPolicy] = {}
        by_name: dict[str, EndpointPolicy] = {}
        for policy in self.endpoints:
            if policy.namespace is None:
                by_name.setdefault(policy.name, policy)
            else:
                exact.setdefault((policy.namespace, policy.name), policy)
        return exact, by_name


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    db_url: str | None = None,
    namespace: str | None = None,
    hf_api_url: str | None = None,
) -> Settings:
    """Read the configuration file and the environment into :class:`Settings`.

    Args:
        config_path: The file (``--config``); else ``EPMGR_CONFIG``; else ``./epmgr.toml`` if it exists.
        env: The environment to read (default ``os.environ``).
        db_url: ``--db``: ledger URL or SQLite path; beats ``EPMGR_DB_URL`` and ``[ledger] url``.
        namespace: ``--namespace``; beats ``EPMGR_NAMESPACE`` and ``[hf] namespace``.
        hf_api_url: Base URL of the HF API; beats ``EPMGR_HF_API_URL`` and ``[hf] api_url``.

    Raises:
        ConfigError: A named file is missing, or any value is invalid (exit code 2).
    """
    env = os.environ if env is None else env
    path, doc, data = None, Doc("defaults", ""), {}
    found = _find_file(config_path, env)
    if found is not None:
        path, display = found
        raw, text = read_toml(path, display)
        doc = Doc(display, text)
        _refuse_tokens(doc, (), raw)
        data = doc.table((), raw, _KEYS[""])
    hf = doc.table(("hf",), data.get("hf", {}), _KEYS["hf"])
    ledger = doc.table(("ledger",), data.get("ledger", {}), _KEYS["ledger"])
    if path and isinstance(ledger.get("url"), str) and "://" not in str(ledger["url"]):
        ledger = {"url": str(path.parent / Path(str(ledger["url"])).expanduser())}  # a path is relative to the file
    global_ns = _setting(
        doc, ("hf", "namespace"), hf, (namespace, "--namespace"), env, "EPMGR_NAMESPACE", check_namespace
    )
    defaults_table = doc.table(("defaults",), data.get("defaults", {}), _KEYS["defaults"])
    defaults = idle_policy(doc, ("defaults",), defaults_table, IdlePolicy())
    tag = defaults_table.get("managed_tag")
    url = _setting(
        doc, ("ledger", "url"), ledger, (db_url, "--db"), env, "EPMGR_DB_URL", lambda v: check_db_url(v, Path.cwd())
    )
    return Settings(
        source=path.resolve() if path else None,
        db_url=url or default_db_url(),
        namespace=global_ns,
        hf_api_url=_setting(
            doc, ("hf", "api_url"), hf, (hf_api_url, "hf_api_url"), env, "EPMGR_HF_API_URL", check_api_url
        ),
        token=_token(env),
        daemon=_daemon(doc, data.get("daemon", {})),
        defaults=defaults,
        endpoints=endpoint_policies(doc, data.get("endpoints", []), defaults, global_ns),
        namespaces=namespace_budgets(doc, data.get("namespaces", [])),
        managed_tag=None if tag is None else doc.string(("defaults", "managed_tag"), tag, "an HF tag such as 'epmgr'"),
        traffic=traffic(doc, ("defaults", "traffic"), defaults_table),
        notify=_notify(doc, data.get("notify", [])),
    )


def _notify(doc: Doc, value: object) -> tuple[NotifyTarget, ...]:
    """The ``[[notify]]`` targets (epmgr.notify.config checks them)."""
    return parse_targets(doc, value)


def _find_file(config_path: str | os.PathLike[str] | None, env: Mapping[str, str]) -> tuple[Path, str] | None:
    named_by = "--config"
    if config_path is None and env.get("EPMGR_CONFIG", "").strip():
        config_path, named_by = env["EPMGR_CONFIG"].strip(), "EPMGR_CONFIG"
    if config_path is None:
        default = Path(DEFAULT_FILE)
        return (default, DEFAULT_FILE) if default.is_file() else None
    path = Path(config_path).expanduser()
    if not path.is_file():
        problem = "is not a file" if path.exists() else "not found"
        raise ConfigError(f"configuration file {problem} (named by {named_by}; expected a TOML file)", source=str(path))
    return path, str(path)


def _refuse_tokens(doc: Doc, path: KeyPath, value: object) -> None:
    """Refuse a ``token`` (or ``*_token``) key anywhere: tokens never live in the file."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and (key.lower() == "token" or key.lower().endswith("_token")):
            raise doc.error((*path, key), _TOKEN_ERROR)
        _refuse_tokens(doc, (*path, key), item)


def _setting(
    doc: Doc, path: tuple[str, str], table: Mapping[str, object], argument: tuple[str | None, str],
    env: Mapping[str, str], variable: str, check: Callable[[str], str],
) -> str | None:  # fmt: skip
    """One string setting from argument > environment > file, each checked where it came from.

    The file's value is checked even when overridden: a wrong file is an error either way.
    """
    in_file = doc.checked(path, table[path[1]], "a string", check) if path[1] in table else None
    for text, source, key in ((argument[0], "command line", argument[1]), (env.get(variable), "environment", variable)):
        if text is not None and text.strip():
            try:
                return check(text.strip())
            except ValueError as exc:
                raise ConfigError(str(exc), source=source, key=key) from None
    return in_file


def _token(env: Mapping[str, str]) -> str | None:
    for variable in TOKEN_VARIABLES:
        if env.get(variable, "").strip():
            return env[variable].strip()
    from huggingface_hub import get_token  # lazily: only when no variable is set

    try:
        return get_token() or None
    except Exception:  # a broken login file must not stop epmgr from starting; the API call reports it
        return None


def _daemon(doc: Doc, value: object) -> DaemonSettings:
    table = doc.table(("daemon",), value, _KEYS["daemon"])
    interval = doc.duration(("daemon", "interval"), table.get("interval", "30s"), at_most=MAX_INTERVAL)
    interval = interval or DEFAULT_INTERVAL
    lease_ttl = 3 * interval
    if "lease_ttl" in table:
        lease_ttl = doc.duration(("daemon", "lease_ttl"), table["lease_ttl"], at_most=MAX_LEASE_TTL) or lease_ttl
        if lease_ttl <= interval:
            expected = f"a duration longer than daemon.interval ({format_duration(interval)})"
            raise doc.error(("daemon", "lease_ttl"), f"expected {expected}, got {describe(table['lease_ttl'])}")
    listen = doc.checked(("daemon", "listen"), table.get("listen", DEFAULT_LISTEN), EXPECTED_LISTEN, check_listen)
    log_format = doc.one_of(("daemon", "log_format"), table.get("log_format", "text"), ("text", "json"))
    return DaemonSettings(interval, lease_ttl, listen, cast(LogFormat, log_format))


# -- fallback chains (issue 14): read by the clients, not by the daemon -------------------------------------


@dataclass(frozen=True)
class FallbackSettings:
    """The fallback chains of the file's endpoints and the fallbacks' prices (see docs/fallback.md).

    Args:
        chains: Per endpoint name: its fallback specs, in order, and ``fallback_when``.
        prices: ``[fallback_prices]``: per spec or per kind, overriding the defaults.
    """

    chains: dict[str, tuple[tuple[str, ...], frozenset[When]]] = field(default_factory=dict)
    prices: dict[str, Price] = field(default_factory=dict)


_PRICE_KEYS = ("per_request_usd", "input_per_mtok_usd", "output_per_mtok_usd")  # Price's fields, in order


def load_fallbacks(
    config_path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> FallbackSettings:
    """``fallback``/``fallback_when`` of each ``[[endpoints]]`` entry and ``[fallback_prices]``, from the same file
    as :func:`load_settings` (none: no chains).

    Raises:
        ConfigError: A spec, condition or price that is not valid (file, line and key named; exit code 2).
    """
    found = _find_file(config_path, os.environ if env is None else env)
    if found is None:
        return FallbackSettings()
    raw, text = read_toml(*found)
    doc = Doc(found[1], text)
    chains: dict[str, tuple[tuple[str, ...], frozenset[When]]] = {}
    for index, entry in enumerate(raw.get("endpoints", []) if isinstance(raw.get("endpoints"), list) else []):
        if not isinstance(entry, dict) or "fallback" not in entry:
            continue
        path: KeyPath = ("endpoints", index)
        name = doc.checked((*path, "name"), entry.get("name"), EXPECTED_NAME, check_name)
        specs = tuple(
            str(doc.checked((*path, "fallback", i), item, "a fallback spec", lambda t: str(parse_spec(t))))
            for i, item in enumerate(doc.array((*path, "fallback"), entry["fallback"], "a list of fallback specs"))
        )
        when = DEFAULT_WHEN
        if "fallback_when" in entry:
            values = doc.array((*path, "fallback_when"), entry["fallback_when"], "a list such as ['waking']")
            when = frozenset(doc.choice((*path, "fallback_when", i), value, When) for i, value in enumerate(values))
        chains[name] = (specs, when)
    prices: dict[str, Price] = {}
    table = raw.get("fallback_prices", {})
    for key, value in doc.table(("fallback_prices",), table, set(table) if isinstance(table, dict) else set()).items():
        entry = doc.table(("fallback_prices", key), value, _PRICE_KEYS)
        amounts = [_price(doc, ("fallback_prices", key, k), entry.get(k, 0)) for k in _PRICE_KEYS]
        prices[key] = Price(*amounts)
    return FallbackSettings(chains, prices)


def _price(doc: Doc, path: KeyPath, value: object) -> Decimal:
    """A price of 0 or more US dollars (0: free)."""
    if value == 0 and not isinstance(value, bool):
        return Decimal(0)
    return doc.amount(path, value, "an amount of 0 or more US dollars such as 0.2")
