"""``epmgr simulate`` output: a text table, JSON rows, and a self-contained HTML page (inline SVG, no network).

The HTML page has a Pareto chart (dollars against cold starts: every fixed timeout from 1 min to 2 h as a curve,
each named policy as a point) and a timeline of the first stream (when each policy kept a replica up).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape

from epmgr.report.html import CSS, PALETTE
from epmgr.simulate.billing import percentile
from epmgr.simulate.evaluate import Row
from epmgr.simulate.traces import Stream

CURVE_MINUTES = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120)
"""The fixed timeouts drawn as the Pareto chart's curve."""


def table(rows: Sequence[Row]) -> str:
    """One line per policy, aligned."""
    head = ("policy", "replica-h", "usd", "cold starts", "waited", "p50 s", "p99 s", "x oracle")
    lines = [head]
    for row in rows:
        run = row.run
        lines.append(
            (
                row.policy,
                f"{run.replica_hours:,.1f}",
                f"{row.usd:,.2f}",
                str(run.cold_starts),
                str(len(run.waits)),
                f"{percentile(run.waits, 0.5):.0f}",
                f"{percentile(run.waits, 0.99):.0f}",
                "-" if row.ratio_to_oracle is None else f"{row.ratio_to_oracle:.2f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def _scale(value: float, top: float, size: float) -> float:
    return value / top * size if top > 0 else 0.0


def pareto_svg(rows: Sequence[Row], curve: Sequence[Row]) -> str:
    """Dollars (y) against cold starts (x): the fixed-timeout curve and the named policies."""
    width, height, left, bottom, top_pad = 900, 380, 70, 40, 14
    points = [*rows, *curve]
    max_x = max((r.run.cold_starts for r in points), default=0) * 1.05 or 1.0
    max_y = max((r.usd for r in points), default=0.0) * 1.05 or 1.0
    plot_w, plot_h = width - left - 20, height - bottom - top_pad

    def xy(row: Row) -> tuple[float, float]:
        return left + _scale(row.run.cold_starts, max_x, plot_w), top_pad + plot_h - _scale(row.usd, max_y, plot_h)

    parts = [f'<svg class="chart" id="pareto" width="{width}" height="{height}" role="img">']
    for k in range(5):
        y = top_pad + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">${max_y * k / 4:,.0f}</text>'
        )
        x = left + plot_w * k / 4
        parts.append(
            f'<text x="{x:.1f}" y="{height - 22}" text-anchor="middle" font-size="11">{max_x * k / 4:,.0f}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="12">cold starts</text>'
    )
    if curve:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, curve))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#bbb" stroke-width="2"/>')
        for row in curve:
            x, y = xy(row)
            tip = escape(f"{row.policy}: ${row.usd:,.2f}, {row.run.cold_starts} cold starts")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#999" data-tip="{tip}"/>')
            parts.append(
                f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" font-size="10" fill="#999">{escape(row.policy[6:])}</text>'
            )
    for index, row in enumerate(rows):
        x, y = xy(row)
        color = PALETTE[index % len(PALETTE)]
        tip = escape(f"{row.policy}: ${row.usd:,.2f}, {row.run.cold_starts} cold starts")
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{color}" data-tip="{tip}"/>')
        parts.append(f'<text x="{x + 9:.1f}" y="{y + 4:.1f}" font-size="12">{escape(row.policy)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(rows: Sequence[Row], stream: Stream) -> str:
    """One lane per policy: when it kept a replica up on the first stream (requests drawn as ticks on top)."""
    width, lane, left = 900, 22, 170
    height = lane * (len(rows) + 1) + 30
    start, end = stream.start, max(stream.end, stream.start + 1)
    for row in rows:
        start = min([start, *(s.start for s in row.run.stretches)])

    def x(moment: float) -> float:
        return left + (moment - start) / (end - start) * (width - left - 10)

    parts = [f'<svg class="chart" id="timeline" width="{width}" height="{height}" role="img">']
    for moment in stream.times[:: max(1, len(stream.times) // 2000)]:
        parts.append(f'<line x1="{x(moment):.1f}" x2="{x(moment):.1f}" y1="4" y2="{lane - 4}" stroke="#333"/>')
    parts.append(f'<text x="4" y="{lane - 7}" font-size="12">requests</text>')
    for index, row in enumerate(rows, start=1):
        y = index * lane
        parts.append(f'<text x="4" y="{y + lane - 7}" font-size="12">{escape(row.policy)}</text>')
        color = PALETTE[(index - 1) % len(PALETTE)]
        for stretch in row.run.stretches:
            x0, x1 = x(stretch.start), x(stretch.end)
            tip = escape(f"{row.policy}: up {_clock(stretch.start)} to {_clock(stretch.end)}")
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" height="{lane - 8}" fill="{color}" '
                f'data-tip="{tip}"/>'
            )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11">{_clock(start)}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 6}" font-size="11" text-anchor="end">{_clock(end)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M")


def html(rows: Sequence[Row], curve: Sequence[Row], streams: Sequence[Stream], title: str) -> str:
    """The whole page."""
    body_rows = "".join(
        f"<tr><td>{escape(r.policy)}</td><td>{r.run.replica_hours:,.1f}</td><td>${r.usd:,.2f}</td>"
        f"<td>{r.run.cold_starts}</td><td>{len(r.run.waits)}</td><td>{percentile(r.run.waits, 0.5):.0f}</td>"
        f"<td>{percentile(r.run.waits, 0.99):.0f}</td>"
        f"<td>{'-' if r.ratio_to_oracle is None else f'{r.ratio_to_oracle:.2f}'}</td></tr>"
        for r in rows
    )
    requests = sum(len(s.times) for s in streams)
    first = streams[0] if streams else Stream("none", [], 0.0, 0.0)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
        f'<p class="muted">{len(streams)} stream(s), {requests:,} requests.</p>'
        "<table><tr><th>policy</th><th>replica-h</th><th>usd</th><th>cold starts</th><th>waited</th>"
        f"<th>p50 s</th><th>p99 s</th><th>x oracle</th></tr>{body_rows}</table>"
        "<h2>Cost against cold starts</h2>"
        '<p class="muted">Grey: HF scale to zero after a fixed timeout, 1 min to 2 h. Points: the policies above.</p>'
        f"{pareto_svg(rows, curve)}"
        f"<h2>Timeline of {escape(first.name)}</h2>{timeline_svg(rows, first)}"
        "<script>document.querySelectorAll('[data-tip]').forEach(function(e){var t=document.createElementNS("
        "'http://www.w3.org/2000/svg','title');t.textContent=e.getAttribute('data-tip');e.appendChild(t);});"
        "</script></body></html>"
    )
