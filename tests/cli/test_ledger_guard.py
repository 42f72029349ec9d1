"""The ledger is never another application's database, never newer than this epmgr, and gains no phantom rows."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from epmgr.errors import ConfigError, SchemaTooNew
from epmgr.ledger import make_engine, open_ledger
from tests.cli.conftest import Cli
from tests.conftest import PG_URL, reset_postgres

FUTURE = "9999_from_the_future"


def test_another_applications_sqlite_file_is_refused_and_left_byte_for_byte(epmgr: Cli, tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO customers (name) VALUES ('Ada')")
    before = hashlib.sha256(other.read_bytes()).hexdigest()
    for args in (("db", "upgrade"), ("db", "current"), ("cost", "--offline"), ("status",)):
        result = epmgr("--db", str(other), *args)
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            f"Error: {other} is not an epmgr ledger: it has tables (customers) but no epmgr schema revision; "
            "nothing was written to it (expected an epmgr ledger, or a new file)\n"
        )
    assert hashlib.sha256(other.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("app.db")) == ["app.db"]  # no WAL, no SHM


def test_a_ledger_from_a_newer_epmgr_is_not_touched_and_db_current_says_to_upgrade_epmgr(
    epmgr: Cli, ledger_url: str
) -> None:
    open_ledger(ledger_url).close()
    engine = make_engine(ledger_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
    for upgrade in (True, False):
        with pytest.raises(SchemaTooNew, match=f"written by a newer epmgr \\(revision {FUTURE};"):
            open_ledger(ledger_url, upgrade=upgrade)
    for args in (("db", "current"), ("db", "upgrade"), ("cost", "--offline")):
        result = epmgr("--db", ledger_url, *args)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1
        assert result.stderr.rstrip().endswith("; upgrade epmgr") and "db upgrade" not in result.stderr
    with engine.connect() as conn:  # still the newer revision: nothing was migrated down or stamped
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == FUTURE
    engine.dispose()


@pytest.mark.postgres
def test_a_postgres_database_of_another_application_is_refused_untouched() -> None:
    if not PG_URL:
        pytest.skip("EPMGR_TEST_PG_URL is not set")
    reset_postgres(PG_URL)
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id integer primary key)"))
    with pytest.raises(ConfigError, match=r"is not an epmgr ledger: it has tables \(invoices\)") as caught:
        open_ledger(PG_URL)
    assert "postgres:postgres@" not in str(caught.value)  # the password is masked
    assert set(inspect(engine).get_table_names()) == {"invoices"}  # no alembic_version, no epmgr table
    engine.dispose()
    reset_postgres(PG_URL)


def test_an_unknown_name_is_audited_and_never_reaches_the_cost_report(epmgr: Cli) -> None:
    for args in (("pause", "ghost"), ("resume", "ghost"), ("scale-to-zero", "ghost"), ("delete", "ghost", "-y")):
        result = epmgr(*args)
        assert result.exit_code == 1 and "demo/ghost was not found" in result.stderr, result.output
    ledger = epmgr.ledger()  # every action is audited, a failed one on a mistyped name too ...
    actions = ledger.actions()
    assert [(a.action.value, a.outcome.value) for a in actions] == [
        ("pause", "failed"), ("resume", "failed"), ("scale_to_zero", "failed"), ("delete", "failed"),
    ]  # fmt: skip
    assert all("demo/ghost was not found" in (a.error or "") for a in actions)
    assert all(ledger.state_changes(e.ref) == [] for e in ledger.endpoints())  # ... the API never showed it
    ledger.close()
    report = epmgr("cost", "--offline", "--json")
    assert report.exit_code == 0 and "ghost" not in report.stdout


def test_a_failed_action_on_a_known_endpoint_is_still_audited(epmgr: Cli) -> None:
    create = ("create", "phi3", "--repo", "microsoft/Phi-3-mini-4k-instruct", "--vendor", "aws", "--region",
              "us-east-1", "--accelerator", "gpu", "--instance-type", "nvidia-l4", "--instance-size", "x1")  # fmt: skip
    assert epmgr(*create).exit_code == 0
    result = epmgr("update", "phi3", "--instance-type", "no-such-gpu")
    assert result.exit_code == 1
    ledger = epmgr.ledger()
    actions = ledger.actions()
    assert [(a.action.value, a.outcome.value) for a in actions] == [("create", "ok"), ("update", "failed")]
    ledger.close()
