"""The adaptive keep-alive: how long to keep a replica after its last request, priced against a cold start.

:func:`adaptive_decision` reads an endpoint's learned gaps (:class:`~epmgr.domain.gaps.GapHistory`) with ``now``
and picks the keep-warm time ``T`` that minimises the expected cost of the current gap::

    E[min(g, T) - e | g > e] * price  +  P(g > T | g > e) * (start-up * price + cold start price)

where ``e`` is how long it has been idle. A cold start is priced by ``cold_start_usd``, or by default at what the
configured ``scale_to_zero_after`` implies (it minus one start-up: a fixed timeout is the ski-rental rule for that
price). That timeout is also the anchor: a replica is stopped before it only on good evidence that this gap will
outlast it (recent comparable days went quiet at this time of day, :mod:`epmgr.domain.daymap`; or at most
:data:`ANCHOR_RISK` of the gaps of the same context ended before it; within a start-up of it, when none of the gaps
that lasted as long ended before it and a start-up and the Laplace risk ``1 / (n + 2)`` of a restart, priced, is worth
the minutes a stop saves), and kept after it only when most such gaps end within the keep and that is cheaper than a
restart. An early stop names its restart risk and is paid from the cold-start bank (:mod:`epmgr.domain.bank`); the
bank's last cold start only on the strongest evidence (:data:`LAST_CREDIT_RISK`). A cold start owed to the bank is
repaid from the minutes saved: past the anchor the replica is kept warm for part of them (:data:`REPAY_SHARE`) when
enough such gaps end within that keep, so the keep-alive ends level with the timeout's cold starts more often, and
stays cheaper than it. A gap that ends at a predicted periodic burst costs no cold start (the replica is pre-warmed
one start-up ahead). With thin history the ski-rental rule applies (with ``cold_start_usd = 0``, the break-even rule:
one billed start-up).
Pure and deterministic; every decision names its evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from epmgr.domain.bank import Verdict, replay
from epmgr.domain.durations import format_duration
from epmgr.domain.gaps import (
    BINS,
    EDGES,
    MIN_GAP,
    MIN_GAPS,
    MIN_TAIL,
    GapHistory,
    Period,
    lower_edge,
    middle,
    minutes,
    upper_edge,
)
from epmgr.domain.model import ActionKind, EndpointState
from epmgr.domain.policy import AdaptiveKnobs
from epmgr.domain.rules import Decision

__all__ = ["REFERENCE", "GapHistory", "adaptive_decision", "next_prewarm"]

PAST_ANCHOR = 0.5
"""Past ``scale_to_zero_after``, keep warm only when at least this share of such gaps end within the keep."""
ANCHOR_RISK = 0.05
"""Stop before ``scale_to_zero_after`` only when at most this share of such gaps ended before it (Laplace-smoothed)."""
LAST_CREDIT_RISK = 0.1
"""A stop within a start-up of ``scale_to_zero_after`` that would spend the bank's last cold start needs a restart
risk at most this (a void in at least 8 such gaps): once spent, every early stop waits until it is repaid."""
REPAY_SHARE = 0.8
"""Owing the bank a cold start, keep warm past ``scale_to_zero_after`` for at most this share of the replica-minutes
saved so far (so the keep-alive stays cheaper than the timeout alone)..."""
REPAY_ODDS = 0.1
"""... and only when at least this share of such gaps end within that keep (each that does repays one)."""
QUIET = 2.0
"""Stop at once when recent comparable days busy at this time were all quiet for this many ``scale_to_zero_after``."""
REFERENCE = timedelta(minutes=15)
"""The anchor when ``scale_to_zero_after`` is off (HF's own default)."""
_STOP = ActionKind.SCALE_TO_ZERO
_ASLEEP = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})


# -- the decision -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Choice:
    keep: float  # minutes since the gap started: stop then (== idle: stop now)
    cost: float  # expected replica-minutes from now (cold start price included)
    alternative_cost: float  # of the best other choice (keep warm when stopping, stop now when keeping)
    share: float  # of the gaps still open: share that last another start-up (stop) or end within ``keep`` (keep)


