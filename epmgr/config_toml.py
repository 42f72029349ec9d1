"""Reading ``epmgr.toml``: the TOML parser, a locator for the line of a key, and typed value readers.

tomllib gives no line numbers for keys, so :func:`locate` finds them in the raw text: it tracks ``[table]`` and
``[[array]]`` headers (and which occurrence of an array each is), then the ``key =`` lines within each section.
A key inside an inline table (``schedule = { tz = ... }``) is placed on the line of ``schedule``.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from epmgr.cron import check_cron_expression
from epmgr.domain.durations import EXPECTED as EXPECTED_DURATION
from epmgr.domain.durations import MAX_DURATION, parse_duration
from epmgr.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

KeyPath = tuple[str | int, ...]
E = TypeVar("E", bound=Enum)
T = TypeVar("T")

_BARE = r"""[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'"""
_KEYS = rf"(?:{_BARE})(?:\s*\.\s*(?:{_BARE}))*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_KEYS})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_KEYS})\s*\]")
_KEY_LINE = re.compile(rf"^\s*({_KEYS})\s*=")
_PART = re.compile(_BARE)
_QUOTED = re.compile(r"""\"(?:[^"\\]|\\.)*"|'[^']*'""")
_TOML_POSITION = re.compile(r"at line (\d+)")


def dotted(path: KeyPath) -> str:
    """Render a key path as people read it: ``("endpoints", 0, "tz")`` -> ``endpoints[0].tz``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _keys(text: str) -> tuple[str, ...]:
    return tuple(m.group(0)[1:-1] if m.group(0)[0] in "\"'" else m.group(0) for m in _PART.finditer(text))


def _code(line: str, open_string: list[str]) -> str:
    """The line without comments and multi-line string contents; ``open_string`` carries an open ``\"\"\"``."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if open_string:
            end = line.find(open_string[0], i)
            if end < 0:
                break
            open_string.clear()
            out.append('""')
            i = end + 3
        elif line.startswith(('"""', "'''"), i):
            open_string.append(line[i : i + 3])
            i += 3
        elif line[i] in "\"'":
            quote, j = line[i], i + 1
            while j < len(line) and line[j] != quote:
                j += 2 if quote == '"' and line[j] == "\\" else 1
            out.append(line[i : j + 1])
            i = j + 1
        elif line[i] == "#":
            break
        else:
            out.append(line[i])
            i += 1
    return "".join(out)


def locate(text: str, path: KeyPath) -> int | None:
    """The 1-based line where the key ``path`` (or its nearest enclosing key or header) is written, if found."""
    best: int | None = None
    best_len = 0
    section: KeyPath = ()
    counts: dict[KeyPath, int] = {}  # resolved [[array]] path -> occurrences so far
    depth = 0  # open brackets and braces of a multi-line array value
    array: KeyPath = ()  # the key of that array, and the index of its current element
    element = 0
    open_string: list[str] = []

    def consider(candidate: KeyPath, number: int) -> None:
        nonlocal best, best_len
        if len(candidate) > best_len and path[: len(candidate)] == candidate:
            best, best_len = number, len(candidate)

    for number, raw in enumerate(text.splitlines(), start=1):
        inside_value = depth > 0 or bool(open_string)
        code = _code(raw, open_string)
        rest = code
        if not inside_value:
            header = _ARRAY_HEADER.match(code) or _TABLE_HEADER.match(code)
            if header:
                names = _keys(header[1])
                resolved: list[str | int] = []
                for name in names[:-1]:  # a parent that is an array of tables means its latest element
                    resolved.append(name)
                    if tuple(resolved) in counts:
                        resolved.append(counts[tuple(resolved)] - 1)
                resolved.append(names[-1])
                if header.re is _ARRAY_HEADER:
                    counts[tuple(resolved)] = counts.get(tuple(resolved), 0) + 1
                if tuple(resolved) in counts:
                    resolved.append(counts[tuple(resolved)] - 1)
                section = tuple(resolved)
                consider(section, number)
                continue
            key_line = _KEY_LINE.match(code)
            if key_line:
                array, element = section + _keys(key_line[1]), 0
                consider(array, number)
                rest = code[key_line.end() :]
        starting = inside_value and depth == 1 and not open_string  # a line inside the array may start an element
        for char in _QUOTED.sub('""', rest):
            if char.isspace():
                continue
            if starting and depth == 1 and char not in "],":
                consider((*array, element), number)
            starting = False
            if char in "[{":
                depth += 1
                starting = depth == 1
            elif char in "]}":
                depth = max(0, depth - 1)
            elif char == "," and depth == 1:
                element += 1
                starting = True
    return best


