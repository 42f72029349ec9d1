"""Engines for the ledger: SQLite tuned for many writing processes, or PostgreSQL by URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# How long a writer waits for another process's write lock before failing (SQLite).
BUSY_TIMEOUT_S = 60


def normalize_url(url_or_path: str) -> str:
    """Turn a filesystem path into a SQLite URL and pick the psycopg driver for PostgreSQL.

    Example:
        >>> normalize_url("/tmp/ledger.db")
        'sqlite:////tmp/ledger.db'
        >>> normalize_url("postgresql://u@h/db")
        'postgresql+psycopg://u@h/db'
    """
    if "://" not in url_or_path:
        return f"sqlite:///{os.path.abspath(os.path.expanduser(url_or_path))}"
    for prefix in ("postgresql://", "postgres://"):
        if url_or_path.startswith(prefix):
            return "postgresql+psycopg://" + url_or_path[len(prefix) :]
    return url_or_path


def make_engine(url_or_path: str, **kwargs: Any) -> Engine:
    """Create an engine for the ledger.

    SQLite gets WAL (readers never block the writer), a busy timeout, foreign keys, and ``BEGIN IMMEDIATE``
    for write transactions so that concurrent writers queue on the lock instead of failing with
    "database is locked" when a read lock cannot be upgraded.
    """
    url = make_url(normalize_url(url_or_path))
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling defers it badly).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
