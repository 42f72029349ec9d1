"""Endpoint spec files for `epmgr create --from-file` (TOML, same names as the command's options)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from epmgr.domain.durations import parse_duration
from epmgr.errors import ConfigError
from epmgr.names import check_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_STRINGS = (
    "name", "repository", "vendor", "region", "accelerator", "instance_type", "instance_size", "task",
    "framework", "revision", "type",
)  # fmt: skip
_KEYS = {*_STRINGS, "min_replica", "max_replica", "scale_to_zero_timeout", "env", "tags"}


def _line_of(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Read and check a spec file; returns the values under the names ``epmgr create`` uses.

    Example file::

        name = "phi3-mini"
        repository = "microsoft/Phi-3-mini-4k-instruct"
        vendor = "aws"
        region = "us-east-1"
        accelerator = "gpu"
        instance_type = "nvidia-l4"
        instance_size = "x1"
        task = "text-generation"
        min_replica = 0
        scale_to_zero_timeout = "15m"
        env = { MAX_INPUT_TOKENS = "2048" }

    Raises:
        ConfigError: unreadable file, bad TOML, unknown key or wrong type (naming file, line and key).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the spec file: {exc.strerror}", source=source) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from exc

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(message, source=source, line=_line_of(text, key), key=key)

    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _KEYS:
            raise fail(key, f"unknown key; expected one of {', '.join(sorted(_KEYS))}")
        if key in _STRINGS and not isinstance(value, str):
            raise fail(key, f"expected a string, got {type(value).__name__} {value!r}")
        if key in ("min_replica", "max_replica") and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise fail(key, f"expected a whole number of replicas (0 or more), got {value!r}")
        if key == "scale_to_zero_timeout":
            try:
                value = parse_duration(value)
            except ValueError as exc:
                raise fail(key, str(exc)) from None
        if key == "name":
            try:
                check_name(value)
            except ValueError as exc:
                raise fail(key, str(exc)) from None
        if key == "env" and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise fail(key, 'expected a table of strings, e.g. env = { MAX_INPUT_TOKENS = "2048" }')
        if key == "tags" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise fail(key, 'expected a list of strings, e.g. tags = ["team-a"]')
        values["endpoint_type" if key == "type" else key] = value
    return values