def read_toml(path: Path, display: str) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file; every failure is a ConfigError naming ``display``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=display) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=display) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file: {exc.strerror or exc}", source=display) from None
    try:
        data: object = tomllib.loads(text, parse_float=Decimal)  # exact, as written
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        line = int(position[1]) if position else None
        raise ConfigError(f"invalid TOML: {exc}", source=display, line=line) from None
    assert isinstance(data, dict)
    return data, text


def describe(value: object) -> str:
    """A value as an error message shows it: ``'15 minutes'``, ``integer 5``, ``a table``."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float, Decimal)):
        return f"{'integer' if isinstance(value, int) else 'float'} {value}"
    if isinstance(value, (date, time)):  # datetime is a date too
        return f"{type(value).__name__} {value.isoformat()}"
    return "an array" if isinstance(value, list) else "a table" if isinstance(value, dict) else type(value).__name__


def suggest(word: str, options: Collection[str]) -> str:
    """``"; did you mean 'x'?"`` when ``word`` is close to one of ``options``, else ``""``."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Doc:
    """One parsed configuration file: where it came from and its raw text, for error messages."""

    source: str
    text: str

    def error(self, path: KeyPath, message: str) -> ConfigError:
        """A ConfigError for the value at ``path``, with its file, line and dotted key."""
        return ConfigError(message, source=self.source, line=locate(self.text, path), key=dotted(path) or None)

    def table(self, path: KeyPath, value: object, allowed: Collection[str]) -> dict[str, object]:
        """Check that ``value`` is a table with only ``allowed`` keys."""
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {describe(value)}")
        for key in value:
            if key not in allowed:
                valid = ", ".join(sorted(allowed))
                raise self.error((*path, key), f"unknown key {key!r}{suggest(key, allowed)} (valid keys: {valid})")
        return value

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path`` in the file, if found."""
        return locate(self.text, path)

    def require(self, path: KeyPath, table: Mapping[str, object], key: str, expected: str) -> object:
        """The value of a required ``key`` of the table at ``path``."""
        if key not in table:
            raise self.error((*path, key), f"missing required key {key!r} (expected {expected})")
        return table[key]

    def string(self, path: KeyPath, value: object, expected: str = "a string") -> str:
        """A non-blank string."""
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"expected {expected}, got {describe(value)}")
        return value

    def checked(self, path: KeyPath, value: object, expected: str, parse: Callable[[str], T]) -> T:
        """A string turned into a value by ``parse``, whose ValueError becomes a ConfigError at ``path``."""
        text = self.string(path, value, expected)
        try:
            return parse(text)
        except ValueError as exc:
            message = str(exc)
            raise self.error(path, message if "expected" in message else f"{message} (expected {expected})") from None

    def boolean(self, path: KeyPath, value: object) -> bool:
        """``true`` or ``false``."""
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, got {describe(value)}")
        return value

    def duration(
        self, path: KeyPath, value: object, *, off: bool = False, zero: bool = False, at_most: timedelta = MAX_DURATION
    ) -> timedelta | None:
        """A duration string up to ``at_most``; ``"off"``/``false`` gives None when ``off``; ``"0s"`` when ``zero``."""
        expected = EXPECTED_DURATION + (' (or "off" to turn it off)' if off else "")
        if off and (value is False or value == "off"):
            return None
        try:
            delta = parse_duration(value, at_most=at_most) if isinstance(value, str) else None
        except ValueError as exc:
            if "at most" in str(exc):  # the right form, but too long: say so rather than "expected a duration"
                raise self.error(path, str(exc)) from None
            delta = None
        if delta is None or (not zero and not delta):
            qualifier = "" if delta is None else " longer than zero"
            if zero and (value is False or value == "off"):
                qualifier = ' ("0s" for none; it cannot be turned off)'
            raise self.error(path, f"expected {expected}{qualifier}, got {describe(value)}")
        return delta

    def amount(self, path: KeyPath, value: object, expected: str, *, at_most: int | None = None) -> Decimal:
        """A positive number as an exact Decimal (TOML floats are parsed as Decimal, never as binary floats)."""
        number = (
            Decimal(str(value)) if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else None
        )
        if number is None or not number.is_finite() or number <= 0 or (at_most is not None and number > at_most):
            raise self.error(path, f"expected {expected}, got {describe(value)}")
        return number

    def integer(self, path: KeyPath, value: object, *, minimum: int) -> int:
        """A whole number of at least ``minimum``."""
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.error(path, f"expected a whole number of at least {minimum}, got {describe(value)}")
        return value

    def one_of(self, path: KeyPath, value: object, options: Sequence[str]) -> str:
        """One of ``options``, with a suggestion when the value is close to one."""
        if isinstance(value, str) and value in options:
            return value
        hint = suggest(value, options) if isinstance(value, str) else ""
        expected = ", ".join(repr(option) for option in options)
        raise self.error(path, f"expected one of {expected}, got {describe(value)}{hint}")

    def choice(self, path: KeyPath, value: object, kind: type[E]) -> E:
        """One of an enum's string values."""
        return kind(self.one_of(path, value, [str(member.value) for member in kind]))

    def array(self, path: KeyPath, value: object, expected: str) -> list[object]:
        """An array (its items are checked by the caller)."""
        if not isinstance(value, list):
            raise self.error(path, f"expected {expected}, got {describe(value)}")
        return value


