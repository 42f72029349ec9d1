"""The cold-start bank: early stops are paid from cold starts saved against ``scale_to_zero_after`` alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from epmgr.domain.adaptive import REFERENCE, GapHistory, adaptive_decision
from epmgr.domain.bank import CREDIT, Bank, Verdict, replay
from epmgr.domain.model import ActionKind, EndpointState
from epmgr.domain.policy import AdaptiveKnobs
from epmgr.domain.rules import Decision
from epmgr.simulate.engine import Params, simulate
from epmgr.simulate.specs import parse
from epmgr.simulate.traffic import bursts

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
M = timedelta(minutes=1)
LEAD = 4 * M
KNOBS = AdaptiveKnobs()


def decide_at(history: GapHistory, last: datetime, idle: float, knobs: AdaptiveKnobs = KNOBS) -> Decision | None:
    return adaptive_decision(
        knobs, history, EndpointState.RUNNING, last, last + idle * M, lead=LEAD, price_per_hour=Decimal(1),
        reference=REFERENCE,
    )  # fmt: skip


def judged(gaps: list[float], knobs: AdaptiveKnobs = KNOBS) -> tuple[GapHistory, datetime]:
    """A history whose gaps are judged by the keep-alive's rule from the first request on (as the daemon's are)."""
    history, last = GapHistory(), T0
    history.add(last)
    decide_at(history, last, 0, knobs)  # the first decision sets the rule the bank replays
    for gap in gaps:
        last += gap * M
        history.add(last)
    return history, last


def test_an_early_stop_followed_by_a_request_spends_the_credit_and_the_next_one_waits_for_the_timeout() -> None:
    history, last = judged([61.0, 73, 95, 180, 66] * 8)  # 40 gaps over an hour: stopped at once, rightly
    assert (history.bank.saved, history.bank.spent) == (0, 0)
    early = decide_at(history, last, 2)
    assert early is not None and early.action == ActionKind.SCALE_TO_ZERO
    last += 5 * M  # a request 5 minutes in: the timeout alone would have been warm
    history.add(last)
    assert (history.bank.spent, history.bank.balance) == (1, CREDIT - 1)
    held = decide_at(history, last, 2)
    assert held is not None and held.action == ActionKind.NONE and held.next_at == last + REFERENCE
    assert "early stop held back: 0 cold starts banked (0 saved, 1 spent, 1 on credit; " in held.reason
    minutes = history.bank.minutes  # at $1 an hour
    assert f"${abs(minutes) / 60:.2f} {'saved against' if minutes >= 0 else 'spent beyond'} the timeout)" in held.reason
    assert held.reason.split("(else: stop now: ")[1]  # what it would have done is named
    later = decide_at(history, last, REFERENCE / M)  # at the timeout the stop is no longer early: a repay instead
    assert later is not None and later.action == ActionKind.NONE and "to repay" in later.reason


def test_a_cold_start_owed_is_repaid_from_the_minutes_saved_by_a_keep_past_the_timeout() -> None:
    history, last = judged([61.0, 73, 95, 180, 66] * 8)
    saved = history.bank.minutes
    assert saved > 100  # stops at 2 minutes instead of 15 (and a start-up)
    assert decide_at(history, last, 2).action == ActionKind.SCALE_TO_ZERO  # type: ignore[union-attr]
    last += 5 * M  # the stop cost a cold start: owed, and the minutes it cost are counted (the replay stops it once
    history.add(last)  # up from the cold start at ``last``, 4 minutes in, and bills a start-up again: 8 against 5)
    assert (history.bank.owed, history.bank.minutes) == (1, saved - 3)
    keep = decide_at(history, last, REFERENCE / M)
    assert keep is not None and keep.action == ActionKind.NONE
    assert keep.reason.startswith(
        "keep warm until 2026-03-04T17:25+00:00: 1 cold start more than scale_to_zero_after alone to repay: 80% of the "
        "last 41 gaps still idle after 15m ended within 2h; at most $1.75 of the $"
    )  # the keep is capped by max_keep (2h) and by REPAY_SHARE of the minutes saved
    assert decide_at(history, last, 120).action == ActionKind.SCALE_TO_ZERO  # type: ignore[union-attr]
    last += 40 * M  # the next request 40 minutes in: the keep repaid the cold start, at 40 - 15 - 4 minutes
    history.add(last)
    assert (history.bank.owed, history.bank.saved, history.bank.balance) == (0, 1, CREDIT)
    assert history.bank.minutes == saved - 3 - 21
    assert decide_at(history, last, 2).action == ActionKind.SCALE_TO_ZERO  # type: ignore[union-attr]  # early again


def test_no_repay_where_such_gaps_rarely_end_within_the_keep() -> None:
    history, last = judged([1500.0 + 137 * k % 1300 for k in range(40)])  # irregular gaps of a day or two
    assert decide_at(history, last, 2).action == ActionKind.SCALE_TO_ZERO  # type: ignore[union-attr]
    last += 5 * M
    history.add(last)
    assert history.bank.owed == 1 and history.bank.minutes > 0
    at_timeout = decide_at(history, last, REFERENCE / M + 1)
    assert at_timeout is not None and "to repay" not in at_timeout.reason


@pytest.mark.parametrize(
    ("stop_after", "gap", "verdict"),
    [
        (2.0, 61.0, Verdict(0, 13.0)),  # 2 warm minutes and a start-up against 15 and a start-up
        (2.0, 5.0, Verdict(-1, -1.0)),  # a request within the timeout: a cold start spent, 2 + 4 against 5
        (None, 61.0, Verdict(1, -42.0)),  # kept warm throughout: a cold start saved, 61 minutes against 15 + 4
        (20.0, 61.0, Verdict(0, -5.0)),  # kept past the timeout for nothing: 20 + 4 against 15 + 4
    ],
)
def test_a_gap_is_judged_in_cold_starts_and_billed_minutes(
    stop_after: float | None, gap: float, verdict: Verdict
) -> None:
    def step(state: EndpointState, idle_from: datetime | None, now: datetime, *_: datetime | None) -> Decision | None:
        if state != EndpointState.RUNNING or idle_from is None:
            return None
        if stop_after is not None and now - idle_from >= stop_after * M:
            return Decision(ActionKind.SCALE_TO_ZERO, "keepalive", "stop", "keepalive_stop")
        at = None if stop_after is None else idle_from + stop_after * M
        return Decision(ActionKind.NONE, "keepalive", "keep", "keep_warm", next_at=at)

    assert replay(step, lambda _: None, Bank(), LEAD, REFERENCE, T0, T0 + gap * M) == verdict


def test_a_priced_cold_start_is_the_users_choice_and_no_bank_holds_it() -> None:
    knobs = AdaptiveKnobs(cold_start_usd=Decimal("0.1"))
    history, last = judged([61.0, 73, 95, 180, 66] * 8 + [5], knobs)
    assert history.bank.judge is None
    stop = decide_at(history, last, 2, knobs)
    assert stop is not None and stop.action == ActionKind.SCALE_TO_ZERO


def test_pre_warmed_bursts_are_cold_starts_saved() -> None:
    history, _ = judged([120.0] * 12)  # a job every 2 hours: pre-warmed once the period is seen
    assert history.bank.saved >= 6 and history.bank.spent == 0


def test_the_simulated_keep_alive_never_has_more_cold_starts_than_the_timeout_and_the_credit() -> None:
    params = Params(price_per_hour=1.0, startup=240.0, latency=240.0, tick=60.0)
    timeout, policy = parse("fixed:15m").policy, parse("adaptive").policy
    assert timeout is not None and policy is not None
    held = 0
    for seed in (3, 11, 13):  # bursts that paid a cold start more than fixed:15m without the bank
        stream = bursts(seed, 14)
        fixed = simulate(timeout, stream, params)
        adaptive = simulate(policy, stream, params, keep=True, every_decision=True)
        assert adaptive.cold_starts <= fixed.cold_starts + CREDIT
        assert adaptive.billed_minutes < fixed.billed_minutes
        held += sum("early stop held back" in decision.reason for _, decision in adaptive.actions)
    assert held
