"""The migrations build exactly the schema the models describe, on both engines, and ship in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect

from epmgr.ledger import make_engine, migrate
from epmgr.ledger.schema import metadata

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "endpoints",
    "requests",
    "state_changes",
    "actions",
    "leases",
    "prices",
    "holds",
    "notifications",
    "alembic_version",
}


def test_upgrade_from_an_empty_database_reaches_head(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    try:
        assert migrate.current(engine) is None
        assert migrate.upgrade(engine) == migrate.head()
        assert set(inspect(engine).get_table_names()) == TABLES
        assert migrate.upgrade(engine) == migrate.head()  # idempotent
    finally:
        engine.dispose()


def test_a_first_migration_committed_between_the_checks_reads_as_migrated(ledger_url: str) -> None:
    """Another process commits its first migration right after this one's first look at an empty database (the
    race eight processes opening one new PostgreSQL ledger hit): the check sees a ledger, never a foreign database."""
    checking, other = make_engine(ledger_url), make_engine(ledger_url)
    looked: list[str] = []

    def another_process_migrates(*_: object) -> None:
        if not looked:
            looked.append("first look")
            migrate.upgrade(other)

    event.listen(checking, "after_cursor_execute", another_process_migrates)
    try:
        assert migrate.current(checking) == migrate.head()  # its revision is read after the tables
        assert looked == ["first look"]
        assert migrate.upgrade(checking) == migrate.head()
    finally:
        checking.dispose()
        other.dispose()


def test_models_and_migrations_agree(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            config = migrate.alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert migrate.upgrade(engine) == migrate.head()
    finally:
        engine.dispose()


def test_the_wheel_ships_the_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("epmgr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "epmgr/_migrations/env.py" in names
    assert "epmgr/_migrations/versions/0001_initial.py" in names
    assert "epmgr/_migrations/versions/0002_prices_holds.py" in names
    assert "epmgr/_migrations/versions/0003_intents_fencing.py" in names
    assert "epmgr/py.typed" in names
    assert not any(name.startswith("migrations/") for name in names)

    # The unpacked wheel, imported ahead of the checkout, migrates a ledger with its own copy.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        f"import sys; sys.path.insert(0, {str(site)!r});"
        "from epmgr.ledger import make_engine, migrate;"
        "print(migrate.script_location());"
        f"print(migrate.upgrade(make_engine({str(tmp_path / 'w.db')!r})))"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.split()
    assert out == [str(site / "epmgr" / "_migrations"), migrate.head()]


def test_an_outdated_ledger_is_refused_without_auto_upgrade(ledger_url: str) -> None:
    from epmgr.errors import SchemaOutdated
    from epmgr.ledger import open_ledger

    with pytest.raises(SchemaOutdated, match="epmgr db upgrade"):
        open_ledger(ledger_url, upgrade=False)
    open_ledger(ledger_url).close()  # the default upgrades
    open_ledger(ledger_url, upgrade=False).close()


def test_the_head_constant_is_the_newest_migration() -> None:
    assert migrate.head() == migrate.HEAD  # a new migration must move HEAD, or ledgers at the old head would skip it
