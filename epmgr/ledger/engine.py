"""Engines for the ledger: SQLite tuned for many writing processes, or PostgreSQL by URL.

A SQLite path is checked before the first connection (which would already write: WAL mode is persistent): its
folder must be writable, and an existing file must be an epmgr ledger, never another application's database.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from epmgr.errors import ConfigError, LedgerError

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


def check_sqlite_file(path: Path) -> None:
    """Refuse, before anything is written, a SQLite ledger file epmgr cannot use (its folder is made if missing).

    Raises:
        ConfigError: The folder cannot be made or written, the path is a folder, or the file is not an epmgr
            ledger (not SQLite, or tables without an epmgr schema revision); the message names the path.
        LedgerError: The file cannot be read for another reason.
    """
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder {folder} for the ledger {path}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise ConfigError(f"the ledger {path} is a folder (expected a SQLite file, or a path where one can be made)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"the folder {folder} of the ledger {path} is not writable by this user")
    if not path.exists() or path.stat().st_size == 0:
        return
    if not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(f"the ledger {path} is not readable and writable by this user")
    tables = _sqlite_tables(path)
    if tables and "alembic_version" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ConfigError(
            f"{path} is not an epmgr ledger: it has tables ({shown}) but no epmgr schema revision; nothing was "
            "written to it (expected an epmgr ledger, or a new file)"
        )


def _sqlite_tables(path: Path) -> set[str]:
    """The tables of the SQLite file at ``path``, read without writing anything (read-only connection)."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "encrypted" in str(exc):
            raise ConfigError(f"{path} is not a SQLite database (expected an epmgr ledger, or a new file)") from None
        raise LedgerError(f"cannot read the ledger {path}: {exc}") from None
    return {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}


def make_engine(url_or_path: str, **kwargs: Any) -> Engine:
    """Create an engine for the ledger.

    SQLite gets WAL (readers never block the writer), a busy timeout, foreign keys, and ``BEGIN IMMEDIATE``
    for write transactions so that concurrent writers queue on the lock instead of failing with
    "database is locked" when a read lock cannot be upgraded.
    """
    url = make_url(normalize_url(url_or_path))
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if url.database and url.database != ":memory:" and "mode=memory" not in str(url):
        check_sqlite_file(Path(url.database))
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