# Value checks: each returns the (normalised) value or raises ValueError saying what is expected.

EXPECTED_TZ = "an IANA name such as 'Europe/Berlin'"
EXPECTED_CRON = "a 5-field cron expression such as '0 8 * * mon-fri'"
EXPECTED_LISTEN = "HOST:PORT such as '127.0.0.1:9465'"
EXPECTED_API_URL = "an http(s) base URL such as 'http://127.0.0.1:8765'"
EXPECTED_DB = "a file path, 'sqlite:///PATH' or 'postgresql://USER:PASSWORD@HOST/DB'"
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_LISTEN = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")
_DB_SCHEME = re.compile(r"^(sqlite|postgres|postgresql)(\+\w+)?$")


def check_time_zone(value: str) -> str:
    """An IANA time zone name that ``zoneinfo`` knows, with a suggestion for a near miss."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hint = suggest(value, available_timezones())
        raise ValueError(f"unknown time zone {value!r} (expected {EXPECTED_TZ}){hint}") from None
    return value


def check_cron(value: str) -> str:
    """A cron expression the daemon's own evaluator (:mod:`epmgr.cron`) accepts and that fires at least once."""
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(part) for part in fields):
        raise ValueError(f"expected {EXPECTED_CRON}, got {value!r}")
    return check_cron_expression(value)


def check_listen(value: str) -> str:
    """``HOST:PORT``, the host a name, an IPv4 address or a bracketed IPv6 address."""
    match = _LISTEN.match(value)
    if match is None or int(match[2]) > 65535:
        raise ValueError(f"expected {EXPECTED_LISTEN}, got {value!r}")
    return value


def check_api_url(value: str) -> str:
    """An http(s) base URL, returned without a trailing slash."""
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment)
    except ValueError:  # e.g. a malformed IPv6 host
        valid = False
    if not valid:
        raise ValueError(f"expected {EXPECTED_API_URL}, got {value!r}")
    return value.rstrip("/")


def check_db_url(value: str, base: Path) -> str:
    """A database URL, or a file path (relative to ``base``) turned into a ``sqlite:///`` URL.

    A URL that cannot be parsed (a port that is not a number, say) or an in-memory SQLite database (lost when
    epmgr exits) is refused; the message shows the URL with its password masked.
    """
    if "://" not in value:
        return f"sqlite:///{(base / Path(value).expanduser()).resolve()}"
    scheme = value.split("://", 1)[0]
    if not _DB_SCHEME.match(scheme):  # the rest is not shown: it may hold a password
        raise ValueError(f"expected {EXPECTED_DB}, got a {scheme!r} URL")
    shown = mask_password(value)
    try:
        port = urlsplit(value).port
        url = make_url(value)
    except ValueError as exc:  # urlsplit's own words, e.g. "Port could not be cast to integer value as 'x'"
        raise ValueError(f"cannot parse the database URL {shown}: {exc} (expected {EXPECTED_DB})") from None
    except ArgumentError:
        raise ValueError(f"cannot parse the database URL {shown} (expected {EXPECTED_DB})") from None
    if port == 0:
        raise ValueError(f"the database URL {shown} has port 0 (expected a port from 1 to 65535)")
    memory = not url.database or url.database == ":memory:" or "mode=memory" in value
    if url.get_backend_name() == "sqlite" and memory:
        raise ValueError(
            f"{shown} is an in-memory SQLite database, lost when epmgr exits (expected a file path or sqlite:///PATH)"
        )
    return value


_PASSWORD = re.compile(r"(://[^:/@?#]*):[^/?#]*@")


def mask_password(url: str) -> str:
    """The URL with its password, if any, replaced by ``***`` (also when the URL is otherwise malformed)."""
    return _PASSWORD.sub(r"\1:***@", url, count=1)
