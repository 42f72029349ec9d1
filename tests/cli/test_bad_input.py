"""Bad input at every entry point of the real `epmgr` CLI, in one table (issue 9, items 6, 7 and 8).

Every case runs the real command line (click's CliRunner, emulator over HTTP, SQLite ledger) and must give exactly
one line on stderr starting ``Error:``, its exit code (2 for configuration and usage), no traceback, no token, no
endpoint row in the ledger and, where the value is refused before any I/O, no request to the API.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import httpx
import pytest
import respx
from click.testing import CliRunner

from epmgr.cli.main import EpmgrGroup
from epmgr.emulator import DEMO_TOKEN
from epmgr.ledger import open_ledger
from tests.cli.conftest import Cli

HTML_API = "http://html.test"
CREATE = (
    "create", "phi3", "--repo", "microsoft/Phi-3-mini-4k-instruct", "--vendor", "aws", "--region", "us-east-1",
    "--accelerator", "gpu", "--instance-type", "nvidia-l4", "--instance-size", "x1",
)  # fmt: skip


def _newer_ledger(tmp: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp / 'newer.db'}")
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    ledger.close()


def _foreign_sqlite(tmp: Path) -> None:
    with sqlite3.connect(tmp / "other.db") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments (``{tmp}`` is the test's folder), the exit code and what the line says."""

    id: str
    args: tuple[str, ...]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    html_api: bool = False  # the HF API answers 200 with an HTML page (respx)
    no_api_call: bool = True  # refused before any request to the API
    not_said: str = "db upgrade"  # never part of the line (e.g. a password)


