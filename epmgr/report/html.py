"""A self-contained HTML cost report: inline CSS, inline SVG charts, a few lines of inline JS; no network at all."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape

from epmgr.domain.model import EndpointState
from epmgr.report.axes import extent, labels_every, money_ticks, span_text, spend_buckets, time_ticks
from epmgr.report.data import hours, money, unknown_text
from epmgr.report.model import CostReport
from epmgr.report.summary import headline, saving_notes

__all__ = ["headline", "render_html", "savings_svg", "spend_svg", "timeline_svg"]

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
STATE_COLORS = {
    EndpointState.RUNNING: "#59a14f",
    EndpointState.INITIALIZING: "#edc948",
    EndpointState.UPDATING: "#f28e2b",
    EndpointState.PENDING: "#bab0ac",
    EndpointState.SCALED_TO_ZERO: "#a0cbe8",
    EndpointState.PAUSED: "#d4d4d4",
    EndpointState.FAILED: "#e15759",
    EndpointState.UPDATE_FAILED: "#e15759",
    EndpointState.UNKNOWN: "#ffffff",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px auto;max-width:1080px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.headline{font-size:18px;background:#f3f8f1;border-left:4px solid #59a14f;padding:10px 14px;margin:14px 0}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.muted{color:#777}svg{display:block;margin:6px 0}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:11px;height:11px;
margin-right:4px;vertical-align:-1px;border:1px solid #999}.unknown{fill:url(#hatch)}
"""
SCRIPT = """
(function () {
  var charts = document.querySelectorAll("svg.chart");
  document.querySelectorAll("svg.chart [data-tip]").forEach(function (el) {
    var t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = el.getAttribute("data-tip");
    el.appendChild(t);
  });
  document.body.setAttribute("data-rendered", charts.length > 0 ? "charts:" + charts.length : "no-charts");
})();
"""


def _x(moment: datetime, start: datetime, end: datetime, width: float) -> float:
    span = (end - start).total_seconds() or 1.0
    return (moment - start).total_seconds() / span * width


def _color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def spend_svg(report: CostReport) -> tuple[str, str]:
    """Stacked bars of spend per bucket (a minute to a week, fitted to the data), one colour per endpoint.

    Returns:
        The bucket size in words (``"day"``) and the chart.
    """
    name, buckets = spend_buckets(report)
    if not buckets:
        return name, '<p class="muted">No history in the window.</p>'
    width, height, left, bottom = 900, 260, 60, 40
    ticks = money_ticks(max(b.usd for b in buckets))
    top = ticks[-1][0]
    bar = (width - left) / len(buckets)
    parts = [f'<svg class="chart" id="spend-per-day" width="{width}" height="{height}" role="img">']
    plot = height - bottom - 10
    for value, label in ticks:
        y = 10 + plot - value / top * plot
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    every = labels_every(len(buckets))
    for col, bucket in enumerate(buckets):
        base = float(10 + plot)
        for index, (endpoint, spend) in enumerate(zip(report.endpoints, bucket.spends, strict=True)):
            if not spend.usd:
                continue
            h = float(spend.usd) / top * plot
            base -= h
            tip = escape(f"{endpoint.ref.name} {bucket.label}: {money(spend.usd)}, {hours(spend.replica_minutes)} h")
            parts.append(
                f'<rect x="{left + col * bar + 1:.1f}" y="{base:.1f}" width="{max(bar - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{_color(index)}" data-tip="{tip}"/>'
            )
        if col % every == 0:
            parts.append(
                f'<text x="{left + col * bar + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="11">{escape(bucket.label)}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{_color(i)}"></i>{escape(e.ref.name)}</span>'
        for i, e in enumerate(report.endpoints)
    )
    return name, "".join(parts) + f'<div class="legend">{legend}</div>'


