"""The command-line shell: version, `python -m epmgr`, `db upgrade|current`, and error handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from epmgr import __version__
from epmgr.cli import cli
from epmgr.errors import (
    ApiError,
    ApiUnavailable,
    AuthError,
    BadRequest,
    BudgetExceeded,
    ConfigError,
    EndpointNotFound,
    EpmgrError,
    LedgerError,
    SchemaOutdated,
    WakeError,
    WakeTimeout,
)
from epmgr.ledger import migrate


def test_version_and_python_dash_m(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["--version"]).output.strip() == f"epmgr, version {__version__}"
    result = subprocess.run([sys.executable, "-m", "epmgr", "--help"], capture_output=True, text=True, check=True)
    assert "Lifecycle manager with cost control" in result.stdout


def test_db_upgrade_then_current(ledger_url: str) -> None:
    runner = CliRunner()
    before = json.loads(runner.invoke(cli, ["--db", ledger_url, "db", "current", "--json"]).output)
    assert before["revision"] is None and before["up_to_date"] is False
    upgraded = runner.invoke(cli, ["--db", ledger_url, "db", "upgrade"])
    assert upgraded.exit_code == 0 and f"revision {migrate.head()} (head)" in upgraded.output
    after = json.loads(runner.invoke(cli, ["--db", ledger_url, "--json", "db", "current"]).output)
    assert after["revision"] == after["head"] == migrate.head() and after["up_to_date"] is True


def test_a_plain_path_is_a_sqlite_ledger(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "dir" / "ledger.db"
    result = CliRunner().invoke(cli, ["--db", str(target), "db", "upgrade"])
    assert result.exit_code == 0 and target.exists()


def test_ledger_failures_are_one_line_with_the_password_masked() -> None:
    url = "postgresql://epmgr:s3cret@127.0.0.1:9/epmgr"
    result = CliRunner().invoke(cli, ["--db", url, "db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot use the ledger at postgresql+psycopg://epmgr:***@127.0.0.1:9/epmgr")
    assert "s3cret" not in result.output and "Traceback" not in result.output


def test_debug_shows_the_traceback() -> None:
    result = CliRunner().invoke(cli, ["--debug", "--db", "postgresql://u:p@127.0.0.1:9/x", "db", "upgrade"])
    assert isinstance(result.exception, LedgerError)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [(ConfigError, ValueError), (EndpointNotFound, LookupError), (AuthError, PermissionError),
     (BadRequest, ValueError), (ApiUnavailable, ConnectionError), (WakeTimeout, TimeoutError)],
)  # fmt: skip
def test_errors_subclass_the_matching_builtin(error: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(error, EpmgrError) and issubclass(error, builtin)


def test_the_tree_under_one_root() -> None:
    assert issubclass(AuthError, ApiError) and issubclass(ApiUnavailable, ApiError)
    assert issubclass(WakeTimeout, WakeError) and issubclass(BudgetExceeded, WakeError)
    assert issubclass(SchemaOutdated, LedgerError)
    assert ConfigError("bad", source="epmgr.toml", line=3, key="daemon.interval").exit_code == 2
    assert (
        str(ConfigError("bad", source="epmgr.toml", line=3, key="daemon.interval"))
        == "epmgr.toml:3: daemon.interval: bad"
    )
    assert WakeTimeout("late", endpoint="ns/ep", last_state="paused", waited_s=3.0).endpoint == "ns/ep"
