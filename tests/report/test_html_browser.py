"""The HTML report in a real headless browser (Debian's chromium): charts render, no console errors, screenshots.

Two scales are rendered: a two-minute history (what `make demo` records) and a thirty-day one; the time axes must
fit the data in both. The screenshots land in ``artifacts/`` (``cost_report_2min.png``, ``cost_report_30d.png``);
the README's picture, ``docs/img/cost-report.png``, is the thirty-day one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from epmgr.domain.model import EndpointRecord, EndpointRef, EndpointState, RequestRecord, StateChange
from epmgr.ledger import Ledger, open_ledger
from epmgr.pricing import PriceBook
from epmgr.report.html import render_html
from epmgr.report.model import build_report
from tests.conftest import T0
from tests.report.histories import L4, thirty_days, two_minutes

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (`apt-get install chromium`; .ci/run installs it)"
)


def week_of_history(ledger: Ledger) -> None:
    """Two endpoints over a week: office hours with scale to zero, and one left running, then an unobserved gap."""
    S = EndpointState
    busy, idle = EndpointRef("acme", "phi3-office"), EndpointRef("acme", "llama-forgotten")
    price = Decimal("0.8")
    for day in range(7):
        base = T0 + timedelta(days=day)
        for offset, state in ((0, S.INITIALIZING), (240, S.RUNNING), (9 * 3600, S.SCALED_TO_ZERO)):
            replicas = 0 if state == S.SCALED_TO_ZERO else 1
            ledger.record_state_change(
                StateChange(busy, None if day == offset == 0 else S.SCALED_TO_ZERO, state,
                            base + timedelta(seconds=offset), replicas=replicas, instance=L4, price_per_hour=price)
            )  # fmt: skip
        ledger.record_requests(
            [RequestRecord(busy, base + timedelta(minutes=5 + 7 * i), status_code=200) for i in range(70)]
        )
    ledger.record_state_change(StateChange(idle, None, S.RUNNING, T0, replicas=2, instance=L4, price_per_hour=price))
    ledger.record_state_change(StateChange(idle, S.RUNNING, S.UNKNOWN, T0 + timedelta(days=3)))
    ledger.record_state_change(
        StateChange(idle, S.UNKNOWN, S.PAUSED, T0 + timedelta(days=4), replicas=0, instance=L4, price_per_hour=price)
    )
    for ref in (busy, idle):
        ledger.upsert_endpoint(EndpointRecord(ref, L4), seen_at=T0 + timedelta(days=7))


def render_in_chromium(tmp_path: Path, html: str, shot_name: str, height: int = 1500) -> str:
    """Open the page in headless chromium; returns the rendered DOM, and leaves a screenshot in artifacts/."""
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="charts:3"' in dom.stdout  # the inline script ran and found the three SVG charts
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / shot_name
    shot.unlink(missing_ok=True)
    taken = subprocess.run(
        [*common, f"--screenshot={shot}", f"--window-size=1100,{height}", "--hide-scrollbars", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return dom.stdout


def test_the_report_renders_its_charts_in_chromium_without_console_errors(tmp_path: Path) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    week_of_history(ledger)
    now = T0 + timedelta(days=7)
    report = build_report(ledger, PriceBook(), T0, now, now, timezone.utc)
    ledger.close()
    render_in_chromium(tmp_path, render_html(report), "cost_report.png")


def chart(dom: str, chart_id: str) -> str:
    found = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', dom, re.S)
    assert found, chart_id
    return found[0]


@pytest.mark.parametrize(
    ("history", "window", "shot", "bucket", "bars", "ticks"),
    [
        (
            two_minutes,
            timedelta(days=1),
            "cost_report_2min.png",
            "minute",
            2,
            ["09:00:00", "09:00:30", "09:01:00", "09:01:30", "09:02:00"],
        ),
        (thirty_days, timedelta(days=31), "cost_report_30d.png", "day", 31, ["03-09", "03-16", "03-23", "03-30"]),
    ],
    ids=["two-minutes", "thirty-days"],
)
def test_the_time_axes_fit_the_history_at_any_scale(
    tmp_path: Path,
    history: Callable[[Ledger, datetime], datetime],
    window: timedelta,
    shot: str,
    bucket: str,
    bars: int,
    ticks: list[str],
) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    end = history(ledger, T0)
    since = end - window  # the window asked for (`--since 1d`) is longer than the history in it
    report = build_report(ledger, PriceBook(), since, end, end, timezone.utc)
    ledger.close()

    dom = render_in_chromium(tmp_path, render_html(report), shot)

    headline = re.search(r'id="headline">([^<]*)<', dom)
    assert headline and re.match(r"epmgr saved \$\d+\.\d\d \(\d+%\) against keeping them running; \d+ requests? "
                                 r"waited for a cold start\.", headline[1]), headline  # fmt: skip
    assert f"<h2>Spend per {bucket}</h2>" in dom
    spend = chart(dom, "spend-per-day")
    assert len(re.findall(r"<rect ", spend)) >= bars  # stacked: one rect per endpoint with spend in a bucket
    labels = re.findall(r'font-size="11">([^<$]+)</text>', spend)
    assert len(labels) == bars if bars <= 16 else 0 < len(labels) <= 16
    timeline = chart(dom, "timeline")
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', timeline)]
    ends = [float(x) + float(w) for x, w in re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)"', timeline)]
    assert min(xs) == pytest.approx(160, abs=0.01)  # the history starts at the axis start, not in its last pixel
    assert max(ends) == pytest.approx(870, abs=0.01)  # and ends at the axis end
    assert re.findall(r'text-anchor="middle">([^<]+)</text>', timeline)[: len(ticks)] == ticks