def _choose(
    counts: list[float], idle: float, startup: float, cold: float, max_keep: float, ends_prewarmed: float | None,
    at_least: float,
) -> _Choice | None:  # fmt: skip
    """The keep-warm time (minutes since the gap started) of least expected cost; None when too few gaps outlast
    ``idle``. ``ends_prewarmed``: a gap ending this many minutes in or later ends at a pre-warmed burst (no cold start
    price). ``at_least``: keep-warm times below it are not allowed (``max_cold_starts_per_day``)."""
    tail = [b for b in range(BINS) if counts[b] and (b == len(EDGES) or EDGES[b] > idle)]
    total = sum(counts[b] for b in tail)
    if total < MIN_TAIL:
        return None
    penalty = {b: startup + (0.0 if ends_prewarmed is not None and middle(b) >= ends_prewarmed else cold) for b in tail}
    rest = float(total)
    rest_penalty = sum(counts[b] * penalty[b] for b in tail)
    candidates = [(idle, rest_penalty / total, 0.0)] if idle >= at_least else []
    ended = 0.0
    for b in tail:
        upper = float(EDGES[b]) if b < len(EDGES) else float("inf")
        if upper > max_keep:
            break
        ended += counts[b] * (max(middle(b), idle) - idle)
        rest -= counts[b]
        rest_penalty -= counts[b] * penalty[b]
        if upper >= at_least:
            candidates.append((upper, (ended + rest * (upper - idle) + rest_penalty) / total, 1 - rest / total))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: c[1])
    others = [c for c in candidates if (c[0] == idle) != (best[0] == idle)]
    other = min(others, key=lambda c: c[1]) if others else best
    if best[0] > idle:
        return _Choice(best[0], best[1], other[1], best[2])
    outlast = sum(counts[b] for b in tail if middle(b) >= idle + startup) / total
    return _Choice(best[0], best[1], other[1], outlast)


def _fmt(minutes: float) -> str:
    return format_duration(timedelta(seconds=round(minutes * 60)))


def adaptive_decision(
    knobs: AdaptiveKnobs,
    history: GapHistory | None,
    state: EndpointState,
    idle_from: datetime | None,
    now: datetime,
    *,
    lead: timedelta,
    price_per_hour: Decimal | float | None = None,
    handled_at: datetime | None = None,
    awake_since: datetime | None = None,
    min_uptime: timedelta = timedelta(0),
    reference: timedelta = REFERENCE,
) -> Decision | None:
    """What the adaptive keep-alive wants now; None when it has nothing to say (the idle policy's pause applies).

    Args:
        knobs: The policy's knobs (price of a cold start, cap on cold starts a day, longest keep-warm).
        history: The endpoint's gaps (None: nothing learned yet).
        state: The endpoint's state.
        idle_from: When its current idleness began (last request or wake); None: unknown, treated as active.
        now: The decision's instant.
        lead: The billed start-up (the measured cold start): the break-even keep-warm time and the pre-warm lead.
        price_per_hour: Its price, to state costs in dollars and convert ``cold_start_usd`` (None: replica-minutes).
        handled_at: The last keep-alive action or a person's action (one pre-warm per expected burst).
        awake_since: When it last came up, for ``min_uptime``.
        min_uptime: A freshly woken replica is not stopped before this.
        reference: The configured ``scale_to_zero_after`` (the anchor): a replica is stopped before it only when the
            gaps give good evidence; without ``cold_start_usd`` a cold start is priced at what this timeout implies
            (it minus one start-up, in replica-minutes: a fixed timeout is the ski-rental rule for that price).

    Running: keep warm (``NONE``, ``keep_warm``; ``next_at`` is the planned stop, or the first moment before it at
    which the plan changes: nothing needs deciding until then) or stop now
    (``SCALE_TO_ZERO``, ``keepalive_stop``). Asleep: pre-warm (``RESUME``, ``keepalive_prewarm``) one ``lead`` before
    an expected periodic burst, or None.
    """
    if history is not None and knobs.cold_start_usd is None:  # the bank replays the rule in force on each gap
        rule = _Rule(knobs, lead, None if price_per_hour is None else float(price_per_hour), min_uptime, reference)
        if history.bank.rule != rule:
            history.bank.rule, history.bank.judge = rule, partial(_judge, rule)
    return _adaptive(
        knobs, history, state, idle_from, now, lead, price_per_hour, handled_at, awake_since, min_uptime, reference
    )