def timeline_svg(report: CostReport) -> str:
    """One band per endpoint, coloured by state; unknown time hatched."""
    width, row, left = 900, 26, 160
    height = row * len(report.endpoints) + 26
    start, end = extent(report)
    parts = [
        f'<svg class="chart" id="timeline" width="{width}" height="{height}" role="img">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#c44" stroke-width="2"/></pattern></defs>',
    ]
    span = width - left - 30  # room for the last tick label
    for index, endpoint in enumerate(report.endpoints):
        y = index * row + 4
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(endpoint.ref.name)}</text>')
        for interval in endpoint.timeline:
            assert interval.start is not None and interval.end is not None  # clipped intervals are closed
            if interval.end <= start or interval.start >= end:
                continue
            x0 = left + _x(max(interval.start, start), start, end, span)
            x1 = left + _x(min(interval.end, end), start, end, span)
            unknown = interval.state == EndpointState.UNKNOWN
            fill = "url(#hatch)" if unknown else STATE_COLORS.get(interval.state, "#999")
            tip = escape(
                f"{interval.state.value} {interval.start:%m-%d %H:%M} to {interval.end:%m-%d %H:%M}"
                + (f", {interval.replicas} replica(s)" if interval.billed else "")
            )
            parts.append(
                f'<rect x="{x0:.2f}" y="{y}" width="{max(x1 - x0, 0.5):.2f}" height="{row - 8}" fill="{fill}" '
                f'data-tip="{tip}"/>'
            )
    axis = row * len(report.endpoints) + 4
    for moment, label in time_ticks(start, end, report.tz):
        x = left + _x(moment, start, end, span)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{axis + 3}" stroke="#999" stroke-dasharray="2,3"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{color}"></i>{state.value}</span>'
        for state, color in STATE_COLORS.items()
        if state != EndpointState.UNKNOWN
    )
    legend += '<span><i style="background:repeating-linear-gradient(45deg,#fff 0 3px,#c44 3px 5px)"></i>unknown</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def savings_svg(report: CostReport) -> str:
    """Horizontal bars: what the window cost with epmgr, and under each baseline."""
    bars = [("actual (with epmgr)", report.total.usd)] + [(name, cost) for name, cost, _ in report.savings()]
    width, row, left = 900, 30, 230
    top = max((value for _, value in bars), default=Decimal(0)) or Decimal(1)
    parts = [f'<svg class="chart" id="savings" width="{width}" height="{row * len(bars) + 10}" role="img">']
    for index, (name, value) in enumerate(bars):
        y = index * row + 5
        w = float(value / top) * (width - left - 90)
        color = "#59a14f" if index == 0 else "#bab0ac"
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(name)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y}" width="{max(w, 0.5):.1f}" height="{row - 10}" fill="{color}" '
            f'data-tip="{escape(name)}: {money(value)}"/>'
        )
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12">{money(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: CostReport) -> str:
    """The whole report as one HTML document that opens offline."""
    rows = "".join(
        f"<tr><td>{escape(e.ref.name)}</td><td>{hours(e.spend.replica_minutes)}</td><td>{money(e.spend.usd)}</td>"
        f"<td>{unknown_text(e.spend.unknown)}</td><td>{money(e.today.projected_usd)}</td>"
        f"<td>{money(e.month.projected_usd)}</td><td>{e.requests}</td>"
        f"<td>{escape(e.price.source + ' ' + str(e.price.usd_per_hour)) if e.price else '?'}</td></tr>"
        for e in report.endpoints
    )
    assumptions = "".join(
        f"<li><b>{escape(e.ref.name)}</b>: {e.requests} recorded requests replayed; cold start "
        f"{int(e.cold_start.total_seconds())}s "
        f"({'observed median' if e.cold_start_observed else 'HF typical, none observed'})"
        f"<ul>{''.join(f'<li>{escape(s.baseline.name)}: {escape(s.baseline.assumption)}</li>' for s in e.savings)}</ul>"
        f"<span class='muted'>forecast: {escape(e.month.basis)}</span></li>"
        for e in report.endpoints
    )
    title = f"epmgr cost report {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}"
    bucket, spend_chart = spend_svg(report)
    notes = "".join(f"<li>{escape(note)}</li>" for note in saving_notes(report))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<div class="muted">Generated {report.now:%Y-%m-%d %H:%M %Z}; days in {escape(str(report.tz))}; amounts in USD.</div>
<div class="headline" id="headline">{escape(headline(report))}</div>
<table id="endpoints"><tr><th>Endpoint</th><th>Billed h</th><th>Spend</th><th>Unknown</th><th>Today (fcst)</th>
<th>Month (fcst)</th><th>Requests</th><th>Price $/h</th></tr>{rows}</table>
<h2>Spend per {bucket}</h2>{spend_chart}
<h2>States over time <span class="muted">({escape(span_text(*extent(report)))} of history)</span></h2>
{timeline_svg(report)}
<h2>Savings against the baselines</h2>{savings_svg(report)}
<ul id="saving-notes">{notes}</ul>
<h2>How these numbers are made</h2>
<ul>
<li>Billing follows HF's documented rule: initializing, running and updating cost money, per replica, per started
minute (a 10 s cold start costs a minute); paused and scaled-to-zero cost nothing.</li>
<li>States come from epmgr's observations. Time epmgr did not observe is <b>unknown</b> (hatched) and not counted.</li>
<li>Baselines replay the requests recorded in the ledger (through epmgr's client or proxy). Requests that did not
go through epmgr are invisible to the replay, which then underestimates what HF's scale to zero would cost.</li>
<li>"Always on" keeps the largest replica count seen in the window running for the whole time the endpoint
existed.</li>
{assumptions}
</ul>
<script>{SCRIPT}</script>
</body></html>
"""
