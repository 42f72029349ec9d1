"""A PNG of the report for chat and email: spend over time per endpoint, and the savings bars (matplotlib).

matplotlib is an optional extra (``pip install 'epmgr[png]'``): it draws text and axes properly, which a
hand-written PNG encoder would not, and most people who want a PNG have it already.
"""

from __future__ import annotations

from pathlib import Path

from epmgr.errors import ConfigError
from epmgr.report.axes import labels_every, spend_buckets
from epmgr.report.data import money
from epmgr.report.html import PALETTE, headline
from epmgr.report.model import CostReport


def write_png(report: CostReport, path: Path) -> None:
    """Draw the report's two main charts into ``path``.

    Raises:
        ConfigError: matplotlib is not installed (the message says how to install it).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError as exc:
        raise ConfigError("--png needs matplotlib: pip install 'epmgr[png]'") from exc

    figure, (days_axis, savings_axis) = pyplot.subplots(
        2, 1, figsize=(10, 7), gridspec_kw={"height_ratios": [3, 2]}, layout="constrained"
    )
    bucket, buckets = spend_buckets(report)
    positions = list(range(len(buckets)))
    bottoms = [0.0] * len(buckets)
    for index, endpoint in enumerate(report.endpoints):
        values = [float(b.spends[index].usd) for b in buckets]
        days_axis.bar(positions, values, bottom=bottoms, label=endpoint.ref.name, color=PALETTE[index % len(PALETTE)])
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    every = labels_every(len(buckets))
    days_axis.set_xticks(positions[::every], [b.label for b in buckets][::every])
    days_axis.set_title(f"Spend per {bucket} (USD)")
    if report.endpoints:
        days_axis.legend(loc="upper left", fontsize=8)
    bars = [("actual (with epmgr)", report.total.usd)] + [(n, c) for n, c, _ in report.savings()]
    names = [name for name, _ in bars][::-1]
    values = [float(value) for _, value in bars][::-1]
    colors = ["#bab0ac"] * (len(bars) - 1) + ["#59a14f"]
    savings_axis.barh(names, values, color=colors)
    for y, (value, (_, exact)) in enumerate(zip(values, bars[::-1], strict=True)):
        savings_axis.text(value, y, " " + money(exact).replace("$", r"\$"), va="center", fontsize=9)
    savings_axis.set_title("This window with epmgr, and under the baselines (USD)")
    figure.suptitle(headline(report).replace("$", r"\$"), fontsize=9, wrap=True)  # "$" starts mathtext
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