def _adaptive(
    knobs: AdaptiveKnobs, history: GapHistory | None, state: EndpointState, idle_from: datetime | None,
    now: datetime, lead: timedelta, price_per_hour: Decimal | float | None, handled_at: datetime | None,
    awake_since: datetime | None, min_uptime: timedelta, reference: timedelta,
) -> Decision | None:  # fmt: skip
    period = history.period(lead) if history is not None else None
    if state in _ASLEEP:
        return _prewarm(period, now, lead, handled_at)
    if state != EndpointState.RUNNING or idle_from is None:
        return None
    price = None if price_per_hour is None else float(price_per_hour) / 60
    idle, startup = minutes(max(now - idle_from, timedelta(0))), minutes(lead)
    anchor = minutes(reference)
    cold = max(anchor - startup, 0.0)  # the price of a cold start that a fixed timeout of ``anchor`` implies
    if knobs.cold_start_usd is not None and price:
        cold = float(knobs.cold_start_usd) / price
    decision = _running(knobs, history, period, idle_from, now, idle, startup, cold, lead, price, anchor)
    if decision.action == ActionKind.NONE and decision.next_at is not None:
        replan = _replan_at(decision, knobs, history, period, idle_from, now, cold, lead, price, anchor)
        decision = decision if replan == decision.next_at else replace(decision, next_at=replan)
    if decision.action == ActionKind.SCALE_TO_ZERO and awake_since is not None and now - awake_since < min_uptime:
        woke = format_duration(now - awake_since)
        return replace(
            decision,
            reason=f"{decision.reason}; held back: woke {woke} ago (min_uptime {format_duration(min_uptime)})",
            code="min_uptime",
            skipped=True,
            next_action=ActionKind.SCALE_TO_ZERO,
            next_at=awake_since + min_uptime,
        )
    return decision


def _replan_at(
    plan: Decision, knobs: AdaptiveKnobs, history: GapHistory | None, period: Period | None, idle_from: datetime,
    now: datetime, cold: float, lead: timedelta, price: float | None, anchor: float,
) -> datetime:  # fmt: skip
    """When a keep-warm plan may change before its stop: the first moment (a histogram bin's edge, the anchor, a
    pre-warm moment) at which the decision taken then differs from ``plan``; else the planned stop. This is what a
    caller may wait for without deciding again (the simulator's event-driven stepping; ``epmgr status``)."""
    assert plan.next_at is not None
    idle, stop = minutes(now - idle_from), minutes(plan.next_at - idle_from)
    points = {edge for edge in (*EDGES, anchor, minutes(MIN_GAP)) if idle < edge < stop}
    if history is not None and minutes(MIN_GAP) <= idle < anchor:  # the day map's evidence moves with the clock
        minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while minute < min(plan.next_at, idle_from + timedelta(minutes=anchor)):
            points.add(minutes(minute - idle_from))
            minute += timedelta(minutes=1)
    if period is not None:
        upcoming = period.next_after(now)
        points |= {minutes(t - idle_from) for t in (period.prewarm_at(upcoming, lead), upcoming + period.tolerance)}
    for point in sorted(p for p in points if idle < p < stop):
        later = idle_from + timedelta(minutes=point)
        then = _running(knobs, history, period, idle_from, later, point, minutes(lead), cold, lead, price, anchor)
        if then.action != plan.action or then.next_at != plan.next_at or then.code != plan.code:
            return later
    return plan.next_at


