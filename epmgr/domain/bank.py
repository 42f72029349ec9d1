"""The cold-start bank: the adaptive keep-alive's cold starts counted against ``scale_to_zero_after`` alone.

The timeout's cold starts are a function of the request times only: a gap that outlasts it (and a daemon tick) ends
in one. The keep-alive's own are replayed: when a gap closes, :func:`replay` runs the keep-alive's rule over it, from
event to event, on the history as it stood during the gap (pure: time passed in). A gap at whose end it was warm and
the timeout alone would not have been is a cold start **saved** (a pre-warm, a keep past the timeout); one where it
stopped before the timeout and a request came within it is one **spent**. An early stop (before the timeout) is
allowed only while the bank holds a cold start: ``CREDIT + saved - spent >= 1``; otherwise the keep-alive waits for
the timeout. So from its first decision on (the daemon's: per process) it never has more than :data:`CREDIT` cold
starts more than the timeout alone (up to the replay's tick: the daemon acts on its ticks, the replay on events).

The replay also bills each gap both ways, so the bank knows the replica-minutes the rule has **saved** against the
timeout alone; a cold start it **owes** (spent more than saved) is repaid from them: the keep-alive keeps warm past
the timeout, for part of those minutes, until a gap ends within such a keep (see
:func:`epmgr.domain.adaptive.adaptive_decision`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from epmgr.domain.model import EndpointState
from epmgr.domain.rules import Decision

if TYPE_CHECKING:
    from epmgr.domain.gaps import GapHistory

CREDIT = 1
"""The bank opens with this many cold starts: the risk of the first early stop (0: none before a cold start saved)."""
SLACK = timedelta(minutes=1)
"""The timeout alone stops at the first daemon tick after it: a gap this close to it is counted against the bank."""

Step = Callable[[EndpointState, datetime | None, datetime, datetime | None, datetime | None], Decision | None]
"""The keep-alive's decision: (state, idle since, now, its last action, when it last came up) -> decision."""
Judge = Callable[["GapHistory", datetime, datetime], "Verdict"]


class Bank:
    """Cold starts saved and spent so far, and the replica-minutes saved (see the module); ``judge`` is set by the
    keep-alive's first decision.

    ``woke_at``: where the replay last had the endpoint start (for ``min_uptime`` and the start-up after it). Gaps
    that closed before a judge was set are not counted.
    """

    def __init__(self) -> None:
        self.saved = 0
        self.spent = 0
        self.minutes = 0.0
        self.rule: object = None
        self.judge: Judge | None = None
        self.woke_at: datetime | None = None

    @property
    def balance(self) -> int:
        """Cold starts banked: what the next early stop may spend."""
        return CREDIT + self.saved - self.spent

    @property
    def owed(self) -> int:
        """Cold starts more than the timeout alone has had (what a keep past it repays)."""
        return max(self.spent - self.saved, 0)

    def describe(self, money: Callable[[float], str]) -> str:
        """``"0 cold starts banked (2 saved, 3 spent, 1 on credit; $0.98 saved against the timeout)"``: ``money``
        states replica-minutes (the decision's own formatter)."""
        minutes = f"{money(abs(self.minutes))} {'saved against' if self.minutes >= 0 else 'spent beyond'} the timeout"
        counts = f"{self.saved} saved, {self.spent} spent, {CREDIT} on credit"
        return f"{max(self.balance, 0)} cold starts banked ({counts}; {minutes})"

    def count(self, history: GapHistory, last: datetime, end: datetime) -> None:
        """Judge the gap from ``last`` to ``end`` (before the history learns it)."""
        if self.judge is not None:
            verdict = self.judge(history, last, end)
            self.saved += verdict.cold_starts > 0
            self.spent += verdict.cold_starts < 0
            self.minutes += verdict.minutes


@dataclass(frozen=True)
class Verdict:
    """A closed gap under the keep-alive's rule against the timeout alone: a cold start saved (+1) or spent (-1) or
    neither (0), and the replica-minutes saved (negative: spent)."""

    cold_starts: int
    minutes: float


def replay(
    step: Step, prewarm_at: Callable[[datetime], datetime | None], bank: Bank, lead: timedelta, timeout: timedelta,
    last: datetime, end: datetime,
) -> Verdict:  # fmt: skip
    """The rule replayed over the gap from ``last`` to ``end``, against the timeout alone.

    ``step`` decides for the state at an instant; ``prewarm_at`` is the next planned pre-warm after an instant. The
    minutes are billed ones: the rule's awake time in the gap (and the start-up of a request that woke it) against
    the timeout's (the gap, or the timeout and a start-up: the tick after the timeout is not counted, so the saving
    is never overstated)."""
    woke, now, handled, asleep, early = bank.woke_at, last, None, False, False
    if woke is not None and now < woke + lead:  # still starting: a request now joins that start
        if end < woke + lead:
            return Verdict(0, 0.0)
        now = woke + lead
    up_since, awake = last, timedelta(0)
    for _ in range(10_000):
        if now >= end:
            break
        if asleep:
            decision = step(EndpointState.SCALED_TO_ZERO, None, now, handled, woke)
            if decision is not None and decision.acts:  # a pre-warm: up one start-up later
                asleep, woke, handled, up_since = False, now, now, now
                now += lead
                continue
            upcoming = prewarm_at(now)
            if upcoming is None or upcoming >= end:
                break
            now = max(upcoming, now + SLACK)
            continue
        idle_from = last if woke is None else max(last, woke)
        decision = step(EndpointState.RUNNING, idle_from, now, handled, woke)
        if decision is not None and decision.acts:  # a stop
            asleep, handled, early = True, now, early or now - last < timeout
            awake += now - up_since
            continue
        if decision is not None and decision.skipped:
            handled = now
        if decision is None or decision.next_at is None:
            break
        now = max(decision.next_at, now + timedelta(seconds=1))
    cold = asleep or (woke is not None and end < woke + lead)
    if asleep:  # the request at ``end`` woke it: its start-up is billed
        bank.woke_at, awake = end, awake + lead
    else:
        awake += end - up_since + (max(woke + lead - end, timedelta(0)) if woke is not None else timedelta(0))
        if woke is not None and woke > last:  # pre-warmed during the gap
            bank.woke_at = woke
    gap = end - last
    alone = gap if gap <= timeout + SLACK else timeout + lead
    minutes = (alone - awake) / timedelta(minutes=1)
    if cold and early and gap <= timeout + SLACK:
        return Verdict(-1, minutes)
    return Verdict(1 if not cold and gap > timeout + SLACK else 0, minutes)
