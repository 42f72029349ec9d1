"""The report as plain data: the documented ``epmgr cost --json`` shape (docs/cost-json.md), and text tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from epmgr.domain.cost import Spend
from epmgr.domain.durations import format_duration
from epmgr.domain.forecast import Forecast
from epmgr.report.model import CostReport, EndpointCost

SCHEMA = "epmgr.cost/1"


def usd(value: Decimal) -> str:
    """An exact amount as a decimal string with 6 places (a micro-dollar), as billed."""
    return f"{value.quantize(Decimal('0.000001')):f}"


def hours(replica_minutes: int) -> str:
    return f"{Decimal(replica_minutes) / 60:.2f}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def spend_dict(spend: Spend) -> dict[str, Any]:
    return {
        "usd": usd(spend.usd),
        "replica_minutes": spend.replica_minutes,
        "billed_hours": hours(spend.replica_minutes),
        "unknown_seconds": int(spend.unknown.total_seconds()),
        "unpriced_replica_minutes": spend.unpriced_replica_minutes,
        "complete": spend.complete,
    }


def forecast_dict(f: Forecast) -> dict[str, Any]:
    return {
        "period_start": _iso(f.period_start),
        "period_end": _iso(f.period_end),
        "spent_usd": usd(f.spent.usd),
        "forecast_usd": usd(f.projected_usd),
        "usd_per_hour": usd(f.usd_per_hour),
        "basis": f.basis,
    }


def endpoint_dict(e: EndpointCost) -> dict[str, Any]:
    instance = e.record.instance
    return {
        "namespace": e.ref.namespace,
        "name": e.ref.name,
        "instance": str(instance) if instance else None,
        "price": None
        if e.price is None
        else {
            "usd_per_hour": f"{e.price.usd_per_hour.normalize():f}",
            "source": e.price.source,
            "read_at": _iso(e.price.read_at),
        },
        **spend_dict(e.spend),
        "deleted_at": _iso(e.deleted_at),
        "today": forecast_dict(e.today),
        "month": forecast_dict(e.month),
        "requests": e.requests,
        "unseen_requests": e.unseen_requests,
        "cold_waits": e.cold_waits,
        "cold_start_seconds": int(e.cold_start.total_seconds()),
        "cold_start_observed": e.cold_start_observed,
        "baselines": [
            {
                "name": s.baseline.name,
                "assumption": s.baseline.assumption,
                "usd": usd(s.baseline.spend.usd),
                "replica_minutes": s.baseline.spend.replica_minutes,
                "wake_ups": s.baseline.wake_ups,
                "cold_waits": s.cold_waits,
                "saved_usd": usd(s.saved_usd),
            }
            for s in e.savings
        ],
        "days": [{"date": day.isoformat(), **spend_dict(spend)} for day, spend in e.days],
        "timeline": [
            {
                "start": _iso(i.start),
                "end": _iso(i.end),
                "state": i.state.value,
                "replicas": i.replicas,
                "billed": i.billed,
            }
            for i in e.timeline
        ],
    }


def report_dict(report: CostReport) -> dict[str, Any]:
    """The ``--json`` document (schema ``epmgr.cost/1``, documented in docs/cost-json.md)."""
    waits = report.baseline_cold_waits()
    return {
        "schema": SCHEMA,
        "currency": "USD",
        "generated_at": _iso(report.now),
        "window": {"since": _iso(report.since), "until": _iso(report.until), "timezone": str(report.tz)},
        "totals": {
            **spend_dict(report.total),
            "today_forecast_usd": usd(sum((e.today.projected_usd for e in report.endpoints), Decimal(0))),
            "month_forecast_usd": usd(sum((e.month.projected_usd for e in report.endpoints), Decimal(0))),
            "requests": report.requests,
            "cold_waits": report.cold_waits,
            "savings": [
                {"baseline": name, "usd": usd(cost), "saved_usd": usd(saved), "cold_waits": waits.get(name, 0)}
                for name, cost, saved in report.savings()
            ],
        },
        "days": [{"date": day.isoformat(), **spend_dict(spend)} for day, spend in report.days()],
        "endpoints": [endpoint_dict(e) for e in report.endpoints],
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces (numbers read well enough so, and it matches `epmgr list`)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip()
        for line in [headers, *rows]
    )


def money(value: Decimal) -> str:
    """Dollars and cents, the sign first: ``$1.50``, ``-$0.01``."""
    cents = value.quantize(Decimal("0.01"))
    return f"-${-cents}" if cents < 0 else f"${abs(cents)}"  # abs: no "$-0.00" for a tiny loss


def unknown_text(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=int(delta.total_seconds()))) if delta else "-"


def _saved(e: EndpointCost, index: int) -> str:
    return money(e.savings[index].saved_usd) if len(e.savings) > index else "-"


def endpoint_table(report: CostReport) -> str:
    """One row per endpoint: billed hours, spend, unknown time, forecasts, savings."""
    if not report.endpoints:
        return "No endpoints in the ledger yet (run `epmgr list` or the daemon to observe them)."
    rows: list[tuple[str, ...]] = [
        (
            e.ref.name,
            hours(e.spend.replica_minutes),
            money(e.spend.usd),
            unknown_text(e.spend.unknown),
            money(e.today.projected_usd),
            money(e.month.projected_usd),
            _saved(e, 0),
            _saved(e, 1),
        )
        for e in report.endpoints
    ]
    total = report.total
    rows.append(
        (
            "TOTAL",
            hours(total.replica_minutes),
            money(total.usd),
            unknown_text(total.unknown),
            money(sum((e.today.projected_usd for e in report.endpoints), Decimal(0))),
            money(sum((e.month.projected_usd for e in report.endpoints), Decimal(0))),
            *(money(saved) for _, _, saved in report.savings()[:2]),
        )
    )
    headers = ("ENDPOINT", "BILLED H", "SPEND", "UNKNOWN", "TODAY (FCST)", "MONTH (FCST)")
    baseline_names = [name for name, _, _ in report.savings()[:2]]
    extra = tuple(f"SAVED VS {name.upper()}" for name in baseline_names)
    return table(headers + extra, [row[: len(headers) + len(extra)] for row in rows]) + _footer(report)


def day_table(report: CostReport) -> str:
    """One row per day, all endpoints added up."""
    days = report.days()
    if not days:
        return "No spend in this window."
    rows = [(day.isoformat(), hours(s.replica_minutes), money(s.usd), unknown_text(s.unknown)) for day, s in days]
    total = report.total
    rows.append(("TOTAL", hours(total.replica_minutes), money(total.usd), unknown_text(total.unknown)))
    return table(("DAY", "BILLED H", "SPEND", "UNKNOWN"), rows) + _footer(report)


def _footer(report: CostReport) -> str:
    lines = [f"\nWindow {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} ({report.tz})."]
    if report.total.unknown:
        lines.append("UNKNOWN: time epmgr did not observe; it is not counted in SPEND (run the daemon to avoid gaps).")
    if any(saved < 0 for _, _, saved in report.savings()):
        from epmgr.report.summary import baseline_notes  # here: summary builds on this module

        lines.append("A negative SAVED means epmgr cost more than that baseline:")
        lines += [f"  {note}" for _, saved, note in baseline_notes(report) if saved < 0]
    lines += [f"{e.ref}: {e.unseen_requests} requests not seen by epmgr" for e in report.endpoints if e.unseen_requests]
    if report.total.unpriced_replica_minutes:
        lines.append(f"{report.total.unpriced_replica_minutes} billed replica-minutes have no known price.")
    return "\n".join(lines)