def _running(
    knobs: AdaptiveKnobs, history: GapHistory | None, period: Period | None, idle_from: datetime, now: datetime,
    idle: float, startup: float, cold: float, lead: timedelta, price: float | None, anchor: float,
) -> Decision:  # fmt: skip
    def money(minutes: float) -> str:
        return f"${minutes * price:.2f}" if price else f"{minutes:.1f} replica-minutes"

    def keep(until: float, why: str) -> Decision:
        at = idle_from + timedelta(minutes=until)
        reason = f"keep warm until {at.isoformat(timespec='minutes')}: {why}"
        return Decision(ActionKind.NONE, "keepalive", reason, "keep_warm", next_action=_STOP, next_at=at)

    def stop(why: str) -> Decision:
        bank = None if history is None or knobs.cold_start_usd is not None else history.bank
        if bank is not None and idle < anchor and bank.balance < 1:  # an early stop is paid from the bank
            return keep(anchor, f"early stop held back: {bank.describe(money)} (else: stop now: {why})")
        return Decision(_STOP, "keepalive", f"stop now: {why}", "keepalive_stop")

    max_keep = minutes(knobs.max_keep)
    if period is not None:
        upcoming = period.next_after(now)
        if period.prewarm_at(upcoming, lead) <= now:
            expected = upcoming.isoformat(timespec="minutes")
            return keep(max(idle, minutes(upcoming + period.tolerance - idle_from)), f"burst expected at {expected}, "
                        f"{period.describe()}")  # fmt: skip
    if idle < minutes(MIN_GAP):
        return keep(minutes(MIN_GAP), f"idle for {_fmt(idle)} only (shorter pauses are not idle gaps)")
    if idle >= max_keep:  # a hard cap: not an early stop the bank pays for
        why = f"idle for {_fmt(idle)}, the longest it is kept warm (max_keep {_fmt(max_keep)})"
        return Decision(_STOP, "keepalive", f"stop now: {why}", "keepalive_stop")
    repay = _repay(knobs, history, idle_from, now, idle, anchor, max_keep, money, keep)
    if repay is not None:
        return repay
    quiet = (
        None
        if history is None or idle >= anchor
        else history.days.quiet_after(idle_from, now, QUIET * anchor, lone=history.lone)
    )
    if quiet is not None:
        return stop(f"{quiet.describe()} (scale_to_zero_after {_fmt(anchor)})")
    if history is None or history.gaps < MIN_GAPS:
        seen = f"only {history.gaps if history else 0} idle gaps seen"
        return _rent(idle, startup, cold, seen, keep, stop)
    counts, label = history.histogram(idle_from, now - idle_from)
    at_least = 0.0
    if knobs.max_cold_starts_per_day is not None:
        at_least = _cap(history, knobs.max_cold_starts_per_day, max_keep)
    prewarmed = None if period is None else minutes(period.next_after(now) - idle_from)
    # Past the anchor the fixed timeout would have stopped too: the cold start is conceded, only billing counts.
    choice = _choose(counts, idle, startup, cold if idle < anchor else 0.0, max_keep, prewarmed, at_least)
    if choice is None:
        return _rent(idle, max(startup, at_least), cold, f"longer than all but a few of {label}", keep, stop)
    saving = money(abs(choice.alternative_cost - choice.cost))
    cap = f" (at most {knobs.max_cold_starts_per_day:g} cold starts a day)" if at_least > idle else ""
    near = choice.keep <= idle and anchor - startup <= idle < anchor  # within a start-up of the anchor
    odds = ""
    if near:  # a stop this close to the anchor saves a minute or two: it needs a void in the gaps, priced
        # gaps that ended in the minute before ``idle`` count as ended: a void must be clear of the current gap
        longer, ended = _tail(history.counts, idle - 1, anchor + startup)
        risk, worth = (ended + 1) / (longer + 2), (anchor - idle) / (anchor - idle + startup + cold)
        odds = (
            f"{ended:g} of the last {longer:g} gaps still idle after {_fmt(idle)} ended within {_fmt(anchor + startup)}"
            f" (a restart's risk {risk:.0%}, Laplace); a stop saves {money(anchor - idle)}, a restart costs "
            f"{money(startup + cold)}"
        )  # fmt: skip
        last_credit = knobs.cold_start_usd is None and history.bank.balance == 1 and risk > LAST_CREDIT_RISK
        if not ended and risk < worth:
            if not last_credit:
                return stop(f"{odds}: worth it")
            odds += f": worth it, but not the bank's last cold start (a risk of at most {LAST_CREDIT_RISK:.0%})"
        else:
            odds += ": not worth it"
    restart = ""
    if choice.keep <= idle and idle < anchor and prewarmed is None:
        own, _ = history.histogram(idle_from, now - idle_from, blended=False)
        share = _share_within(own, idle, anchor)
        restart = f"; {share:.0%} may yet end within {_fmt(anchor)} (a restart's risk, Laplace)"
        if share > ANCHOR_RISK and not near:
            why = f"{share:.0%} of {label} still idle after {_fmt(idle)} ended within {_fmt(anchor)}"
            return keep(anchor, f"{why}: too many to stop before scale_to_zero_after")
        if near:  # a stop this close to the anchor saves less than a restart risks
            return keep(anchor, f"within a start-up ({_fmt(startup)}) of scale_to_zero_after: {odds}")
    if choice.keep <= idle:
        why = f"{choice.share:.0%} of {label} still idle after {_fmt(idle)} lasted {_fmt(startup)} more"
        if prewarmed is not None and period is not None:
            why += f"; next burst expected at {period.next_after(now).isoformat(timespec='minutes')}"
        return stop(f"{why}{restart}; expected saving {saving}")
    why = f"{choice.share:.0%} of {label} still idle after {_fmt(idle)} ended within {_fmt(choice.keep)}"
    if idle >= anchor and choice.share < PAST_ANCHOR:
        return stop(f"only {why} (past scale_to_zero_after, kept only when most do)")
    return keep(choice.keep, f"{why}; expected saving {saving} over stopping now{cap}")