CASES = [
    # --- issue 9, list 7 -------------------------------------------------------------------------------------
    Case("pause-after-overflow", ("--config", "{tmp}/c.toml", "list"), 2, "c.toml:2: defaults.pause_after: expected",
         files={"c.toml": '[defaults]\npause_after = "99999999999d"\n'}),
    Case("interval-overflow", ("--config", "{tmp}/c.toml", "status"), 2, "c.toml:2: daemon.interval:",
         files={"c.toml": '[daemon]\ninterval = "999999999d"\n'}),
    Case("db-folder-cannot-be-made", ("list",), 2, "cannot create the folder /proc/epmgr for the ledger",
         env={"EPMGR_DB_URL": "/proc/epmgr/l.db"}),
    Case("db-port-not-a-number", ("list",), 2, "EPMGR_DB_URL: cannot parse the database URL postgresql://u:***@h:",
         env={"EPMGR_DB_URL": "postgresql://u:SECRETPW@h:notaport/db"}, not_said="SECRETPW"),
    Case("api-html-list", ("list",), 1, f"list endpoints: the HF API at {HTML_API} answered 200 with non-JSON "
         "content (text/html); is EPMGR_HF_API_URL right?", html_api=True, no_api_call=False),
    Case("api-html-pause", ("pause", "phi3"), 1, "answered 200 with non-JSON content (text/html)", html_api=True,
         no_api_call=False),
    Case("api-html-show", ("show", "phi3"), 1, "answered 200 with non-JSON content (text/html)", html_api=True,
         no_api_call=False),
    Case("name-100k-characters", ("pause", "a" * 100_000), 2, "NAME': expected an endpoint name of 1 to 32"),
    Case("name-with-newline", ("resume", "phi3\nmini"), 2, "got 'phi3\\nmini'"),
    Case("cost-html-nowhere", ("cost", "--offline", "--html", "/nonexistent/r.html"), 2,
         "--html: cannot write /nonexistent/r.html: the folder /nonexistent does not exist"),
    Case("status-watch-negative", ("status", "--watch", "-1"), 2, "'--watch': -1.0 is not in the range"),
    Case("proxy-port-out-of-range", ("proxy", "--port", "99999"), 2, "--port: expected a TCP port from 1 to 65535"),
    Case("daemon-listen-garbage", ("daemon", "--once", "--listen", "garbage"), 2, "--listen: expected HOST:PORT"),
    Case("ledger-newer-revision", ("--db", "{tmp}/newer.db", "cost", "--offline"), 1,
         "was written by a newer epmgr (revision 9999_from_the_future", setup=_newer_ledger),
    Case("db-current-newer-revision", ("--db", "{tmp}/newer.db", "db", "current"), 1, "; upgrade epmgr",
         setup=_newer_ledger),
    # --- issue 9, item 6: names ----------------------------------------------------------------------------
    Case("name-climbs-out", ("pause", "x/../ep2"), 2, "got 'x/../ep2'"),
    Case("name-other-namespace", ("scale-to-zero", "../ns/name"), 2, "got '../ns/name'"),
    Case("name-uppercase", ("delete", "Phi3", "--yes"), 2, "expected an endpoint name"),
    Case("name-in-wait", ("wait", "a b"), 2, "expected an endpoint name"),
    Case("name-in-cost", ("cost", "--offline", "x/.."), 2, "expected an endpoint name"),
    Case("name-in-spec-file", ("create", "--from-file", "{tmp}/s.toml"), 2, "s.toml:1: name: expected an endpoint",
         files={"s.toml": 'name = "../victim"\n'}),
    # --- issue 9, item 8 -------------------------------------------------------------------------------------
    Case("db-in-memory", ("--db", "sqlite://", "db", "upgrade"), 2, "sqlite:// is an in-memory SQLite database"),
    Case("db-memory-path", ("db", "upgrade"), 2, "in-memory", env={"EPMGR_DB_URL": "sqlite:///:memory:"}),
    Case("db-foreign-sqlite", ("--db", "{tmp}/other.db", "cost", "--offline"), 2,
         "other.db is not an epmgr ledger: it has tables (invoices) but no epmgr schema revision",
         setup=_foreign_sqlite),
    Case("db-not-sqlite", ("--db", "{tmp}/notes.txt", "db", "upgrade"), 2, "notes.txt is not a SQLite database",
         files={"notes.txt": "shopping list\n"}),
    Case("db-is-a-folder", ("--db", "{tmp}", "db", "upgrade"), 2, "is a folder"),
    # --- found while looking through every option ------------------------------------------------------------
    Case("since-overflow", ("cost", "--offline", "--since", "99999999999d"), 2, "of at most 3650d"),
    Case("since-year-one", ("cost", "--offline", "--since", "0001-01-01"), 2, "a date between 1970 and 2999"),
    Case("until-before-since", ("cost", "--offline", "--since", "1d", "--until", "2d"), 2, "the window is empty"),
    Case("cost-png-nowhere", ("cost", "--offline", "--png", "/nonexistent/r.png"), 2, "--png: cannot write"),
    Case("timeout-overflow", ("wait", "phi3", "--timeout", "99999999999d"), 2, "'--timeout': expected a duration"),
    Case("bad-time-zone", ("cost", "--offline", "--tz", "Mars/Olympus"), 2, "unknown time zone 'Mars/Olympus'"),
    Case("reason-too-long", ("pause", "phi3", "--reason", "r" * 600), 2, "at most 500 printable characters"),
    Case("reason-with-newline", ("pause", "phi3", "--reason", "a\nb"), 2, "'--reason': expected one line"),
    Case("replicas-huge", ("update", "phi3", "--max-replica", "10000000000"), 2, "is not in the range 1<=x<=1000"),
    Case("replicas-negative", ("update", "phi3", "--min-replica", "-1"), 2, "'--min-replica': -1 is not in the"),
    Case("max-below-min", (*CREATE, "--min-replica", "3", "--max-replica", "2"), 2, "--max-replica 2 is below"),
    Case("scale-to-zero-seconds", ("update", "phi3", "--scale-to-zero-timeout", "90s"), 2, "must be whole minutes"),
    Case("update-nothing", ("update", "phi3"), 2, "nothing to change"),
    Case("namespace-flag", ("--namespace", "../x", "list"), 2, "--namespace: expected a user or organisation"),
    Case("api-url-garbage", ("list",), 2, "EPMGR_HF_API_URL: expected an http(s) base URL",
         env={"EPMGR_HF_API_URL": "not a url"}),
    Case("config-missing", ("--config", "{tmp}/nope.toml", "list"), 2, "configuration file not found"),
    Case("unknown-option", ("--bogus",), 2, "No such option '--bogus'"),
    Case("unknown-command", ("frobnicate",), 2, "No such command 'frobnicate'"),
]  # fmt: skip


