"""The one validator for Hugging Face endpoint and namespace names.

Every entry point (configuration, CLI arguments, the client, the proxy) checks a name here, once, before it is used
in a URL, a ledger row or an audit line. HF's rule for an endpoint name: lowercase letters, digits and ``-``, at most
32 characters (the OpenAPI schema of ``EndpointWithStatus.name``). A namespace is a user or organisation name.
"""

from __future__ import annotations

import re

from epmgr.errors import ConfigError

EXPECTED_NAME = "an endpoint name of 1 to 32 lowercase letters, digits or hyphens, such as 'phi3-mini'"
EXPECTED_NAMESPACE = "a user or organisation name of letters, digits, '-', '_' or '.', such as 'my-org'"

_NAME = re.compile(r"[a-z0-9-]{1,32}")
_NAMESPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_SHOWN = 40  # characters of a bad value quoted back in a message


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(str(value))} characters)"


def check_name(value: object) -> str:
    """``value`` if it is a valid endpoint name, else ValueError saying what is expected (for the config loader)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(f"expected {EXPECTED_NAME}, got {_shown(value)}")
    return value


def check_namespace(value: object) -> str:
    """``value`` if it is a valid namespace, else ValueError saying what is expected."""
    if not isinstance(value, str) or not _NAMESPACE.fullmatch(value) or ".." in value:
        raise ValueError(f"expected {EXPECTED_NAMESPACE}, got {_shown(value)}")
    return value


def endpoint_name(value: object, *, where: str = "endpoint name") -> str:
    """A valid endpoint name, or :class:`ConfigError` naming ``where`` it came from (a CLI argument, a URL path)."""
    try:
        return check_name(value)
    except ValueError as exc:
        raise ConfigError(str(exc), key=where) from None


def namespace(value: object, *, where: str = "namespace") -> str:
    """A valid namespace, or :class:`ConfigError` naming ``where`` it came from."""
    try:
        return check_namespace(value)
    except ValueError as exc:
        raise ConfigError(str(exc), key=where) from None


def endpoint_ref(value: object, *, where: str = "endpoint") -> tuple[str | None, str]:
    """Split ``"name"`` or ``"namespace/name"`` into ``(namespace or None, name)``, each validated."""
    if not isinstance(value, str):
        raise ConfigError(f"expected NAME or NAMESPACE/NAME, got {_shown(value)}", key=where)
    if value.count("/") > 1:
        raise ConfigError(f"expected NAME or NAMESPACE/NAME, got {_shown(value)}", key=where)
    if "/" in value:
        ns, name = value.split("/")
        return namespace(ns, where=where), endpoint_name(name, where=where)
    return None, endpoint_name(value, where=where)