@dataclass(frozen=True)
class _Rule:
    """What the bank's replay needs of a decision's inputs (the rule in force)."""

    knobs: AdaptiveKnobs
    lead: timedelta
    price_per_hour: float | None
    min_uptime: timedelta
    reference: timedelta


def _judge(rule: _Rule, history: GapHistory, last: datetime, end: datetime) -> Verdict:
    """The bank's verdict on a gap that closed: this rule replayed over it (:func:`epmgr.domain.bank.replay`)."""

    def step(
        state: EndpointState, idle_from: datetime | None, now: datetime, handled: datetime | None,
        woke: datetime | None,
    ) -> Decision | None:  # fmt: skip
        return _adaptive(
            rule.knobs, history, state, idle_from, now, rule.lead, rule.price_per_hour, handled, woke,
            rule.min_uptime, rule.reference,
        )  # fmt: skip

    def prewarm_at(now: datetime) -> datetime | None:
        planned = next_prewarm(history, now, rule.lead)
        return None if planned is None else planned[1]

    return replay(step, prewarm_at, history.bank, rule.lead, rule.reference, last, end)


def _repay(
    knobs: AdaptiveKnobs, history: GapHistory | None, idle_from: datetime, now: datetime, idle: float, anchor: float,
    max_keep: float, money: Callable[[float], str], keep: Callable[[float, str], Decision],
) -> Decision | None:  # fmt: skip
    """Owing cold starts to the bank, past the anchor: keep warm for part of the minutes saved so far when enough
    such gaps end within that keep (each that does repays one); None otherwise."""
    if history is None or knobs.cold_start_usd is not None or idle < anchor:
        return None
    bank = history.bank
    if not bank.owed or bank.minutes <= 0:
        return None
    until = min(anchor + bank.minutes * REPAY_SHARE, max_keep)
    if idle >= until:
        return None
    counts, label = history.histogram(idle_from, now - idle_from)
    total, ended = _ended_within(counts, idle, until)
    if total < MIN_TAIL:
        return None
    odds = ended / total
    if odds < REPAY_ODDS:
        return None
    return keep(until, (
        f"{bank.owed} cold start{'s' if bank.owed > 1 else ''} more than scale_to_zero_after alone to repay: "
        f"{odds:.0%} of {label} still idle after {_fmt(idle)} ended within {_fmt(until)}; at most "
        f"{money(until - anchor)} of the {money(bank.minutes)} saved so far"
    ))  # fmt: skip