def _endpoint_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "endpoints" not in tables:
            return 0
        # A failed action is audited (its endpoint row exists for the audit log only): an endpoint counts once the
        # API showed it (a state change) or a request was recorded, as the cost report counts them.
        known = (
            "SELECT COUNT(*) FROM endpoints e WHERE EXISTS (SELECT 1 FROM state_changes s WHERE s.endpoint_id = e.id)"
            " OR EXISTS (SELECT 1 FROM requests r WHERE r.endpoint_id = e.id)"
        )
        return int(conn.execute(known).fetchone()[0])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_one_line_and_its_exit_code(epmgr: Cli, tmp_path: Path, case: Case) -> None:
    for name, text in case.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if case.setup:
        case.setup(tmp_path)
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in case.args]
    env = {key: value.replace("{tmp}", str(tmp_path)) for key, value in case.env.items()}
    if case.html_api:
        env["EPMGR_HF_API_URL"] = HTML_API
        page = httpx.Response(200, text="<!doctype html><title>Sign in</title>", headers={"content-type": "text/html"})
        with respx.mock(base_url=HTML_API) as mock:
            mock.route().mock(return_value=page)
            result = epmgr(*args, **env)
    else:
        result = epmgr(*args, **env)

    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr[:2000]
    assert case.says in lines[0]
    assert case.not_said not in lines[0] and len(lines[0]) < 700
    assert result.exit_code == case.code
    assert "Traceback" not in result.output and DEMO_TOKEN not in result.output
    assert _endpoint_rows(Path(epmgr.db_url.removeprefix("sqlite:///"))) == 0
    if case.no_api_call:
        assert epmgr.server.requests.counts() == {}


def test_the_table_covers_every_item_of_list_7_that_the_cli_can_show() -> None:
    ids = {case.id for case in CASES}
    assert {
        "pause-after-overflow", "interval-overflow", "db-folder-cannot-be-made", "db-port-not-a-number",
        "api-html-list", "api-html-pause", "name-100k-characters", "name-with-newline", "cost-html-nowhere",
        "status-watch-negative", "proxy-port-out-of-range", "daemon-listen-garbage", "ledger-newer-revision",
    } <= ids  # fmt: skip


def test_a_real_process_gives_one_line_and_a_traceback_only_with_debug(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[defaults]\npause_after = "99999999999d"\n', encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_TOKEN": DEMO_TOKEN, "EPMGR_NAMESPACE": "demo"}
    command = [sys.executable, "-m", "epmgr", "--config", str(config), "list"]
    plain = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (plain.returncode, plain.stdout) == (2, "")
    assert plain.stderr.startswith("Error: ") and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    debug = subprocess.run([*command[:3], "--debug", *command[3:]], env=env, capture_output=True, text=True, timeout=60)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr
    assert DEMO_TOKEN not in plain.stderr + debug.stderr


def test_a_name_that_climbs_out_never_reaches_the_endpoint_it_points_at(epmgr: Cli) -> None:
    create = [*CREATE]
    create[1] = "ep2"
    assert epmgr(*create, "--wait", "--timeout", "30s").exit_code == 0
    epmgr.server.requests.clear()
    for args in (("pause", "x/../ep2"), ("delete", "-y", "x/../ep2"), ("pause", "../demo/ep2")):
        assert epmgr(*args).exit_code == 2
    assert epmgr.server.requests.counts() == {}
    shown = epmgr("show", "ep2", "--json")
    assert '"state": "running"' in shown.stdout
    ledger = epmgr.ledger()
    assert [e.ref.name for e in ledger.endpoints()] == ["ep2"]  # no row under a made-up name
    assert {a.ref.name for a in ledger.actions()} == {"ep2"} and len(ledger.actions()) == 1  # only the create
    ledger.close()


def test_an_unexpected_exception_is_one_line_and_a_traceback_only_with_debug() -> None:
    @click.group(cls=EpmgrGroup)
    @click.option("--debug", is_flag=True)
    def group(debug: bool) -> None:
        """A fresh group whose one command has a bug."""

    @group.command()
    def buggy() -> None:
        raise KeyError("a\nmulti-line bug")

    plain = CliRunner().invoke(group, ["buggy"])
    assert plain.exit_code == 1 and plain.stderr.count("\n") == 1
    assert plain.stderr.startswith("Error: unexpected KeyError: 'a\\nmulti-line bug' (a bug in epmgr")
    debug = CliRunner().invoke(group, ["--debug", "buggy"])
    assert debug.exit_code == 1 and isinstance(debug.exception, KeyError)
