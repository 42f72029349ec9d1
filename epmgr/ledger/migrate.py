"""Alembic migrations of the ledger, run from the package itself (no alembic.ini needed).

Before any migration the database is checked: a database with tables but no epmgr revision is another
application's and is refused untouched; a revision this epmgr does not know was written by a newer epmgr.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

import epmgr
from epmgr.errors import ConfigError, SchemaTooNew

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0005"
"""The newest revision in ``migrations/versions`` (a test checks it against alembic's own head): a ledger stamped
with it is opened without loading alembic or reading the migration scripts."""

# Tables every epmgr ledger has had since its first revision: with an unknown revision they mean a newer epmgr.
_EPMGR_TABLES = {"endpoints", "requests", "state_changes", "actions", "leases"}


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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return config


def head() -> str:
    """The newest revision this epmgr knows (from the migration scripts)."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def known() -> set[str]:
    """Every revision this epmgr knows."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def stored(engine: Engine) -> tuple[str | None, set[str]]:
    """The revision stamped in the database (None if none) and the names of its tables, as they are.

    The tables are read first: another process may commit its first migration (tables and revision at once) between
    the two reads, and only this order never sees its tables without its revision."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        revision = MigrationContext.configure(connection).get_current_revision()
    return revision, tables - {"alembic_version"}


def current(engine: Engine) -> str | None:
    """The revision the database is at (None when it is empty: never migrated).

    Raises:
        ConfigError: The database is not an epmgr ledger (tables without an epmgr revision).
        SchemaTooNew: A newer epmgr migrated it; this one must not touch it.
    """
    revision, tables = stored(engine)
    if revision is None and tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ConfigError(
            f"{redact(engine)} is not an epmgr ledger: it has tables ({shown}) but no epmgr schema revision; "
            "nothing was written to it (expected an epmgr ledger, or an empty database)"
        )
    if revision is not None and revision not in known():
        if tables >= _EPMGR_TABLES:
            raise SchemaTooNew(
                f"the ledger at {redact(engine)} was written by a newer epmgr (revision {revision}; this epmgr knows "
                f"up to {head()}); upgrade epmgr"
            )
        raise ConfigError(
            f"{redact(engine)} is not an epmgr ledger: its schema revision {revision!r} is not one of epmgr's"
        )
    return revision


def redact(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def at_head(engine: Engine) -> bool:
    """Whether the database is stamped with :data:`HEAD` (one query; False when it has no revision table)."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    except SQLAlchemyError:
        return False


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the ledger to ``revision``; safe when several processes do it at once.

    Returns:
        The revision the database is at afterwards.
    """
    if revision == "head" and at_head(engine):
        return HEAD
    if revision == "head" and current(engine) == head():
        return head()
    from alembic import command

    options = {"sqlite_begin": "IMMEDIATE"}  # serialises concurrent upgrades on SQLite
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current(engine)
