"""`epmgr daemon` (run the policies) and `epmgr status` (what every endpoint is doing and what comes next)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import click

from epmgr.adapters.hf import api_from_settings
from epmgr.cli.context import AppContext, emit, json_option, pass_app
from epmgr.cli.render import money, table
from epmgr.cli.status_outbox import outbox_counts, outbox_line
from epmgr.clock import SystemClock
from epmgr.config import Settings
from epmgr.config_toml import EXPECTED_LISTEN, check_listen
from epmgr.daemon import LEASE_NAME, Daemon, unauthenticated_warning
from epmgr.domain.durations import format_duration
from epmgr.domain.policy import Traffic
from epmgr.errors import ConfigError, EpmgrError
from epmgr.logs import configure
from epmgr.ports import EndpointsAPI
from epmgr.service import ApiFor, EndpointReport, Reconciler, TickReport


def api_factory(settings: Settings) -> ApiFor:
    def api_for(namespace: str | None) -> EndpointsAPI:
        return api_from_settings(settings.token, namespace, settings.hf_api_url)

    return api_for


def report_dict(e: EndpointReport, now: datetime) -> dict[str, Any]:
    d = e.decision
    return {
        "namespace": e.ref.namespace,
        "name": e.ref.name,
        "state": e.state.value,
        "managed": e.managed,
        "traffic": e.traffic.value,
        "unseen_today": e.unseen_today,
        "idle_for_s": None if e.idle_for is None else int(e.idle_for.total_seconds()),
        "decision": {
            "action": d.action.value,
            "policy": d.policy,
            "reason": d.reason,
            "skipped": d.skipped,
            "outcome": e.outcome.value if e.outcome else None,
            "error": e.error,
        },
        "next": None
        if d.next_action is None or d.next_at is None
        else {
            "action": d.next_action.value,
            "at": d.next_at.isoformat(),
            "in_s": int((d.next_at - now).total_seconds()),
        },
        "spent_today_usd": str(e.spent_today),
        "spent_month_usd": str(e.spent_month),
        "budget_left_usd": None if e.budget_left is None else str(e.budget_left),
    }


def _next(e: EndpointReport, now: datetime) -> str:
    d = e.decision
    if d.acts or d.skipped:
        return f"{d.action.value} now" if d.acts else f"{d.action.value} held"
    if d.next_action is None or d.next_at is None:
        return "-"
    return f"{d.next_action.value} in {format_duration(max(d.next_at - now, timedelta(0)))}"


def _label(e: EndpointReport) -> str:
    if not e.managed:
        return f"{e.ref} (observed)"
    return f"{e.ref} (shared)" if e.traffic == Traffic.SHARED else str(e.ref)


def status_text(report: TickReport, lease: str) -> str:
    now = report.started_at
    if not report.endpoints:
        body = "No endpoints."
    else:
        rows = [
            (
                _label(e),
                e.state.value,
                format_duration(e.idle_for) if e.idle_for is not None else "-",
                _next(e, now),
                money(e.spent_today.quantize(Decimal("0.01"))),
                "-" if e.budget_left is None else money(e.budget_left.quantize(Decimal("0.01"))),
                e.decision.reason,
            )
            for e in report.endpoints
        ]
        body = table(("ENDPOINT", "STATE", "IDLE FOR", "NEXT", "TODAY", "BUDGET LEFT", "WHY"), rows)
    unseen = "".join(
        f"\n{e.ref}: {e.unseen_today} requests not seen by epmgr today" for e in report.endpoints if e.unseen_today
    )
    errors = unseen + "".join(f"\nerror: {error}" for error in report.errors)
    return f"{body}\n{lease}{errors}"


@click.command("status")
@click.option("--watch", type=click.FloatRange(min=1, max=86400), metavar="SECONDS", help="Refresh every SECONDS.")
@json_option
@pass_app
def status(app: AppContext, watch: float | None) -> None:
    """One table of every endpoint: state, idle for, next planned action and when, today's spend, budget left.

    It asks the API once per namespace and plans with the daemon's own rules, without acting.

    \b
    Example:
        epmgr status
        epmgr status --watch 5
        epmgr status --json
    """
    settings = app.settings()
    ledger = app.ledger()
    clock = SystemClock()
    planner = Reconciler(settings, ledger, clock, api_factory(settings), plan_only=True)
    while True:
        report = planner.tick()
        lease = ledger.lease(LEASE_NAME)
        now = clock.now()
        alive = lease is not None and lease.expires_at > now
        lease_text = (
            f"daemon: {lease.holder} (lease until {lease.expires_at:%H:%M:%S}Z)"
            if alive and lease
            else "daemon: none running"
        )
        outbox = outbox_line(ledger, now)
        lease_text += f"\n{outbox}" if outbox else ""
        data = {
            "endpoints": [report_dict(e, report.started_at) for e in report.endpoints],
            "errors": report.errors,
            "notifications": outbox_counts(ledger),
            "daemon": {"holder": lease.holder, "expires_at": lease.expires_at.isoformat()} if alive and lease else None,
        }
        if watch is not None and not app.json:
            click.clear()
        emit(app, data, status_text(report, lease_text))
        if watch is None:
            return
        time.sleep(watch)


@click.command("daemon")
@click.option("--once", is_flag=True, help="Run one tick and exit (for cron and tests).")
@click.option("--dry-run", is_flag=True, help="Decide and audit as dry_run; never call the API to act.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default=None, help="Log format (default: [daemon] log_format)."
)
@click.option("--listen", metavar="HOST:PORT", default=None, help="Address of /healthz and /metrics; 'off' for none.")
@click.option("-v", "--verbose", is_flag=True, help="Log every decision, also the ones with nothing to do.")
@json_option
@pass_app
def daemon(
    app: AppContext, once: bool, dry_run: bool, log_format: str | None, listen: str | None, verbose: bool
) -> None:
    """Watch request activity and endpoint states; pause, resume and scale to zero by policy.

    Policies come from epmgr.toml (idle timeouts, schedules, budgets). Every decision is audited in the ledger
    with its reason. Only one daemon acts per ledger (a lease); others wait and take over if it dies. SIGTERM or
    Ctrl-C finishes the action in flight, releases the lease and exits.

    \b
    Example:
        epmgr daemon --dry-run --once
        epmgr --config epmgr.toml daemon --log-format json
    """
    if listen not in (None, "off"):
        try:
            listen = check_listen(listen)
        except ValueError:
            raise ConfigError(f"expected {EXPECTED_LISTEN} or 'off', got {listen!r}", source="command line",
                              key="--listen") from None  # fmt: skip
    settings = app.settings()
    configure(log_format or settings.daemon.log_format, level=logging.DEBUG if verbose else logging.INFO)
    address = settings.daemon.listen if listen is None else ("" if listen == "off" else listen)
    warning = unauthenticated_warning(address) if not once else None
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    ledger = app.ledger()
    runner = Daemon(
        settings,
        ledger,
        SystemClock(),
        api_factory(settings),
        dry_run=dry_run,
        listen="" if listen == "off" else listen,
    )
    if not once:
        runner.run()
        return
    try:
        report = runner.tick()
    finally:
        runner.shutdown()
    if report is None:
        if runner.last_error is not None:  # the tick failed: say what, never "standby"
            raise EpmgrError(runner.last_error)
        emit(app, {"leader": False, "endpoints": []}, "standby: another daemon holds the lease; nothing done")
        return
    lease_text = "dry run: nothing was changed" if dry_run else "one tick done"
    emit(
        app,
        {
            "leader": True,
            "endpoints": [report_dict(e, report.started_at) for e in report.endpoints],
            "errors": report.errors,
        },
        lambda: status_text(report, lease_text),
    )
    if report.errors:
        raise SystemExit(1)
