"""Alembic migrations of the ledger, run from the package itself (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

import epmgr

# Any constant works; it only has to be the same in every epmgr process sharing one PostgreSQL ledger.
_PG_LOCK_KEY = 0x6570_6D67


def script_location() -> Path:
    """The migrations folder: inside the installed wheel, or at the repository root in a checkout."""
    package = Path(epmgr.__file__).resolve().parent
    for candidate in (package / "_migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(f"epmgr's migrations folder is missing (looked in {package})")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return config


def head() -> str:
    """The newest revision this epmgr knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (None when it was never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the ledger to ``revision``; safe when several processes do it at once.

    Returns:
        The revision the database is at afterwards.
    """
    if revision == "head" and current(engine) == head():
        return head()
    options = {"sqlite_begin": "IMMEDIATE"}  # serialises concurrent upgrades on SQLite
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current(engine)
