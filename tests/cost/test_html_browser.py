"""The HTML report in a real headless browser (Debian's chromium): charts render, no console errors, screenshot."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from epmgr.domain.model import EndpointRecord, EndpointRef, EndpointState, RequestRecord, StateChange
from epmgr.ledger import Ledger, open_ledger
from epmgr.pricing import PriceBook
from epmgr.report.html import render_html
from epmgr.report.model import build_report
from tests.conftest import T0
from tests.cost.conftest import L4

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


def test_the_report_renders_its_charts_in_chromium_without_console_errors(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    week_of_history(ledger)
    now = T0 + timedelta(days=7)
    report = build_report(ledger, PriceBook(), T0, now, now, timezone.utc)
    ledger.close()
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    profile = tmp_path / "profile"
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="charts:3"' in dom.stdout  # the inline script ran and found the three SVG charts
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "cost_report.png"
    shot.unlink(missing_ok=True)
    taken = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1100,1500", "--hide-scrollbars", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