def _tail(counts: list[int], idle: float, limit: float) -> tuple[int, int]:
    """Of the gaps in ``counts``, how many lasted longer than ``idle``, and how many of those ended within ``limit``."""
    tail = [b for b in range(BINS) if counts[b] and upper_edge(b) > idle]
    return sum(counts[b] for b in tail), sum(counts[b] for b in tail if lower_edge(b) < limit)


def _share_within(counts: list[float], idle: float, limit: float) -> float:
    """Of the gaps in ``counts`` longer than ``idle``, the share that ended within ``limit`` minutes, estimated with
    one more of each kind (Laplace), so that a few gaps alone never make it small."""
    total, ended = _ended_within(counts, idle, limit)
    return (ended + 1) / (total + 2)


def _ended_within(counts: list[float], idle: float, limit: float) -> tuple[float, float]:
    """Of the gaps in ``counts``, how many lasted longer than ``idle``, and how many of those ended by ``limit``."""
    tail = [b for b in range(BINS) if counts[b] and upper_edge(b) > idle]
    return sum(counts[b] for b in tail), sum(counts[b] for b in tail if upper_edge(b) <= limit)


def _rent(
    idle: float, startup: float, cold: float, why: str, keep: Callable[[float, str], Decision],
    stop: Callable[[str], Decision],
) -> Decision:  # fmt: skip
    """Without evidence, the ski-rental rule: keep warm as long as one stop costs (the billed start-up plus the price
    of a cold start; with a zero price, the break-even rule), then stop. Never worse than twice the optimum."""
    rent = startup + cold
    rule = f"break-even of one billed start-up ({_fmt(startup)})"
    if cold:
        rule = f"break-even of one billed start-up and a cold start's price ({_fmt(startup)} + {_fmt(cold)})"
    if idle < rent:
        return keep(rent, f"{rule}; {why}")
    return stop(f"idle for {_fmt(idle)}, past the {rule}; {why}")


def _cap(history: GapHistory, per_day: float, max_keep: float) -> float:
    """The shortest keep-warm time (minutes) at which the learned gaps predict at most ``per_day`` cold starts."""
    rate, total = history.gaps_per_day(), history.gaps
    longer = total
    for b in range(BINS):
        longer -= history.counts[b]
        upper = float(EDGES[b]) if b < len(EDGES) else max_keep
        if upper >= max_keep or rate * longer / total <= per_day:
            return min(upper, max_keep)
    return max_keep


def _prewarm(period: Period | None, now: datetime, lead: timedelta, handled_at: datetime | None) -> Decision | None:
    if period is None:
        return None
    upcoming = period.next_after(now)
    start = period.prewarm_at(upcoming, lead)
    if not start <= now <= upcoming + period.tolerance:
        return None
    if handled_at is not None and handled_at >= start - period.tolerance:
        return None
    expected = upcoming.isoformat(timespec="minutes")
    reason = f"pre-warm, {format_duration(upcoming - now)} ahead: next burst expected at {expected}"
    return Decision(ActionKind.RESUME, "keepalive", f"{reason}, {period.describe()}", "keepalive_prewarm")


def next_prewarm(history: GapHistory | None, now: datetime, lead: timedelta) -> tuple[ActionKind, datetime] | None:
    """The next planned pre-warm (one ``lead`` before the next expected burst), for ``epmgr status``."""
    period = history.period(lead) if history is not None else None
    if period is None:
        return None
    upcoming = period.next_after(now)
    at = period.prewarm_at(upcoming, lead)
    if at <= now:  # this burst's pre-warm is due or done: the next one is planned
        at = period.prewarm_at(upcoming + period.every, lead)
    return ActionKind.RESUME, at
