"""`epmgr cost` end to end against the emulator: the table, the pinned --json schema, HTML and PNG files."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from epmgr.report.data import SCHEMA
from tests.cli.conftest import Cli, epmgr  # noqa: F401  (the fixture)

DOC = Path(__file__).parents[2] / "docs" / "cost-json.md"


def documented_keys(section: str) -> set[str]:
    """The keys listed in docs/cost-json.md under the heading ``### section`` (one `key` per table row)."""
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.MULTILINE))


def deployed(cli: Cli) -> None:
    result = cli(
        "create", "cheap", "--repo", "gpt2", "--vendor", "aws", "--region", "us-east-1", "--accelerator", "cpu",
        "--instance-type", "intel-icl", "--instance-size", "x2", "--wait", "--timeout", "30s",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    time.sleep(0.2)


@pytest.fixture
def report(epmgr: Cli) -> dict[str, Any]:  # noqa: F811
    deployed(epmgr)
    result = epmgr("cost", "--since", "1d", "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_output_matches_the_documented_schema(report: dict[str, Any]) -> None:
    assert report["schema"] == SCHEMA
    assert set(report) == documented_keys("Top level")
    assert set(report["window"]) == documented_keys("window")
    assert set(report["totals"]) == documented_keys("totals")
    (endpoint,) = report["endpoints"]
    assert set(endpoint) == documented_keys("endpoints[]")
    assert set(endpoint["today"]) == documented_keys("today, month")
    assert set(endpoint["price"]) == documented_keys("price")
    assert set(endpoint["baselines"][0]) == documented_keys("baselines[]")
    assert set(endpoint["days"][0]) == documented_keys("days[]")
    assert set(endpoint["timeline"][0]) == documented_keys("timeline[]")


def test_json_shows_the_running_endpoints_spend_and_price(report: dict[str, Any]) -> None:
    (endpoint,) = report["endpoints"]
    assert endpoint["name"] == "cheap"
    assert endpoint["price"] == {"usd_per_hour": "0.064", "source": "api", "read_at": endpoint["price"]["read_at"]}
    assert endpoint["replica_minutes"] >= 1  # a started minute is billed
    assert endpoint["usd"] == "0.001067"  # one minute of 0.064 $/h, rounded half-up to a micro-dollar
    assert [b["name"] for b in endpoint["baselines"]] == [
        "always on",
        "HF scale to zero after 15m",
        "HF scale to zero after 1h",
    ]
    assert [t["state"] for t in endpoint["timeline"]][-1] == "running"


def test_table_html_and_png(epmgr: Cli, tmp_path: Path) -> None:  # noqa: F811
    deployed(epmgr)
    html, png = tmp_path / "report.html", tmp_path / "chart.png"
    result = epmgr("cost", "--html", str(html), "--png", str(png))
    assert result.exit_code == 0, result.output
    assert "cheap" in result.stdout and "TOTAL" in result.stdout and "SAVED VS ALWAYS ON" in result.stdout
    assert f"HTML report: {html}" in result.stdout
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by_day = epmgr("cost", "cheap", "--by", "day", "--offline")
    assert by_day.exit_code == 0 and "DAY" in by_day.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "expected a duration ago"),
        (["--since", "1d", "--until", "2d"], "the window is empty"),
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["nope", "--offline"], "knows no endpoint named 'nope'"),
    ],
    ids=["bad-since", "empty-window", "bad-tz", "unknown-name"],
)
def test_bad_input_is_a_clear_error(epmgr: Cli, args: list[str], message: str) -> None:  # noqa: F811
    result = epmgr("cost", *args)
    assert result.exit_code == 2
    assert message in result.output
