"""`epmgr simulate` on the command line: the acceptance command, the HTML page, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from benchmarks import traffic
from epmgr.cli.main import cli

ACCEPTANCE = (
    "--price-per-hour", "1.0", "--startup", "4m", "--policy", "always-on", "--policy", "fixed:15m",
    "--policy", "fixed:60m", "--policy", "adaptive", "--policy", "oracle", "--json",
)  # fmt: skip
KEYS = {"policy", "usd", "cold_starts", "replica_hours", "ratio_to_oracle", "waited_p50_s", "waited_p99_s"}


def simulate(*args: str) -> Result:
    return CliRunner().invoke(cli, ["simulate", *args])


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """Three days of sporadic developer sessions, as a CSV of ISO timestamps."""
    path = tmp_path / "requests.csv"
    stream = traffic.sporadic_dev(5, 3)
    rows = [datetime.fromtimestamp(t, timezone.utc).isoformat() for t in stream.times]
    path.write_text("timestamp,status\n" + "".join(f"{row},200\n" for row in rows))
    return path


def test_the_acceptance_command(trace: Path) -> None:
    result = simulate("--trace", str(trace), *ACCEPTANCE)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["policy"] for row in rows] == ["always-on", "fixed:15m", "fixed:60m", "adaptive", "oracle"]
    assert all(set(row) >= KEYS for row in rows)
    by = {row["policy"]: row for row in rows}
    assert by["oracle"]["ratio_to_oracle"] == 1.0 and by["oracle"]["cold_starts"] == 0
    assert by["always-on"]["usd"] > by["fixed:60m"]["usd"] > by["fixed:15m"]["usd"] > by["oracle"]["usd"]
    assert by["fixed:15m"]["cold_starts"] > 0 and by["fixed:15m"]["waited_p99_s"] == 240.0


def test_the_table_and_the_html_page(trace: Path, tmp_path: Path) -> None:
    page = tmp_path / "sim.html"
    result = simulate("--trace", str(trace), "--policy", "fixed:15m", "--policy", "oracle", "--html", str(page))
    assert result.exit_code == 0, result.output
    assert "fixed:15m" in result.stdout and "x oracle" in result.stdout
    html = page.read_text()
    assert 'id="pareto"' in html and 'id="timeline"' in html
    assert "fixed:120m" in html  # the curve of fixed timeouts reaches 2 h
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # no CDN: opens offline


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("time\n0\n", (), "requests.csv:1: no 'timestamp' column (columns: time)"),
        ("timestamp\n0\n60\nnoon\n", (), "requests.csv:4: bad timestamp 'noon'"),
        ("timestamp\n0\n", ("--policy", "fixed:15"), "--policy: fixed:15: expected a duration"),
        ("timestamp\n0\n", ("--policy", "sometimes"), "--policy: unknown policy 'sometimes'"),
        ("timestamp\n0\n", ("--policy", "adaptive:cold-start-usd=lots"), "expected a number, got 'lots'"),
        ("timestamp\n0\n", ("--startup", "4 minutes"), "--startup: expected a duration"),
        ("timestamp\n0\n", ("--price-per-hour", "free"), "--price-per-hour: expected a positive amount"),
        ("timestamp\n0\n", ("--policy", "config:nowhere.toml#x"), "nowhere.toml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str, args: tuple[str, ...], message: str) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(content)
    result = simulate("--trace", str(path), *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_an_endpoint_missing_from_the_configuration_is_named(tmp_path: Path) -> None:
    config = tmp_path / "epmgr.toml"
    config.write_text('[[endpoints]]\nname = "phi"\n')
    path = tmp_path / "requests.csv"
    path.write_text("timestamp\n0\n")
    result = simulate("--trace", str(path), "--policy", f"config:{config}#llama")
    assert result.exit_code == 2
    assert "no endpoint 'llama' in it (endpoints: phi)" in result.stderr
