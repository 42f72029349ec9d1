"""Structured logging for the daemon: plain text for people, one JSON object per line for log collectors."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a structured field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC ISO 8601), ``level``, ``logger``, ``msg`` and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """``2026-03-02T09:00:00Z INFO  [demo/phi3] pause ok: ...``: the endpoint, when there is one, up front."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        endpoint = getattr(record, "endpoint", None)
        where = f"[{endpoint}] " if endpoint else ""
        line = f"{ts} {record.levelname:<7} {where}{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(log_format: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send epmgr's logs (logger ``epmgr``) to ``stream`` (stderr) as ``"text"`` or ``"json"``.

    Calling it again replaces the handler (tests and ``--once`` runs call it more than once).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler._epmgr = True  # type: ignore[attr-defined]
    # APScheduler's own warnings (a skipped or missed run) go the same way, in the same format.
    for name, logger_level in (("epmgr", level), ("apscheduler", max(level, logging.WARNING))):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_epmgr", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logger_level)
        logger.propagate = False
