"""``[[notify]]`` targets: a generic JSON webhook, a Slack-compatible incoming webhook, or email through SMTP.

Secrets never live in the file: a webhook's URL and an SMTP password are read from environment variables the
target names (``url_env``, ``password_env``), when a notification is sent. A ``url`` or ``password`` key in the
file is refused with a message saying so.

.. code-block:: toml

    [[notify]]
    kind = "slack"                       # "webhook", "slack" or "email"
    url_env = "EPMGR_SLACK_URL"          # the variable holding the incoming-webhook URL
    events = ["action", "budget", "failure", "slow_wake"]   # the default: all of them
    endpoints = ["prod-llm"]             # only these endpoints (default: every endpoint)
    slow_wake_after = "6m"               # a wake-up slower than this is reported (default 6m)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, cast

from epmgr.config_toml import Doc, KeyPath
from epmgr.domain.notify import EventKind
from epmgr.names import EXPECTED_NAME, check_name

Kind = Literal["webhook", "slack", "email"]
KINDS: tuple[Kind, ...] = ("webhook", "slack", "email")
DEFAULT_SLOW_WAKE = timedelta(minutes=6)  # HF cold starts take 3-5 minutes; slower than that is worth a look
_COMMON = {"name", "kind", "events", "endpoints", "slow_wake_after"}
_KEYS: dict[str, set[str]] = {
    "webhook": _COMMON | {"url_env"},
    "slack": _COMMON | {"url_env"},
    "email": _COMMON | {"smtp_host", "smtp_port", "security", "from", "to", "username", "password_env"},
}
_SECRET_KEYS = {"url", "webhook_url", "password", "smtp_password", "secret"}
_ENV_NAME = "an environment variable name such as 'EPMGR_SLACK_URL'"


@dataclass(frozen=True)
class NotifyTarget:
    """One place notifications go. Only the *names* of the variables holding secrets are kept here."""

    name: str
    kind: Kind
    events: frozenset[EventKind] = frozenset(EventKind)
    endpoints: tuple[str, ...] = ()  # names or namespace/name; empty: every endpoint
    slow_wake_after: timedelta = DEFAULT_SLOW_WAKE
    url_env: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    username: str | None = None
    password_env: str | None = None

    def wants(self, kind: EventKind, endpoint: str | None) -> bool:
        """True when this target takes events of ``kind`` about ``endpoint`` ("namespace/name")."""
        if kind not in self.events:
            return False
        if not self.endpoints or endpoint is None:
            return True
        return endpoint in self.endpoints or endpoint.rsplit("/", 1)[-1] in self.endpoints


def _env_name(doc: Doc, path: KeyPath, value: object) -> str:
    text = doc.string(path, value, _ENV_NAME)
    if not text.replace("_", "").isalnum() or text[0].isdigit():
        raise doc.error(path, f"expected {_ENV_NAME}, got {text!r}")
    return text


def parse_targets(doc: Doc, value: object) -> tuple[NotifyTarget, ...]:
    """The ``[[notify]]`` array of tables, each checked; errors name the file, line and key."""
    targets: list[NotifyTarget] = []
    names: set[str] = set()
    for index, entry in enumerate(doc.array(("notify",), value, "an array of tables ([[notify]])")):
        path: KeyPath = ("notify", index)
        if not isinstance(entry, dict):
            raise doc.error(path, "expected a table ([[notify]]), got a value")
        for key in entry:
            if key in _SECRET_KEYS:
                variable = "url_env" if "url" in key else "password_env"
                raise doc.error(
                    (*path, key),
                    "secrets are never read from the configuration file; put it in an environment variable "
                    f'and name that variable with {variable} = "..."',
                )
        expected_kind = "'webhook', 'slack' or 'email'"
        kind = cast(Kind, doc.one_of((*path, "kind"), doc.require(path, entry, "kind", expected_kind), KINDS))
        table = doc.table(path, entry, _KEYS[kind])
        name = doc.checked((*path, "name"), table.get("name", f"{kind}-{index + 1}"), "a short name", _short_name)
        if name in names:
            raise doc.error((*path, "name"), f"target name {name!r} is used twice; expected each once")
        names.add(name)
        events = frozenset(EventKind)
        if "events" in table:
            listed = doc.array((*path, "events"), table["events"], 'a list such as ["action", "failure"]')
            events = frozenset(
                EventKind(doc.one_of((*path, "events", i), item, [k.value for k in EventKind]))
                for i, item in enumerate(listed)
            )
        endpoints = tuple(
            doc.checked((*path, "endpoints", i), item, EXPECTED_NAME, _endpoint)
            for i, item in enumerate(doc.array((*path, "endpoints"), table.get("endpoints", []), "a list of names"))
        )
        slow = table.get("slow_wake_after")
        common = {
            "name": name,
            "kind": kind,
            "events": events,
            "endpoints": endpoints,
            "slow_wake_after": DEFAULT_SLOW_WAKE if slow is None else doc.duration((*path, "slow_wake_after"), slow),
        }
        if kind in ("webhook", "slack"):
            url_env = _env_name(doc, (*path, "url_env"), doc.require(path, table, "url_env", _ENV_NAME))
            targets.append(NotifyTarget(**common, url_env=url_env))  # type: ignore[arg-type]
            continue
        recipients = doc.array((*path, "to"), doc.require(path, table, "to", "a list of addresses"), "a list")
        targets.append(
            NotifyTarget(
                **common,  # type: ignore[arg-type]
                smtp_host=doc.string((*path, "smtp_host"), doc.require(path, table, "smtp_host", "a host name")),
                smtp_port=doc.integer((*path, "smtp_port"), table.get("smtp_port", 587), minimum=1),
                security=cast(
                    Literal["starttls", "ssl", "none"],
                    doc.one_of((*path, "security"), table.get("security", "starttls"), ("starttls", "ssl", "none")),
                ),
                sender=doc.checked(
                    (*path, "from"), doc.require(path, table, "from", "an address"), "an address", _address
                ),
                recipients=tuple(
                    doc.checked((*path, "to", i), item, "an address", _address) for i, item in enumerate(recipients)
                ),
                username=None if "username" not in table else doc.string((*path, "username"), table["username"]),
                password_env=None
                if "password_env" not in table
                else _env_name(doc, (*path, "password_env"), table["password_env"]),
            )
        )
    return tuple(targets)


def _short_name(value: str) -> str:
    if len(value) > 64 or not value.replace("-", "").replace("_", "").isalnum():
        raise ValueError("expected a short name of letters, digits, '-' or '_' such as 'slack-ops'")
    return value


def _endpoint(value: str) -> str:
    namespace, _, name = value.rpartition("/")
    check_name(name)
    return value if namespace else name


def _address(value: str) -> str:
    if value.count("@") != 1 or any(c.isspace() for c in value) or value.startswith("@") or value.endswith("@"):
        raise ValueError(f"expected an e-mail address such as 'ops@example.com', got {value!r}")
    return value
