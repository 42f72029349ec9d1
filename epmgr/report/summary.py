"""The report in words: a one-sentence headline a manager understands, and why any saving is negative.

The headline compares the real history with keeping every endpoint running ("always on"), and says how many
requests paid for the saving by waiting for a cold start. A negative figure is never left as a bare minus: each
comes with the reason it is negative, picked from what the report knows (a short window, no recorded requests,
a baseline that made more requests wait).
"""

from __future__ import annotations

from decimal import Decimal

from epmgr.report.axes import extent, span_text
from epmgr.report.data import hours, money, unknown_text
from epmgr.report.model import CostReport

ALWAYS_ON = "always on"


def _percent(part: Decimal, whole: Decimal) -> str:
    return f"{abs(part) / whole * 100:.0f}%" if whole else "-"


def _requests(count: int) -> str:
    return "1 request" if count == 1 else f"{count} requests"


def _waited(count: int) -> str:
    return f"{_requests(count)} waited for a cold start"


def headline(report: CostReport) -> str:
    """``"epmgr saved $X (Y%) against keeping them running; N requests waited for a cold start."`` and caveats."""
    if not report.endpoints:
        return "No endpoints observed in this window."
    total = report.total
    baselines = {name: (cost, saved) for name, cost, saved in report.savings()}
    cost, saved = baselines.get(ALWAYS_ON, (total.usd, Decimal(0)))
    them = "it" if len(report.endpoints) == 1 else "them"
    waited = _waited(report.cold_waits)
    if not cost and not total.usd:
        sentences = [f"Nothing was billed in this window; {waited}."]
    elif saved >= 0:
        sentences = [f"epmgr saved {money(saved)} ({_percent(saved, cost)}) against keeping {them} running; {waited}."]
    else:
        start, end = extent(report)
        sentences = [
            f"epmgr cost {money(-saved)} ({_percent(saved, cost)}) more than keeping {them} running; {waited}. "
            f"Every wake-up bills at least a whole minute of start-up, and {span_text(start, end)} of history is "
            "too short to make that up with idle time saved."
        ]
    sentences.append(f"Spent {money(total.usd)} for {hours(total.replica_minutes)} billed replica-hours.")
    sentences += hf_notes(report)
    blind = [e.ref.name for e in report.endpoints if e.spend.replica_minutes and not e.requests]
    if blind:
        sentences.append(
            f"No requests were recorded for {', '.join(blind)}: their scale-to-zero baselines assume no traffic "
            "(send traffic through epmgr's client or proxy to measure it)."
        )
    if total.unknown:
        sentences.append(
            f"{unknown_text(total.unknown)} of endpoint time was not observed and is not counted, so these figures "
            "are a lower bound of the spend."
        )
    return " ".join(sentences)


def hf_notes(report: CostReport) -> list[str]:
    """One sentence per HF scale-to-zero baseline: what epmgr saved against it, or why it cost more."""
    return [note for name, _, note in baseline_notes(report) if name != ALWAYS_ON]


def _hf_note(report: CostReport, name: str, cost: Decimal, saved: Decimal, theirs: int) -> str:
    label = name.replace("HF scale to zero", "HF's scale to zero")
    if saved >= 0:
        return f"Against {label} ({money(cost)}, {_requests(theirs)} waiting) epmgr saved {money(saved)}."
    return (
        f"{label[0].upper()}{label[1:]} would have cost {money(-saved)} less ({money(cost)}) "
        f"{_why_hf_cheaper(report, theirs)}."
    )


def _why_hf_cheaper(report: CostReport, theirs: int) -> str:
    if not report.requests:
        return "only because no requests were recorded, so its replay assumes no traffic at all"
    ours = report.cold_waits
    if theirs > ours:
        return (
            f"but made {_requests(theirs)} wait for a cold start instead of {ours}: epmgr kept endpoints warm "
            "(schedules, keep-alive, minimum uptime) when requests were due"
        )
    return (
        f"on this traffic ({_requests(theirs)} waiting either way): epmgr's idle timeouts are longer than HF's, "
        "or its minimum uptime kept an endpoint up; shorten scale_to_zero_after to match"
    )


def baseline_notes(report: CostReport) -> list[tuple[str, Decimal, str]]:
    """Per baseline: its name, the saving against it, and a sentence saying so (with the reason when negative)."""
    waits = report.baseline_cold_waits()
    notes = []
    for name, cost, saved in report.savings():
        if name != ALWAYS_ON:
            notes.append((name, saved, _hf_note(report, name, cost, saved, waits.get(name, 0))))
        elif saved >= 0:
            notes.append((name, saved, f"Always on would have cost {money(cost)}: epmgr saved {money(saved)}."))
        else:
            start, end = extent(report)
            notes.append(
                (
                    name,
                    saved,
                    f"Always on would have cost {money(cost)}, {money(-saved)} less than epmgr: every wake-up bills "
                    f"at least a whole minute of start-up, and {span_text(start, end)} of history is too short to "
                    "make that up.",
                )
            )
    return notes


def saving_notes(report: CostReport) -> list[str]:
    """What the savings chart says under it: each baseline's cost, the saving, and the reason for a negative one."""
    return [note for _, _, note in baseline_notes(report)]
