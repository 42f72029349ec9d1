"""`epmgr cost`: what endpoints cost, what they will cost, and what epmgr saved (table, JSON, HTML, PNG)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from epmgr.adapters.hf import api_from_settings
from epmgr.cli.context import AppContext, emit, json_option, pass_app
from epmgr.cli.params import ENDPOINT_NAME
from epmgr.clock import SystemClock
from epmgr.config import load_fallbacks
from epmgr.domain.durations import MAX_DURATION, format_duration, parse_duration
from epmgr.domain.fallback import Price
from epmgr.domain.model import EndpointRef
from epmgr.errors import ApiError, ConfigError
from epmgr.fallback.pricing import fallback_usage, usage_dict, usage_table
from epmgr.observe import record_snapshots
from epmgr.pricing import PriceBook, refresh_prices
from epmgr.report.data import day_table, endpoint_table, report_dict
from epmgr.report.html import render_html
from epmgr.report.model import build_report
from epmgr.report.png import write_png

EXPECTED_MOMENT = 'a duration ago such as "7d" or "12h", or a date/time such as 2026-03-01 or 2026-03-01T08:00'


def parse_moment(text: str, now: datetime, tz: tzinfo, option: str) -> datetime:
    """``"7d"`` (that long before ``now``) or an ISO date/time (in ``tz`` when it has no offset)."""
    try:
        return now - parse_duration(text)
    except ValueError as exc:
        if "at most" in str(exc):  # a duration, but too long
            raise click.BadParameter(str(exc), param_hint=option) from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected {EXPECTED_MOMENT}, got {text!r}", param_hint=option) from None
    if not 1970 <= moment.year <= 2999:  # far-off years overflow when converted between time zones
        raise click.BadParameter(f"expected a date between 1970 and 2999, got {text!r}", param_hint=option)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse_tz(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin)") from None


def output_file(text: str | None, option: str) -> Path | None:
    """The file ``option`` names, checked before any work: its folder exists and can be written."""
    if text is None:
        return None
    path = Path(text).expanduser()
    folder = path.parent
    if not folder.is_dir():
        raise click.BadParameter(f"cannot write {text}: the folder {folder} does not exist", param_hint=option)
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"cannot write {text}: permission denied", param_hint=option)
    return path


def write_output(path: Path, write: Callable[[Path], object]) -> None:
    """Run ``write``; a failure of the file system becomes one line naming the file."""
    try:
        write(path)
    except OSError as exc:
        raise click.FileError(str(path), hint=exc.strerror or str(exc)) from None


def observe_now(app: AppContext, now: datetime) -> dict[EndpointRef, int | None]:
    """Look at the namespace once (states and prices) so the report is current; warn and go on when offline."""
    settings = app.settings()
    if not settings.namespace or not settings.token:
        click.echo("warning: no namespace or HF token: reporting from the ledger only", err=True)
        return {}
    ledger = app.ledger()
    try:
        api = api_from_settings(settings.token, settings.namespace, settings.hf_api_url)
        snapshots = api.list_endpoints()
        refresh_prices(api, ledger, now)
    except (ApiError, ConfigError) as exc:
        click.echo(f"warning: could not observe the endpoints ({exc}); reporting from the ledger only", err=True)
        return {}
    book = PriceBook.from_ledger(ledger, settings)
    record_snapshots(snapshots, ledger, now, book.price_of(), max_gap=3 * settings.daemon.interval)
    return {s.ref: s.scale_to_zero_timeout_min for s in snapshots}


@click.command()
@click.argument("name", type=ENDPOINT_NAME, required=False)
@click.option("--since", default="7d", show_default=True, help="Window start: a duration ago (7d) or a date.")
@click.option("--until", help="Window end: a duration ago or a date/time (default: now).")
@click.option("--by", type=click.Choice(["endpoint", "day"]), default="endpoint", show_default=True, help="Rows.")
@click.option("--tz", "tz_name", default="UTC", show_default=True, help="Time zone of days and months (IANA).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report.")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Write a PNG chart (needs matplotlib).")
@click.option("--offline", is_flag=True, help="Do not look at the API first; report from the ledger only.")
@json_option
@pass_app
def cost(
    app: AppContext,
    name: str | None,
    since: str,
    until: str | None,
    by: str,
    tz_name: str,
    html_path: str | None,
    png_path: str | None,
    offline: bool,
) -> None:
    """Show billed hours, spend, forecasts and savings per endpoint (or per day).

    Spend follows HF's billing (per replica, per started minute, while initializing, running or updating).
    Time epmgr did not observe is shown as UNKNOWN and never counted as free. Savings replay the requests
    recorded in the ledger against always-on and HF's own scale to zero (15 min and 1 h, and the endpoint's
    own timeout). See docs/cost.md; the --json shape is in docs/cost-json.md.

    \b
    Example:
        epmgr cost
        epmgr cost phi3-mini --since 30d --by day
        epmgr cost --since 2026-03-01 --until 2026-04-01 --tz Europe/Berlin --json
        epmgr cost --html report.html --png report.png
    """
    tz = parse_tz(tz_name)
    html_file, png_file = output_file(html_path, "--html"), output_file(png_path, "--png")
    now = SystemClock().now()
    start = parse_moment(since, now, tz, "--since")
    end = parse_moment(until, now, tz, "--until") if until else now
    if end <= start:
        raise click.BadParameter(f"the window is empty: --since {since} is not before --until {until or 'now'}")
    if not now - MAX_DURATION <= start < end <= now + MAX_DURATION:
        limit = f"{format_duration(MAX_DURATION)} of now"
        raise click.BadParameter(f"the window must lie within {limit}, got --since {since} --until {until or 'now'}")
    settings = app.settings()
    timeouts = {} if offline else observe_now(app, now)
    ledger = app.ledger()
    book = PriceBook.from_ledger(ledger, settings)
    report = build_report(
        ledger,
        book,
        start,
        end,
        now,
        tz,
        names=[name] if name else (),
        hf_timeouts=timeouts,
        max_gap=3 * settings.daemon.interval,
    )
    if name and not report.endpoints:
        raise click.BadParameter(f"the ledger knows no endpoint named {name!r}", param_hint="NAME")
    written = []
    if html_file:
        write_output(html_file, lambda path: path.write_text(render_html(report), encoding="utf-8"))
        written.append(f"HTML report: {html_file.resolve()}")
    if png_file:
        write_output(png_file, lambda path: write_png(report, path))
        written.append(f"PNG chart: {png_file.resolve()}")
    fallbacks = fallback_usage(ledger, start, end, names=[name] if name else (), prices=_fallback_prices(app))
    saved = next((saved for baseline, _, saved in report.savings() if baseline == "always on"), None)
    if app.json:
        emit(app, {**report_dict(report), "fallbacks": usage_dict(fallbacks)}, "")
        for line in written:
            click.echo(line, err=True)
        return
    text = day_table(report) if by == "day" else endpoint_table(report)
    emit(app, None, "\n".join([text + usage_table(fallbacks, saved), *written]))


def _fallback_prices(app: AppContext) -> dict[str, Price]:
    """``[fallback_prices]`` from the same file as the rest of the configuration."""
    return load_fallbacks(app.config_path).prices
